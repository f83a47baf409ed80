// `airlock run` end to end: the real CLI, real bubblewrap, the embedded proxy, curl/node/python
// inside, and a fake api.github.com on loopback reached through --connect-to/--upstream-ca.
import assert from "node:assert/strict";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { allLogLines, type FakeGithub, fakeGithub, REPO, runCli } from "./cli-helpers.ts";
import { removeDir, scratchDir } from "./helpers.ts";

const POLICY = join(REPO, "examples", "policies", "github-readonly.yaml");
/** This node, as the kernel names it (the sandbox sees the host's / read-only, same paths). */
const NODE = realpathSync(process.execPath);

describe("airlock run with the github-readonly policy", () => {
  let dir: string;
  let home: string;
  let gh: FakeGithub;
  let base: string[];
  before(async () => {
    dir = scratchDir("e2e");
    home = join(dir, "airlock-home");
    gh = await fakeGithub(dir);
    base = [
      "run",
      "--policy",
      POLICY,
      "--connect-to",
      `api.github.com:443:127.0.0.1:${gh.port}`,
      "--upstream-ca",
      gh.caFile,
    ];
  });
  after(async () => {
    await gh.close();
    removeDir(dir);
  });

  test("a PUT gets the structured 403, a GET goes through", async () => {
    const wd = join(dir, "wd1");
    mkdirSync(wd);
    const run = await runCli(
      [
        ...base,
        "--enable-proposals",
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        "curl -s -X PUT -d '{}' https://api.github.com/repos/o/r/contents/x.md?ref=secret-ref; echo; " +
          "curl -s https://api.github.com/repos/o/r; echo",
      ],
      { airlockHome: home },
    );
    assert.equal(run.code, 0, run.stderr);
    const [denied, allowed] = run.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l));
    assert.equal(denied.error, "policy_denied");
    assert.equal(denied.layer, "l7");
    assert.equal(denied.protocol, "rest");
    assert.equal(denied.method, "PUT");
    assert.equal(denied.path, "/repos/o/r/contents/x.md");
    assert.equal(denied.host, "api.github.com");
    assert.equal(denied.port, 443);
    assert.equal(denied.binary, "/usr/bin/curl");
    assert.equal(denied.policy, "github_api");
    assert.equal(denied.rule_missing.type, "rest_allow");
    assert.ok(denied.next_steps.length > 0, "proposals enabled: next steps offered");
    assert.deepEqual(allowed, { fake: "api.github.com", method: "GET", path: "/repos/o/r" });
    assert.deepEqual(gh.requests.at(-1), { method: "GET", path: "/repos/o/r" });
    assert.ok(!gh.requests.some((r) => r.method === "PUT"), "the PUT never reached upstream");
    assert.match(run.stderr, /airlock: sandbox [a-z]+-[a-z]+ started \(logs: .*\/logs\)/);
    const lines = allLogLines(home);
    assert.ok(lines.some((l) => l.includes("DENIED PUT") && l.includes("[policy:github_api engine:l7]")));
    assert.ok(!lines.some((l) => l.includes("secret-ref")), "query strings never reach the log");
  });

  test("the endpoint allowed for /usr/bin/curl is denied for node, python3 and a copied curl", async () => {
    const wd = join(dir, "wd2");
    mkdirSync(wd);
    // A CONNECT refused at L4: the status is on the tunnel response; the binary is in the body
    // (python reads it) and in the log line (checked below for all three).
    const node =
      `${NODE} -e "require('http').request({host:'127.0.0.1',port:3128,method:'CONNECT',path:'api.github.com:443'})` +
      ".on('connect',(res,s)=>{console.log('node',res.statusCode);s.destroy()}).end()\"";
    const python =
      "/usr/bin/python3 -c \"import http.client,json; c=http.client.HTTPConnection('127.0.0.1',3128); " +
      "c.request('CONNECT','api.github.com:443'); r=c.getresponse(); print('python', r.status, json.loads(r.read())['binary'])\"";
    const copied =
      "cp /usr/bin/curl ./mycurl && ./mycurl -s -o /dev/null -w 'copied %{http_connect}\\n' https://api.github.com/repos/o/r";
    const curl = "curl -s -o /dev/null -w 'curl %{http_code}\\n' https://api.github.com/repos/o/r";
    const run = await runCli(
      [...base, "--workdir", wd, "--", "/bin/sh", "-c", [curl, node, python, copied, "true"].join("; ")],
      {
        airlockHome: home,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout;
    assert.match(out, /^curl 200$/m);
    assert.match(out, /^node 403$/m);
    assert.match(out, /^python 403 \/usr\/bin\/python3\.\d+$/m, "symlinked python3 resolves to its target");
    assert.match(out, /^copied 403$/m);
    const denials = allLogLines(home).filter((l) => l.includes("DENIED CONNECT api.github.com:443"));
    for (const binary of [NODE, join(wd, "mycurl")]) {
      assert.ok(
        denials.some((l) => l.includes(`[binary:${binary}]`)),
        `no denial for ${binary}:\n${denials.join("\n")}`,
      );
    }
  });

  test("a binary replaced after its first use is denied", async () => {
    const wd = join(dir, "wd3");
    mkdirSync(join(wd, "tools"), { recursive: true });
    const policyFile = join(dir, "tools-policy.yaml");
    writeFileSync(
      policyFile,
      [
        "version: 1",
        "network_policies:",
        "  gh:",
        "    endpoints:",
        "      - { host: api.github.com, port: 443, protocol: rest, access: read-only }",
        "    binaries:",
        `      - path: ${join(wd, "tools", "curl")}`,
        "",
      ].join("\n"),
    );
    const script = [
      "cp /usr/bin/curl tools/curl",
      "tools/curl -s -o /dev/null -w 'first %{http_code}\\n' https://api.github.com/repos/o/r",
      "cp /usr/bin/curl /tmp/c2 && printf x >> /tmp/c2 && cp /tmp/c2 tools/curl",
      "tools/curl -s -o /dev/null -w 'second %{http_code}\\n' https://api.github.com/repos/o/r",
    ].join("; ");
    const run = await runCli(
      [
        "run",
        "--policy",
        policyFile,
        "--connect-to",
        `api.github.com:443:127.0.0.1:${gh.port}`,
        "--upstream-ca",
        gh.caFile,
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        script,
      ],
      { airlockHome: join(dir, "home3") },
    );
    assert.match(run.stdout, /^first 200$/m, run.stderr);
    assert.match(run.stdout, /^second 000$/m, "the CONNECT is refused");
    assert.equal(run.code, 56, "curl's own status: the proxy refused the tunnel");
    const lines = allLogLines(join(dir, "home3"));
    assert.ok(
      lines.some((l) => l.includes("changed since its first use")),
      `no hash-change line in:\n${lines.join("\n")}`,
    );
  });

  test("a policy binary that is a symlink is named at start and in the deny reason", async () => {
    const policyFile = join(dir, "symlink-policy.yaml");
    writeFileSync(
      policyFile,
      "version: 1\nnetwork_policies:\n  py:\n    endpoints: [{ host: pypi.org, port: 443 }]\n    binaries: [{ path: /usr/bin/python3 }]\n",
    );
    const python =
      "/usr/bin/python3 -c \"import http.client,json; c=http.client.HTTPConnection('127.0.0.1',3128); " +
      "c.request('CONNECT','pypi.org:443'); r=c.getresponse(); print(r.status, json.loads(r.read())['reason'])\"";
    const run = await runCli(
      ["run", "--policy", policyFile, "--workdir", dir, "--", "/bin/sh", "-c", python],
      {
        airlockHome: join(dir, "home4"),
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /policy binary \/usr\/bin\/python3 is a symlink to \/usr\/bin\/python3\.\d+/);
    assert.match(
      run.stdout,
      /^403 binary not allowed: \/usr\/bin\/python3\.\d+ is not listed for pypi\.org:443 \(rules: py\); the policy lists \/usr\/bin\/python3, a symlink to \/usr\/bin\/python3\.\d+: programs are identified by the file they run, so list \/usr\/bin\/python3\.\d+$/m,
    );
  });

  test("the CAs in NODE_EXTRA_CA_CERTS are trusted upstream, also when the launcher defers them", async () => {
    const wd = join(dir, "wd-extra-ca");
    mkdirSync(wd);
    const withoutUpstreamCa = [
      "run",
      "--policy",
      POLICY,
      "--connect-to",
      `api.github.com:443:127.0.0.1:${gh.port}`,
    ];
    const get = [
      "--workdir",
      wd,
      "--",
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "https://api.github.com/repos/o/r",
    ];
    const env = { NODE_EXTRA_CA_CERTS: gh.caFile, AIRLOCK_GATEWAY: "" };
    for (const asScript of [true, false]) {
      const run = await runCli([...withoutUpstreamCa, ...get], { airlockHome: home, env, asScript });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "200", `launched ${asScript ? "as a script" : "by node"}`);
    }
    const untrusted = await runCli([...withoutUpstreamCa, ...get], {
      airlockHome: home,
      env: { NODE_EXTRA_CA_CERTS: "" },
      asScript: true,
    });
    assert.equal(untrusted.stdout, "502", "without it the fake upstream is not trusted");
    const missing = await runCli([...withoutUpstreamCa, ...get], {
      airlockHome: home,
      env: { NODE_EXTRA_CA_CERTS: join(dir, "no-such.pem") },
      asScript: true,
    });
    assert.equal(missing.code, 0, missing.stderr);
    assert.equal(missing.stdout, "502");
    assert.match(
      missing.stderr,
      /warning: NODE_EXTRA_CA_CERTS .*no-such\.pem: ENOENT; upstreams are verified without it/,
    );
  });
});
