import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy, decideConnect } from "../../src/policy/engine.ts";
import { formatProblem, loadPolicyText } from "../../src/policy/load.ts";

/** Wraps one endpoint (at line 5) in a valid rule so each case varies one thing. */
function endpoint(lines: string): string {
  return `version: 1
network_policies:
  r:
    endpoints:
${lines
  .trim()
  .split("\n")
  .map((l, i) => `${i === 0 ? "      - " : "        "}${l}`)
  .join("\n")}
    binaries: [{ path: /usr/bin/curl }]
`;
}

const cases: Array<{ name: string; yaml: string; line: number; message: RegExp }> = [
  {
    name: "port too large",
    yaml: endpoint("host: a.example.com\nport: 70000"),
    line: 6,
    message: /network_policies\.r\.endpoints\[0\]\.port: must be 1\.\.65535, got 70000/,
  },
  {
    name: "port zero",
    yaml: endpoint("host: a.example.com\nport: 0"),
    line: 6,
    message: /must be 1\.\.65535, got 0/,
  },
  {
    name: "port as string",
    yaml: endpoint('host: a.example.com\nport: "443"'),
    line: 6,
    message: /expected number, got string "443"/,
  },
  {
    name: "port fractional",
    yaml: endpoint("host: a.example.com\nport: 44.3"),
    line: 6,
    message: /must be 1\.\.65535, got 44\.3/,
  },
  {
    name: "no port",
    yaml: endpoint("host: a.example.com"),
    line: 5,
    message: /endpoint needs port or ports/,
  },
  {
    name: "port and ports",
    yaml: endpoint("host: a.example.com\nport: 443\nports: [443]"),
    line: 7,
    message: /give port or ports, not both/,
  },
  {
    name: "empty ports",
    yaml: endpoint("host: a.example.com\nports: []"),
    line: 6,
    message: /ports: needs at least one port/,
  },
  {
    name: "bare star host",
    yaml: endpoint('host: "*"\nport: 443'),
    line: 5,
    message: /bare "\*" would match every host/,
  },
  { name: "bare double star host", yaml: endpoint('host: "**"\nport: 443'), line: 5, message: /bare "\*\*"/ },
  {
    name: "public suffix wildcard",
    yaml: endpoint('host: "*.com"\nport: 443'),
    line: 5,
    message: /public suffix "com"/,
  },
  {
    name: "two-level public suffix wildcard",
    yaml: endpoint('host: "**.co.uk"\nport: 443'),
    line: 5,
    message: /public suffix "co\.uk"/,
  },
  {
    name: "wildcard in the middle",
    yaml: endpoint('host: "api.*.example.com"\nport: 443'),
    line: 5,
    message: /whole first label/,
  },
  {
    name: "partial label wildcard",
    yaml: endpoint('host: "api-*.example.com"\nport: 443'),
    line: 5,
    message: /whole first label/,
  },
  {
    name: "bad label",
    yaml: endpoint("host: bad_host!.example.com\nport: 443"),
    line: 5,
    message: /not a valid DNS label/,
  },
  {
    name: "unknown protocol",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: grpc"),
    line: 7,
    message: /must be "rest", or "tcp" or omitted for L4, got "grpc"/,
  },
  {
    name: "access without rest",
    yaml: endpoint("host: a.example.com\nport: 443\naccess: read-only"),
    line: 7,
    message: /access needs protocol: rest/,
  },
  {
    name: "rules without rest",
    yaml: endpoint("host: a.example.com\nport: 443\nrules:\n  - allow: { method: GET, path: / }"),
    line: 7,
    message: /rules needs protocol: rest/,
  },
  {
    name: "deny_rules without rest",
    yaml: endpoint("host: a.example.com\nport: 443\ndeny_rules:\n  - { path: /x }"),
    line: 7,
    message: /deny_rules needs protocol: rest/,
  },
  {
    name: "rest without access or rules",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: rest"),
    line: 7,
    message: /protocol: rest needs access or rules/,
  },
  {
    name: "empty rules",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: rest\nrules: []"),
    line: 8,
    message: /rules: \[\] allows nothing/,
  },
  {
    name: "bad access",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: rest\naccess: everything"),
    line: 8,
    message: /must be read-only, read-write or full, got "everything"/,
  },
  {
    name: "bad method",
    yaml: endpoint(
      'host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: "GET /x", path: /x }',
    ),
    line: 9,
    message: /allow\.method: must be an HTTP method or "\*", got "GET \/x"/,
  },
  {
    name: "relative path glob",
    yaml: endpoint(
      "host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET, path: x/** }",
    ),
    line: 9,
    message: /must be absolute \(start with \/\)/,
  },
  {
    name: "dot segment in glob",
    yaml: endpoint(
      "host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET, path: /a/../b }",
    ),
    line: 9,
    message: /must not contain \. or \.\. segments/,
  },
  {
    name: "encoded glob",
    yaml: endpoint(
      "host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET, path: /a%2Fb }",
    ),
    line: 9,
    message: /must be written decoded/,
  },
  {
    name: "allow missing path",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET }"),
    line: 9,
    message: /allow\.path: is required/,
  },
  {
    name: "query matcher of wrong type",
    yaml: endpoint(
      "host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET, path: /s, query: { q: 5 } }",
    ),
    line: 9,
    message: /must be a glob string or \{ any: \[globs\] \}/,
  },
  {
    name: "empty any",
    yaml: endpoint(
      "host: a.example.com\nport: 443\nprotocol: rest\nrules:\n  - allow: { method: GET, path: /s, query: { q: { any: [] } } }",
    ),
    line: 9,
    message: /any|glob/,
  },
  {
    name: "allowed_ips not an address",
    yaml: endpoint("host: a.example.com\nport: 443\nallowed_ips: [10.0.0.0/33]"),
    line: 7,
    message: /"10\.0\.0\.0\/33" is not an IP address or CIDR/,
  },
  {
    name: "allowed_ips loopback",
    yaml: endpoint("host: a.example.com\nport: 443\nallowed_ips: [127.0.0.1]"),
    line: 7,
    message: /overlaps loopback space/,
  },
  {
    name: "allowed_ips covering link-local",
    yaml: endpoint("host: a.example.com\nport: 443\nallowed_ips: [169.0.0.0/8]"),
    line: 7,
    message: /overlaps link-local space/,
  },
  {
    name: "allowed_ips everything",
    yaml: endpoint("host: a.example.com\nport: 443\nallowed_ips: [0.0.0.0/0]"),
    line: 7,
    message: /overlaps unspecified space/,
  },
  {
    name: "allowed_ips ipv6 loopback",
    yaml: endpoint('host: a.example.com\nport: 443\nallowed_ips: ["::/0"]'),
    line: 7,
    message: /always blocked/,
  },
  {
    name: "tls skip with rest",
    yaml: endpoint("host: a.example.com\nport: 443\nprotocol: rest\naccess: full\ntls: skip"),
    line: 9,
    message: /tls: skip cannot be inspected/,
  },
  {
    name: "unknown endpoint key",
    yaml: endpoint("host: a.example.com\nport: 443\nacess: read-only"),
    line: 7,
    message: /endpoints\[0\]\.acess: unknown key "acess"/,
  },
  {
    name: "relative binary",
    yaml: "version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: a.example.com, port: 443 }]\n    binaries:\n      - path: curl\n",
    line: 6,
    message: /binary path must be absolute \(glob allowed\), got "curl"/,
  },
  {
    name: "binary with dot-dot",
    yaml: "version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: a.example.com, port: 443 }]\n    binaries:\n      - path: /usr/../bin/sh\n",
    line: 6,
    message: /binary path must be absolute/,
  },
  {
    name: "no endpoints",
    yaml: "version: 1\nnetwork_policies:\n  r:\n    endpoints: []\n",
    line: 4,
    message: /a rule needs at least one endpoint/,
  },
  {
    name: "bad rule key",
    yaml: 'version: 1\nnetwork_policies:\n  "bad key!":\n    endpoints: [{ host: a.example.com, port: 443 }]\n',
    line: 3,
    message: /rule key "bad key!" must be letters/,
  },
  { name: "wrong version", yaml: "version: 2\n", line: 1, message: /version: must be 1, got 2/ },
  { name: "missing version", yaml: "network_policies: {}\n", line: 1, message: /version: is required/ },
  {
    name: "unknown top-level key",
    yaml: "version: 1\nnetwork_policy: {}\n",
    line: 2,
    message: /unknown key "network_policy"/,
  },
  {
    name: "duplicate rule key",
    yaml: "version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: a.example.com, port: 443 }]\n  r:\n    endpoints: [{ host: b.example.com, port: 443 }]\n",
    line: 5,
    message: /duplicate key "r"/,
  },
  {
    name: "read_write root",
    yaml: "version: 1\nfilesystem_policy:\n  read_write: [/]\n",
    line: 3,
    message: /read_write must not be \//i,
  },
  {
    name: "read_write on the sandbox's /proc",
    yaml: "version: 1\nfilesystem_policy:\n  read_write:\n    - /tmp/ok\n    - /proc\n",
    line: 5,
    message:
      /filesystem_policy\.read_write\[1\]: read_write must not be in \/proc \(the sandbox's own kernel filesystem\), got "\/proc"/,
  },
  {
    name: "read_write under /sys",
    yaml: "version: 1\nfilesystem_policy:\n  read_write: [/sys/fs/cgroup]\n",
    line: 3,
    message: /read_write must not be in \/sys/,
  },
  {
    name: "read_write under /dev",
    yaml: "version: 1\nfilesystem_policy:\n  read_write: [/dev/shm, /dev/kvm]\n",
    line: 3,
    message: /read_write must not be in \/dev/,
  },
  {
    name: "read_only over the sandbox's /proc",
    yaml: "version: 1\nfilesystem_policy:\n  read_only: [/proc/1]\n",
    line: 3,
    message: /read_only must not be in \/proc/,
  },
  {
    name: "relative read_only",
    yaml: "version: 1\nfilesystem_policy:\n  read_only: [usr]\n",
    line: 3,
    message: /path must be absolute or start with ~\/, got "usr"/,
  },
  {
    name: "dot-dot in deny",
    yaml: "version: 1\nfilesystem_policy:\n  deny: [/home/../etc]\n",
    line: 3,
    message: /must not contain ".."/,
  },
  {
    name: "include_workdir not a boolean",
    yaml: "version: 1\nfilesystem_policy:\n  include_workdir: yes please\n",
    line: 3,
    message: /expected boolean/,
  },
  {
    name: "run_as_user negative",
    yaml: "version: 1\nprocess:\n  run_as_user: -1\n",
    line: 3,
    message: /must be a uid number or a user name/,
  },
  { name: "not a mapping", yaml: "- just\n- a list\n", line: 1, message: /must be a YAML mapping/ },
  {
    name: "yaml syntax error",
    yaml: "version: 1\nnetwork_policies:\n  r: [unclosed\n",
    line: 4,
    message: /./,
  },
];

