// Proposals that grant more than they show, attacked from inside a real `airlock run` joined to
// a real gateway whose operator set approval_mode auto under a ceiling (read-only on
// api.github.com for python3, but no repository's rulesets). The agent proposes a rule that
// reads as one GET inside that ceiling but says `enforcement: audit` (every request goes
// through), and a `GET /repos/**` whose sample path lies inside the ceiling though the glob
// also covers the rulesets it denies. Auto-approved, the DELETE and the rulesets GET would
// reach the recording upstream. Review must see through both and leave them to a human.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliRun, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { pinnedRunArgs, type RecordingUpstream, recordingUpstream } from "./proxy-helpers.ts";

const HOST = "api.github.com";
const NAME = "audit-sneak";

/** Inside: propose both, wait a little for an auto-approval, then try what only the wide grants allow. */
const AGENT = String.raw`
import json, os, socket, ssl, time, urllib.request
proxy = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://127.0.0.1:3128"}))
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://policy.local" + path, data=data, method=method)
    try:
        return json.loads(proxy.open(request).read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())
def endpoint(**extra):
    return dict({"host": "api.github.com", "port": 443, "protocol": "rest"}, **extra)
proposals = {
    # Reads as one GET inside the ceiling; lets every request through.
    "docs": endpoint(enforcement="audit", rules=[{"allow": {"method": "GET", "path": "/repos/acme/docs"}}]),
    # Its sample path falls inside the ceiling; the glob also covers what the ceiling denies.
    "repos": endpoint(rules=[{"allow": {"method": "GET", "path": "/repos/**"}}]),
}
for name, ep in proposals.items():
    rule = {"endpoints": [ep], "binaries": [{"path": "/usr/bin/python3*"}]}
    sent = call("POST", "/v1/proposals", {"intent_summary": "read " + name, "operations": [{"addRule": {"ruleName": name, "rule": rule}}]})
    print("submitted", name, json.dumps(sent), flush=True)
    chunk = (sent.get("accepted_chunk_ids") or ["none"])[0]
    print("decided", name, json.dumps(call("GET", "/v1/proposals/%s/wait?timeout=4" % chunk)), flush=True)
for _ in range(30):
    current = call("GET", "/v1/policy/current").get("policy_yaml", "")
    if "docs" in current and "repos" in current:
        break
    time.sleep(0.1)
ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
def attempt(name, request):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    if not head.startswith(b"HTTP/1.1 200"):
        print(name, head.split(b"\r\n")[0].decode(), flush=True)
        return
    s = ctx.wrap_socket(s, server_hostname="api.github.com")
    s.sendall(request)
    out = b""
    s.settimeout(5)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except Exception:
        pass
    print(name, out.split(b"\r\n")[0].decode(), flush=True)
attempt("delete", b"DELETE /repos/acme/secret-repo HTTP/1.1\r\nHost: api.github.com\r\nConnection: close\r\n\r\n")
attempt("rulesets", b"GET /repos/acme/site/rulesets/7 HTTP/1.1\r\nHost: api.github.com\r\nConnection: close\r\n\r\n")
`;

describe("a proposal that grants more than it shows", () => {
  let dir: string;
  let home: string;
  let upstream: RecordingUpstream;
  let run: CliRun;
  let get: CliRun;
  before(async () => {
    dir = scratchDir("sec-proposals");
    home = join(dir, "home");
    upstream = await recordingUpstream([HOST], dir);
    const ceiling = join(dir, "ceiling.yaml");
    writeFileSync(
      ceiling,
      `version: 1\nnetwork_policies:\n  ceiling:\n    endpoints: [{ host: ${HOST}, port: 443, protocol: rest, access: read-only, deny_rules: [{ path: "/repos/*/*/rulesets/**" }] }]\n    binaries: [{ path: "/usr/bin/python3*" }]\n`,
    );
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, "version: 1\nnetwork_policies: {}\n");
    const started = await runCli(["gateway", "start", "--ceiling", ceiling], { airlockHome: home });
    assert.equal(started.code, 0, started.stderr);
    const auto = await runCli(["settings", "set", "approval_mode", "auto"], { airlockHome: home });
    assert.equal(auto.code, 0, auto.stderr);
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "agent.py"), AGENT);
    run = await runCli(
      [
        "run",
        "--name",
        NAME,
        "--enable-proposals",
        ...pinnedRunArgs(policy, [[HOST, 443, upstream]], upstream),
        "--workdir",
        wd,
        "--",
        "/usr/bin/python3",
        "agent.py",
      ],
      { airlockHome: home, gateway: true, timeoutMs: 90_000 },
    );
    get = await runCli(["rule", "get", NAME, "--json"], { airlockHome: home });
  });
  after(async () => {
    await runCli(["gateway", "stop"], { airlockHome: home });
    await upstream?.close();
    removeDir(dir);
  });

  const chunk = (name: string) => {
    const parsed = JSON.parse(get.stdout);
    const chunks = Array.isArray(parsed) ? parsed : parsed.chunks;
    return chunks.find((c: { rule_name: string }) => c.rule_name === name);
  };

  test("the agent's proposals were accepted for review", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^submitted docs .*"accepted_chunks": 1/m);
    assert.match(run.stdout, /^submitted repos .*"accepted_chunks": 1/m);
    assert.equal(get.code, 0, get.stderr);
  });

  test("enforcement: audit is reviewed as every request, flagged, and left to a human", () => {
    const docs = chunk("docs");
    assert.ok(docs, get.stdout);
    // Pending, or superseded by the wider proposal after it: never approved.
    assert.notEqual(docs.status, "approved", JSON.stringify(docs));
    assert.match(docs.summary, /send any request/);
    assert.ok(
      docs.findings.some(
        (f: { kind: string; security: boolean }) => f.kind === "audit_enforcement" && f.security,
      ),
      JSON.stringify(docs.findings),
    );
  });

  test("a glob the ceiling does not contain is left to a human, whatever its sample path", () => {
    const repos = chunk("repos");
    assert.ok(repos, get.stdout);
    assert.equal(repos.status, "pending", JSON.stringify(repos));
  });

  test("neither the DELETE nor the denied GET reached the upstream", () => {
    assert.doesNotMatch(run.stdout, /^(delete|rulesets) HTTP\/1\.1 200/m);
    const raw = upstream.raw();
    for (const never of ["DELETE", "secret-repo", "rulesets"]) assert.ok(!raw.includes(never), raw);
  });
});
