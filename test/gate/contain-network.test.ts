// A contained run's network: the sandbox supervisor's proxy under the policy file's network rules
// (real bubblewrap, real overlay, real curl, a stand-in api.github.com on loopback reached with
// --connect-to / --upstream-ca), and the change set still committed or discarded by the rules.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  allLogLines,
  type CliRun,
  type FakeGithub,
  fakeGithub,
  processesWith,
  REPO,
  runCli,
  waitFor,
} from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

interface Report {
  exit_code: number;
  committed: boolean;
  reasons: string[];
  changes: Array<{ path: string; kind: string }>;
  sandbox: string;
  logs: string;
}

describe("contained run with network through the proxy", { timeout: 180_000 }, () => {
  let dir: string;
  let home: string;
  let gh: FakeGithub;
  let policy: string;
  before(async () => {
    dir = scratchDir("contain-net");
    home = join(dir, "airlock-home");
    gh = await fakeGithub(dir);
    // One file: the network rules (GitHub read-only for curl) and the gate's contain rules.
    policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      `${readFileSync(join(REPO, "examples", "policies", "github-readonly.yaml"), "utf8")}\ngate:\n  contain:\n    commit:\n      protected: [.git/**]\n`,
    );
  });
  after(async () => {
    await gh.close();
    removeDir(dir);
  });

  function project(name: string): string {
    const wd = join(dir, name);
    mkdirSync(join(wd, ".git"), { recursive: true });
    writeFileSync(join(wd, ".git", "config"), "[core]\n");
    return wd;
  }

  async function contain(
    wd: string,
    script: string,
    withPolicy = true,
  ): Promise<CliRun & { report: Report | null }> {
    const report = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    const run = await runCli(
      [
        "gate",
        "contain",
        ...(withPolicy ? ["--policy", policy] : []),
        "--workdir",
        wd,
        "--connect-to",
        `api.github.com:443:127.0.0.1:${gh.port}`,
        "--upstream-ca",
        gh.caFile,
        "--report",
        report,
        "--",
        "/bin/sh",
        "-c",
        script,
      ],
      { airlockHome: home, cwd: wd, env: { AIRLOCK_GATE_POLICY: undefined }, timeoutMs: 90_000 },
    );
    return {
      ...run,
      report: existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as Report) : null,
    };
  }

  test("an allowed request succeeds, a denied one gets the structured 403, and the output is committed", async () => {
    const wd = project("allowed");
    const r = await contain(
      wd,
      "curl -sS -o repo.json https://api.github.com/repos/o/r && " +
        "curl -sS -o put.json -X PUT -d '{}' https://api.github.com/repos/o/r/contents/x.md",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report?.committed, true, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(wd, "repo.json"), "utf8")), {
      fake: "api.github.com",
      method: "GET",
      path: "/repos/o/r",
    });
    const put = JSON.parse(readFileSync(join(wd, "put.json"), "utf8"));
    assert.equal(put.error, "policy_denied");
    assert.equal(put.layer, "l7");
    assert.equal(put.method, "PUT");
    assert.equal(put.binary, "/usr/bin/curl");
    assert.equal(put.policy, "github_api");
    assert.ok(put.reason.length > 0);
    assert.ok(!gh.requests.some((q) => q.method === "PUT"), "the PUT never reached upstream");
    // Where the sandbox's logs are: printed, in the report, and holding the decisions.
    const logs = r.report?.logs ?? "";
    assert.match(r.stderr, new RegExp(`airlock: sandbox ${r.report?.sandbox} started \\(logs: ${logs}\\)`));
    const lines = allLogLines(home);
    assert.ok(lines.some((l) => l.includes("DENIED PUT") && l.includes("[policy:github_api engine:l7]")));
  });

  test("a denied host gets the structured 403; a protected write still discards the whole run", async () => {
    const wd = project("denied");
    const r = await contain(
      wd,
      "curl -sS -o host.json http://denied.example.net/x; echo evil >> .git/config",
    );
    assert.equal(r.report?.committed, false, r.stderr);
    assert.equal(r.code, 1);
    assert.match(r.report?.reasons.join(" ") ?? "", /\.git\/config: protected/);
    assert.equal(existsSync(join(wd, "host.json")), false, "nothing of a discarded run is kept");
    assert.equal(readFileSync(join(wd, ".git", "config"), "utf8"), "[core]\n");
    const denial = allLogLines(home).find((l) => l.includes("denied.example.net"));
    assert.ok(denial, "the denial is logged");
    // The same request in a run that commits: the body is the proxy's structured 403.
    const ok = await contain(wd, "curl -sS -o host.json http://denied.example.net/x");
    assert.equal(ok.report?.committed, true, ok.stderr);
    const body = JSON.parse(readFileSync(join(wd, "host.json"), "utf8"));
    assert.equal(body.error, "policy_denied");
    assert.equal(body.host, "denied.example.net");
    assert.equal(body.policy, null);
    assert.ok(body.reason.length > 0);
  });

  test("without a policy file nothing leaves the sandbox", async () => {
    const wd = project("nopolicy");
    const before = gh.requests.length;
    const r = await contain(
      wd,
      "curl -s -o /dev/null -w '%{http_connect}' https://api.github.com/repos/o/r > connect.txt; true",
      false,
    );
    assert.equal(r.report?.committed, true, r.stderr);
    assert.equal(readFileSync(join(wd, "connect.txt"), "utf8"), "403");
    assert.equal(gh.requests.length, before, "nothing reached upstream");
  });

  test("a run out of time is killed, sandbox and all, and its changes discarded", async () => {
    const wd = project("timeout");
    const quick = join(dir, "quick.yaml");
    writeFileSync(quick, "gate:\n  contain:\n    timeout_seconds: 2\n");
    const marker = `contain-timeout-${process.pid}`;
    const run = await runCli(
      [
        "gate",
        "contain",
        "--policy",
        quick,
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        `echo x > f; sleep 60; : ${marker}`,
      ],
      { airlockHome: home, cwd: wd, timeoutMs: 60_000 },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /ran out of time; every change was discarded/);
    assert.equal(existsSync(join(wd, "f")), false);
    assert.ok(await waitFor(() => processesWith(marker).length === 0), "the command was killed");
  });

  test("nothing is left behind: no processes, no mounts, no staged runs, every sandbox ended", () => {
    assert.deepEqual(processesWith(join(home, "gate", "contain")), []);
    assert.deepEqual(
      processesWith("/etc/airlock/init.cjs").filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, "utf8").includes(home);
        } catch {
          return false;
        }
      }),
      [],
    );
    const mounts = readFileSync("/proc/self/mountinfo", "utf8");
    assert.ok(!mounts.includes(dir), "no mount under the test's folders");
    assert.deepEqual(readdirSync(join(home, "gate", "contain")), []);
    const sandboxes = readdirSync(join(home, "sandboxes"));
    assert.ok(sandboxes.length >= 5);
    for (const name of sandboxes) {
      const info = JSON.parse(readFileSync(join(home, "sandboxes", name, "sandbox.json"), "utf8"));
      assert.ok(info.ended, `${name} ended`);
      assert.equal(typeof info.exit_code, "number");
    }
  });
});