for (const c of cases) {
  test(`invalid policy: ${c.name}`, () => {
    const loaded = loadPolicyText(c.yaml, "bad.yaml");
    assert.equal(loaded.ok, false, `expected ${c.name} to be rejected`);
    if (loaded.ok) return;
    const lines = loaded.errors.map(formatProblem);
    const hit = loaded.errors.find((e) => c.message.test(formatProblem(e)));
    assert.ok(hit, `no error matched ${c.message}; got:\n${lines.join("\n")}`);
    assert.equal(hit.line, c.line, `wrong line for ${c.name}: ${formatProblem(hit)}`);
    assert.equal(hit.file, "bad.yaml");
  });
}

test("several errors are reported together, in file order", () => {
  const loaded = loadPolicyText(
    endpoint("host: '*'\nport: 70000\nprotocol: rest\naccess: all\nextra: 1"),
    "many.yaml",
  );
  assert.equal(loaded.ok, false);
  if (loaded.ok) return;
  const text = loaded.errors.map(formatProblem).join("\n");
  for (const expected of [
    /host: bare "\*"/,
    /port: must be 1\.\.65535/,
    /access: must be read-only/,
    /unknown key "extra"/,
  ]) {
    assert.match(text, expected);
  }
  const lines = loaded.errors.map((e) => e.line);
  assert.deepEqual(
    lines,
    [...lines].sort((a, b) => a - b),
  );
});

