import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const AIRLOCK = join(import.meta.dirname, "../../bin/airlock.js");
function airlock(...args: string[]) {
  const r = spawnSync(process.execPath, [AIRLOCK, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("policy check summarises every example policy and exits 0", () => {
  for (const file of ["github-readonly", "package-registry", "deny-rules", "internal-host"]) {
    const r = airlock("policy", "check", `examples/policies/${file}.yaml`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /: ok, \d+ rules?/);
  }
  const r = airlock("policy", "check", "examples/policies/github-readonly.yaml");
  assert.match(
    r.out,
    /api\.github\.com:443 \[L7 rest, access=read-only, allow PUT \/repos\/acme\/site\/contents\/docs\/\*\*/,
  );
});

test("policy check prints every error with file:line:col and exits 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "airlock-cli-"));
  const file = join(dir, "broken.yaml");
  writeFileSync(
    file,
    "version: 1\nnetwork_policies:\n  r:\n    endpoints:\n      - host: '*.com'\n        port: 70000\n    binaries: [{ path: curl }]\n",
  );
  const r = airlock("policy", "check", file);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    new RegExp(`${file}:5:15: network_policies\\.r\\.endpoints\\[0\\]\\.host: .*public suffix`),
  );
  assert.match(
    r.err,
    new RegExp(
      `${file}:6:15: network_policies\\.r\\.endpoints\\[0\\]\\.port: must be 1\\.\\.65535, got 70000`,
    ),
  );
  assert.match(r.err, /binaries\[0\]\.path: binary path must be absolute/);
  assert.match(r.err, /3 errors in/);
  const missing = airlock("policy", "check", join(dir, "nope.yaml"));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read policy: no such file/);
});

test("policy eval --json gives the decision with rule_missing on denials", () => {
  const r = airlock(
    "policy",
    "eval",
    "examples/policies/github-readonly.yaml",
    "--binary",
    "/usr/bin/curl",
    "--host",
    "api.github.com",
    "--port",
    "443",
    "--method",
    "PUT",
    "--path",
    "/repos/o/r/contents/x.md?token=abc",
    "--json",
  );
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.decision, "deny");
  assert.equal(out.layer, "l7");
  assert.equal(out.policy, "github_api");
  assert.equal(out.reason, "no allow rule matches");
  assert.equal(out.rule_missing.type, "rest_allow");
  assert.equal(out.rule_missing.path, "/repos/o/r/contents/x.md");
  assert.doesNotMatch(r.out, /abc/);
  const allowed = JSON.parse(
    airlock(
      "policy",
      "eval",
      "examples/policies/github-readonly.yaml",
      "--binary",
      "/usr/bin/curl",
      "--host",
      "api.github.com",
      "--port",
      "443",
      "--json",
    ).out,
  );
  assert.deepEqual([allowed.decision, allowed.layer, allowed.inspect], ["allow", "l4", true]);
});

test("policy eval usage errors exit 2 and name the flag", () => {
  const r = airlock(
    "policy",
    "eval",
    "examples/policies/github-readonly.yaml",
    "--binary",
    "/usr/bin/curl",
    "--host",
    "h",
    "--port",
    "http",
  );
  assert.equal(r.code, 2);
  assert.match(r.err, /--port <port>.*must be a port number 1\.\.65535, got "http"/);
  const noHost = airlock(
    "policy",
    "eval",
    "examples/policies/github-readonly.yaml",
    "--binary",
    "/usr/bin/curl",
    "--port",
    "443",
  );
  assert.equal(noHost.code, 2);
  assert.match(noHost.err, /--host/);
});

test("policy check validates a gate: section with the gate's loader, examples included", () => {
  const ok = airlock("policy", "check", "examples/policies/gate.yaml");
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /gate: \d+ hard stops, \d+ allow rules/);
  const dir = mkdtempSync(join(tmpdir(), "airlock-cli-"));
  const file = join(dir, "gate.yaml");
  writeFileSync(
    file,
    readFileSync("examples/policies/gate.yaml", "utf8").replace(
      "not_match: [rm -rf build",
      "not_match: [rm -rf /",
    ),
  );
  const bad = airlock("policy", "check", file);
  assert.equal(bad.code, 1);
  assert.match(
    bad.err,
    /gate\.hard_stops\[0\]\.not_match\[0\]: rule "rm-outside-workdir" matches this example/,
  );
});

test("airlock run refuses a read_write path on the sandbox's /proc before bubblewrap, naming file:line and field", () => {
  const dir = mkdtempSync(join(tmpdir(), "airlock-cli-"));
  const file = join(dir, "proc.yaml");
  writeFileSync(file, "version: 1\nfilesystem_policy:\n  read_write: [/proc]\n");
  const r = airlock("run", "--policy", file, "--", "true");
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    new RegExp(`${file}:3:16: filesystem_policy\\.read_write\\[0\\]: read_write must not be in /proc`),
  );
  assert.doesNotMatch(r.err, /bwrap/);
});
