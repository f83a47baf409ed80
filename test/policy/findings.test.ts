import assert from "node:assert/strict";
import { test } from "node:test";
import { capabilityDiff, summarizeChanges, withinCeiling } from "../../src/policy/capabilities.ts";
import { analyzeRule } from "../../src/policy/findings.ts";
import { applyOperation } from "../../src/policy/merge.ts";
import type { NetworkRule } from "../../src/policy/schema.ts";
import { policyFrom as load } from "./helpers.ts";

const current = load(`
version: 1
network_policies:
  github_api:
    endpoints:
      - { host: api.github.com, port: 443, protocol: rest, access: read-only }
    binaries: [{ path: /usr/bin/curl }]
`);

function analyze(ruleName: string, rule: NetworkRule) {
  const merged = applyOperation(current, { addRule: { ruleName, rule } });
  if (!merged.ok) throw new Error(merged.error);
  return analyzeRule(ruleName, rule, current, merged.policy);
}

const kinds = (a: ReturnType<typeof analyze>) => a.findings.map((f) => f.kind).sort();

test("a narrow PUT: one write finding, no security notes, and the plain-language summary", () => {
  const a = analyze("put_docs", {
    endpoints: [
      {
        host: "api.github.com",
        port: 443,
        protocol: "rest",
        rules: [{ allow: { method: "PUT", path: "/repos/acme/site/contents/docs/**" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.deepEqual(kinds(a), ["new_write"]);
  assert.equal(
    a.findings.some((f) => f.security),
    false,
  );
  assert.match(
    a.findings[0]?.sentence ?? "",
    /adds write capability PUT \/repos\/acme\/site\/contents\/docs\/\*\* on api\.github\.com:443 via \/usr\/bin\/curl/,
  );
  assert.equal(
    a.summary,
    "Allows /usr/bin/curl to PUT /repos/acme/site/contents/docs/** on api.github.com:443. No other host, method or binary.",
  );
});

test("a narrow GET already covered by the read-only preset adds nothing and has no findings", () => {
  const a = analyze("get_repo", {
    endpoints: [
      {
        host: "api.github.com",
        port: 443,
        protocol: "rest",
        rules: [{ allow: { method: "GET", path: "/repos/acme/site" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.deepEqual(a.findings, []);
  assert.equal(a.summary, "Adds nothing the current policy does not already allow.");
});

test("a narrow GET on a new host: new reach and read, nothing security-flagged", () => {
  const a = analyze("docs", {
    endpoints: [
      {
        host: "docs.example.com",
        port: 443,
        protocol: "rest",
        rules: [{ allow: { method: "GET", path: "/guide/**" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.deepEqual(kinds(a), ["new_reach", "new_read"]);
  assert.equal(
    a.findings.some((f) => f.security),
    false,
  );
});

test("each security note kind", () => {
  const cases: Array<[string, NetworkRule, string]> = [
    [
      "wild",
      { endpoints: [{ host: "*.example.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
      "wildcard_host",
    ],
    [
      "ip",
      { endpoints: [{ host: "10.1.2.3", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
      "private_ip_literal",
    ],
    [
      "internal",
      {
        endpoints: [{ host: "db.corp.example.com", port: 443, allowed_ips: ["10.0.0.0/8"] }],
        binaries: [{ path: "/usr/bin/curl" }],
      },
      "internal_allowed_ips",
    ],
    [
      "pg",
      { endpoints: [{ host: "db.example.com", port: 5432 }], binaries: [{ path: "/usr/bin/psql" }] },
      "database_port",
    ],
    [
      "high",
      { endpoints: [{ host: "dev.example.com", port: 9999 }], binaries: [{ path: "/usr/bin/curl" }] },
      "high_port",
    ],
    [
      "l4gh",
      { endpoints: [{ host: "api.github.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
      "l4_on_inspected_host",
    ],
    [
      "ssh",
      { endpoints: [{ host: "git.example.com", port: 22 }], binaries: [{ path: "/usr/bin/ssh" }] },
      "l7_bypass_binary",
    ],
    [
      "full",
      {
        endpoints: [{ host: "x.example.com", port: 443, protocol: "rest", access: "full" }],
        binaries: [{ path: "/usr/bin/curl" }],
      },
      "full_access",
    ],
  ];
  for (const [name, rule, kind] of cases) {
    const a = analyze(name, rule);
    const f = a.findings.find((x) => x.kind === kind);
    assert.ok(f, `${name}: expected ${kind}, got ${kinds(a).join(",")}`);
    assert.equal(f.security, true, `${kind} is a security finding`);
    assert.ok(f.sentence.length > 10);
  }
});

test("an L4 grant reads as uninspected in the summary", () => {
  const a = analyze("allow_blocked_example_443", {
    endpoints: [{ host: "blocked.example", port: 443 }],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.equal(
    a.summary,
    "Allows /usr/bin/curl to open uninspected connections (any traffic) on blocked.example:443. No other host or binary.",
  );
});

test("capability diff sees a new binary on an existing rule", () => {
  const merged = applyOperation(current, { addBinary: { ruleName: "github_api", path: "/usr/bin/node" } });
  assert.ok(merged.ok);
  if (!merged.ok) return;
  const changes = capabilityDiff(current, merged.policy);
  assert.ok(changes.some((c) => c.kind === "new_reach" && c.binary === "/usr/bin/node"));
  assert.ok(changes.every((c) => c.kind !== "new_write"));
  assert.match(
    summarizeChanges(changes),
    /Allows \/usr\/bin\/node to GET \/\*\*, HEAD \/\*\* and OPTIONS \/\*\* on api\.github\.com:443\./,
  );
});

test("ceiling: inside and outside", () => {
  const ceiling = load(`
version: 1
network_policies:
  github:
    endpoints:
      - { host: api.github.com, port: 443, protocol: rest, access: read-only, rules: [{ allow: { method: PUT, path: "/repos/acme/*/contents/docs/**" } }] }
    binaries: [{ path: /usr/bin/* }]
  registry:
    endpoints: [{ host: registry.npmjs.org, port: 443 }]
    binaries: [{ path: /usr/bin/node }]
`);
  const inside = (rule: NetworkRule) => {
    const merged = applyOperation(current, { addRule: { ruleName: "c", rule } });
    if (!merged.ok) throw new Error(merged.error);
    return withinCeiling(merged.policy, ceiling);
  };
  assert.deepEqual(
    inside({
      endpoints: [
        {
          host: "api.github.com",
          port: 443,
          protocol: "rest",
          rules: [{ allow: { method: "PUT", path: "/repos/acme/site/contents/docs/a.md" } }],
        },
      ],
      binaries: [{ path: "/usr/bin/curl" }],
    }),
    { ok: true },
  );
  assert.deepEqual(
    inside({ endpoints: [{ host: "registry.npmjs.org", port: 443 }], binaries: [{ path: "/usr/bin/node" }] }),
    { ok: true },
  );
  const outside = [
    {
      endpoints: [
        {
          host: "api.github.com",
          port: 443,
          protocol: "rest" as const,
          rules: [{ allow: { method: "PUT", path: "/repos/acme/site/contents/src/a.ts" } }],
        },
      ],
      binaries: [{ path: "/usr/bin/curl" }],
    },
    {
      endpoints: [
        {
          host: "api.github.com",
          port: 443,
          protocol: "rest" as const,
          rules: [{ allow: { method: "PUT", path: "/repos/*/site/contents/docs/a.md" } }],
        },
      ],
      binaries: [{ path: "/usr/bin/curl" }],
    },
    { endpoints: [{ host: "api.github.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
    { endpoints: [{ host: "registry.npmjs.org", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
    { endpoints: [{ host: "evil.example.com", port: 443 }], binaries: [{ path: "/usr/bin/node" }] },
    { endpoints: [{ host: "*.npmjs.org", port: 443 }], binaries: [{ path: "/usr/bin/node" }] },
  ];
  for (const rule of outside) assert.equal(inside(rule).ok, false, JSON.stringify(rule));
});

test("allowed_ips naming one of the host's own addresses is a critical finding", () => {
  const rule: NetworkRule = {
    endpoints: [{ host: "box.example.com", port: 443, allowed_ips: ["192.0.2.2", "10.0.0.0/8"] }],
    binaries: [{ path: "/usr/bin/curl" }],
  };
  const merged = applyOperation(current, { addRule: { ruleName: "box", rule } });
  if (!merged.ok) throw new Error(merged.error);
  const facts = { hostAddresses: ["127.0.0.1", "192.0.2.2", "fd00::2"] };
  const found = analyzeRule("box", rule, current, merged.policy, facts).findings.filter(
    (f) => f.kind === "host_address",
  );
  assert.equal(found.length, 1);
  assert.equal(found[0]?.severity, "critical");
  assert.match(found[0]?.sentence ?? "", /allowed_ips names 192\.0\.2\.2, an address of this host/);
  assert.equal(
    analyzeRule("box", rule, current, merged.policy).findings.filter((f) => f.kind === "host_address").length,
    0,
  );
});

test("children: true is a security note: the binary's descendants get the rule", () => {
  const a = analyze("agent", {
    endpoints: [{ host: "api.anthropic.com", port: 443 }],
    binaries: [{ path: "/usr/bin/claude", children: true }, { path: "/usr/bin/curl" }],
  });
  const note = a.findings.find((f) => f.kind === "children_grant");
  assert.ok(note?.security);
  assert.match(note.sentence, /\/usr\/bin\/claude with children: true/);
  assert.equal(a.findings.filter((f) => f.kind === "children_grant").length, 1);
});

test("a binary glob over every program is a security note", () => {
  const a = analyze("any_binary", {
    endpoints: [{ host: "api.example.com", port: 443 }],
    binaries: [{ path: "/**" }, { path: "/usr/bin/*" }],
  });
  const notes = a.findings.filter((f) => f.kind === "any_binary");
  assert.equal(notes.length, 1, JSON.stringify(a.findings));
  assert.equal(notes[0]?.security, true);
  assert.match(notes[0]?.sentence ?? "", /"\/\*\*" matches every program/);
});

test("a glob naming non-ASCII or spaces is covered by a wider one (requests carry them encoded)", () => {
  const rest = (path: string) =>
    load(`
version: 1
network_policies:
  a:
    endpoints:
      - host: h.example.com
        port: 443
        protocol: rest
        rules: [{ allow: { method: PUT, path: "${path}" } }]
    binaries: [{ path: /usr/bin/curl }]
`);
  assert.deepEqual(capabilityDiff(rest("/café/**"), rest("/café/a b")), []);
  assert.equal(capabilityDiff(rest("/café/**"), rest("/other/x"))[0]?.kind, "new_write");
});

test("the summary says uninspected only for L4: access: full at L7 is still inspected", () => {
  const full = analyze("full_l7", {
    endpoints: [{ host: "api.example.com", port: 443, protocol: "rest", access: "full" }],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.doesNotMatch(full.summary, /uninspected/);
  assert.match(full.summary, /send any request \(each one inspected and logged\) on api\.example\.com:443/);
  const raw = analyze("raw_l4", {
    endpoints: [{ host: "api.example.com", port: 443 }],
    binaries: [{ path: "/usr/bin/curl" }],
  });
  assert.match(raw.summary, /open uninspected connections \(any traffic\) on api\.example\.com:443/);
});

test("withinCeiling: a glob is inside only when the ceiling contains it, never by its sample path", () => {
  const within = (ceilingEndpoint: string, path: string) => {
    const ceiling = load(
      `version: 1\nnetwork_policies:\n  c:\n    endpoints: [${ceilingEndpoint}]\n    binaries: [{ path: /usr/bin/curl }]\n`,
    );
    const candidate = load(
      `version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: api.github.com, port: 443, protocol: rest, rules: [{ allow: { method: GET, path: "${path}" } }] }]\n    binaries: [{ path: /usr/bin/curl }]\n`,
    );
    return withinCeiling(candidate, ceiling).ok;
  };
  const rest = (more: string) => `{ host: api.github.com, port: 443, protocol: rest, ${more} }`;
  assert.equal(
    within(rest(`rules: [{ allow: { method: GET, path: "/repos/acme/*/*" } }]`), "/repos/acme/**"),
    false,
  );
  assert.equal(
    within(rest(`rules: [{ allow: { method: GET, path: "/repos/acme/**" } }]`), "/repos/acme/docs/**"),
    true,
  );
  const denies = rest(`access: read-only, deny_rules: [{ path: "/repos/*/*/rulesets/**" }]`);
  assert.equal(within(denies, "/repos/**"), false, "the ceiling takes part of it back");
  assert.equal(within(denies, "/repos/acme/site/readme"), true, "one exact request: the engine decides it");
  assert.equal(within(denies, "/users/**"), true, "no deny can overlap it");
  assert.equal(within(rest(`access: read-only, enforcement: audit`), "/anything/**"), true);
});

test("withinCeiling: a binary glob is inside only when a ceiling glob contains it", () => {
  const rule = (binary: string) =>
    load(
      `version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: registry.npmjs.org, port: 443 }]\n    binaries: [{ path: "${binary}" }]\n`,
    );
  const within = (candidate: string, ceiling: string) => withinCeiling(rule(candidate), rule(ceiling)).ok;
  assert.equal(
    within("/usr/**", "/usr/*/*"),
    false,
    "its sample /usr/airlock-any/airlock-any proves nothing",
  );
  assert.equal(within("/**", "/*/*"), false);
  assert.equal(within("/usr/bin/node*", "/usr/bin/*"), true);
  assert.equal(within("/usr/bin/node", "/usr/bin/*"), true);
});