test("OpenShell sections load with warnings, not silently", () => {
  const loaded = loadPolicyText(
    `version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr]
landlock:
  compatibility: best_effort
process:
  run_as_user: sandbox
  run_as_group: sandbox
network_policies:
  claude_code:
    name: claude_code
    endpoints:
      - { host: api.anthropic.com, port: 443 }
  github:
    name: github-api
    endpoints:
      - host: api.github.com
        port: 443
        protocol: rest
        enforcement: enforce
        access: read-only
    binaries:
      - { path: /usr/bin/gh, harness: true }
network_middlewares: {}
`,
    "openshell.yaml",
  );
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const text = loaded.warnings.map(formatProblem).join("\n");
  assert.match(text, /openshell\.yaml:5:1: landlock: accepted for OpenShell compatibility but not enforced/);
  assert.match(text, /network_middlewares: accepted for OpenShell compatibility/);
  assert.match(text, /network_policies\.claude_code: lists no binaries, so it allows nothing/);
  assert.match(text, /harness: deprecated OpenShell flag; ignored/);
});

test("OpenShell's protocol: tcp loads as L4, with a warning; a binary glob over everything is warned about", () => {
  const loaded = loadPolicyText(
    `version: 1
network_policies:
  db:
    endpoints:
      - { host: db.example.com, port: 5432, protocol: tcp }
    binaries:
      - { path: "/**" }
      - { path: /usr/bin/psql }
`,
    "tcp.yaml",
  );
  assert.ok(loaded.ok, JSON.stringify(loaded));
  const text = loaded.warnings.map(formatProblem).join("\n");
  assert.match(
    text,
    /tcp\.yaml:5:\d+: network_policies\.db\.endpoints\[0\]\.protocol: OpenShell's plain TCP: loaded as an L4 endpoint/,
  );
  assert.match(text, /tcp\.yaml:7:\d+: .*binaries\[0\]\.path: "\/\*\*" matches every binary/);
  assert.doesNotMatch(text, /psql/);
  const decision = decideConnect(compilePolicy(loaded.value), "db.example.com", 5432, {
    binary: "/usr/bin/psql",
  });
  assert.equal(decision.decision, "allow");
  assert.equal(decision.decision === "allow" && decision.inspect, false);
});
