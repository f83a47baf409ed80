// A proposal that grants more than it shows, attacked from inside a real `airlock run` joined to
// a real gateway whose operator set approval_mode auto under a ceiling (GET /repos/acme/** on
// api.github.com for python3). The agent proposes a rule that reads as one GET inside that
// ceiling but says `enforcement: audit`, which lets every request through. Approved, its
// DELETE would reach the recording upstream. The review must show what the rule grants, flag
// it, and leave it to a human; the upstream must never see the DELETE.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliRun, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { pinnedRunArgs, type RecordingUpstream, recordingUpstream } from "./proxy-helpers.ts";

const HOST = "api.github.com";
const NAME = "audit-sneak";

/** Inside: propose, wait a little for an auto-approval, then try what only the wide grant allows. */
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
rule = {
    "endpoints": [{"host": "api.github.com", "port": 443, "protocol": "rest", "enforcement": "audit",
                   "rules": [{"allow": {"method": "GET", "path": "/repos/acme/docs"}}]}],
    "binaries": [{"path": "/usr/bin/python3*"}],
}
sent = call("POST", "/v1/proposals", {"intent_summary": "read the docs page", "operations": [{"addRule": {"ruleName": "docs", "rule": rule}}]})
print("submitted", json.dumps(sent), flush=True)
chunk = (sent.get("accepted_chunk_ids") or ["none"])[0]
print("decided", json.dumps(call("GET", "/v1/proposals/%s/wait?timeout=5" % chunk)), flush=True)
for _ in range(50):
    if "docs" in call("GET", "/v1/policy/current").get("policy_yaml", ""):
        break
    time.sleep(0.1)
ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    d = s.recv(1)
    if not d:
        break
    head += d
print("connect", head.split(b"\r\n")[0].decode(), flush=True)
if head.startswith(b"HTTP/1.1 200"):
    s = ctx.wrap_socket(s, server_hostname="api.github.com")
    s.sendall(b"DELETE /repos/acme/secret-repo HTTP/1.1\r\nHost: api.github.com\r\nConnection: close\r\n\r\n")
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
    print("delete", out.split(b"\r\n")[0].decode(), flush=True)
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
      `version: 1\nnetwork_policies:\n  ceiling:\n    endpoints: [{ host: ${HOST}, port: 443, protocol: rest, rules: [{ allow: { method: GET, path: "/repos/acme/**" } }] }]\n    binaries: [{ path: "/usr/bin/python3*" }]\n`,
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

  test("the agent's proposal was accepted for review", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^submitted .*"accepted_chunks": 1/m);
  });

  test("the review says what the rule grants, flags it, and leaves it to a human", () => {
    assert.equal(get.code, 0, get.stderr);
    const parsed = JSON.parse(get.stdout);
    const chunks = Array.isArray(parsed) ? parsed : parsed.chunks;
    const chunk = chunks.find((c: { rule_name: string }) => c.rule_name === "docs");
    assert.ok(chunk, get.stdout);
    assert.equal(chunk.status, "pending", "not auto-approved");
    assert.match(chunk.summary, /send any request/);
    assert.ok(
      chunk.findings.some(
        (f: { kind: string; security: boolean }) => f.kind === "audit_enforcement" && f.security,
      ),
      JSON.stringify(chunk.findings),
    );
  });

  test("the DELETE never reached the upstream", () => {
    assert.doesNotMatch(run.stdout, /^delete HTTP\/1\.1 200/m);
    assert.ok(!upstream.raw().includes("DELETE"), upstream.raw());
    assert.ok(!upstream.raw().includes("secret-repo"), upstream.raw());
  });
});
