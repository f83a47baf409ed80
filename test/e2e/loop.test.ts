// The whole loop with real parts: `airlock run` (bubblewrap, proxy, TLS) joined to a background
// gateway (SQLite), the scripted agent inside, the developer's CLI outside, and a fake
// api.github.com on loopback. The loop's three regressions (a, b, c) and the L4 smoke test.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FakeGitHub, startFakeGitHub } from "../../src/demo/fake-github.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "bin", "airlock.js");
// Copied into the workdir: the sandbox shows a fresh /tmp, where a checkout may live.
const AGENT_SOURCE = join(REPO, "examples", "agents", "scripted-agent.mjs");
let AGENT: string;
const REASON = "scope to docs/ paths only, not the whole repo";

let dir: string;
let home: string;
let github: FakeGitHub;
let policyFile: string;

function airlock(args: string[], timeout = 30_000): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, AIRLOCK_HOME: home },
    encoding: "utf8",
    timeout,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function run(name: string, command: string[], extra: string[] = []): Running {
  const args = [BIN, "run", "--name", name, "--policy", policyFile, "--workdir", dir];
  args.push(
    "--connect-to",
    `api.github.com:443:127.0.0.1:${github.port}`,
    "--upstream-ca",
    github.caFile,
    ...extra,
    "--",
    ...command,
  );
  const child = spawn(process.execPath, args, {
    env: { ...process.env, AIRLOCK_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, stdout: () => stdout, done };
}

async function until<T>(what: string, probe: () => T | undefined, seconds = 20): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function pendingChunks(sandbox: string): Array<{ id: string; rule_name: string; source: string }> {
  const r = airlock(["rule", "get", sandbox, "--status", "pending", "--json"]);
  if (r.code !== 0) return [];
  const parsed = JSON.parse(r.out);
  return Array.isArray(parsed) ? parsed : parsed.chunks;
}

describe("the loop end to end (real sandbox, proxy, gateway, CLI)", () => {
  before(async () => {
    dir = scratchDir("e2e-loop");
    AGENT = join(dir, "scripted-agent.mjs");
    copyFileSync(AGENT_SOURCE, AGENT);
    home = join(dir, "home");
    github = await startFakeGitHub(dir);
    policyFile = join(dir, "policy.yaml");
    writeFileSync(
      policyFile,
      "version: 1\nnetwork_policies:\n  github_api:\n    endpoints:\n      - { host: api.github.com, port: 443, protocol: rest, access: read-only }\n    binaries: [{ path: /usr/bin/curl }]\n",
    );
  });
  after(async () => {
    airlock(["gateway", "stop"]);
    await github.close();
    removeDir(dir);
  });

  test("(a) PUT denied → proposal via policy.local → rule get shows it at L7 → approve-all → the retried PUT succeeds", async () => {
    const agent = run("loop-a", ["/usr/bin/node", AGENT], ["--enable-proposals"]);
    const chunk = await until("the agent's proposal", () =>
      pendingChunks("loop-a").find((c) => c.source === "agent_authored"),
    );
    const shown = airlock(["rule", "get", "loop-a", "--status", "pending"]);
    assert.match(
      shown.out,
      /api\.github\.com:443 \[L7 rest, allow PUT \/repos\/acme\/site\/contents\/docs\/getting-started\.md\]/,
    );
    assert.match(
      shown.out,
      /Allows \/usr\/bin\/curl to PUT \/repos\/acme\/site\/contents\/docs\/getting-started\.md on api\.github\.com:443\. No other host, method or binary\./,
    );
    assert.match(
      shown.out,
      /answers observed deny: PUT api\.github\.com:443\/repos\/acme\/site\/contents\/docs\/getting-started\.md by \/usr\/bin\/curl \(×1\)/,
    );
    const approved = airlock(["rule", "approve-all", "loop-a"]);
    assert.equal(approved.code, 0, approved.err);
    assert.match(approved.out, new RegExp(chunk.id));
    const result = await agent.done;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const deny = JSON.parse(
      result.stdout.slice(result.stdout.indexOf("{\n"), result.stdout.indexOf("\n}\n") + 2),
    );
    assert.equal(deny.error, "policy_denied");
    assert.equal(deny.layer, "l7");
    assert.equal(deny.method, "PUT");
    assert.equal(deny.policy, "github_api");
    assert.equal(deny.rule_missing.type, "rest_allow");
    assert.ok(deny.next_steps.length > 0);
    assert.match(result.stdout, /retry: HTTP 201/);
    assert.match(github.files.get("docs/getting-started.md") ?? "", /Written by the agent/);
    const logDir = join(home, "sandboxes", "loop-a", "logs");
    const log = readdirSync(logDir)
      .filter((f) => f.endsWith(".log"))
      .map((f) => readFileSync(join(logDir, f), "utf8"))
      .join("");
    assert.match(
      log,
      new RegExp(
        `CONFIG:APPROVED \\[INFO\\] APPROVED rule put_getting_started_md \\[auto:false by:\\S+ chunk:${chunk.id} revision:2\\]`,
      ),
    );
  });

  test("(b) /wait + rule approve → approved with policy_reloaded; /wait + rule reject → the reason byte for byte", async () => {
    const approving = run("loop-b1", ["/usr/bin/node", AGENT], ["--enable-proposals"]);
    const first = await until("a proposal", () => pendingChunks("loop-b1")[0]);
    await until("the agent waiting", () =>
      approving.stdout().includes("waiting for the developer") ? true : undefined,
    );
    const ok = airlock(["rule", "approve", "loop-b1", "--chunk-id", first.id]);
    assert.equal(ok.code, 0, ok.err);
    const approvedRun = await approving.done;
    assert.equal(approvedRun.code, 0, approvedRun.stdout + approvedRun.stderr);
    assert.match(approvedRun.stdout, /approved and the sandbox's policy is reloaded/);

    const rejecting = run("loop-b2", ["/usr/bin/node", AGENT], ["--enable-proposals"]);
    const second = await until("a proposal", () => pendingChunks("loop-b2")[0]);
    const no = airlock([
      "rule",
      "reject",
      "loop-b2",
      "--chunk-id",
      second.id,
      "--reason",
      REASON,
      "--hint",
      "too_broad",
    ]);
    assert.equal(no.code, 0, no.err);
    const rejectedRun = await rejecting.done;
    assert.equal(rejectedRun.code, 2, rejectedRun.stdout + rejectedRun.stderr);
    assert.ok(rejectedRun.stdout.includes(`rejected: ${REASON} [hint: too_broad]`), rejectedRun.stdout);
  });

  test("(c) with the flag off every policy.local route is 404 feature_disabled, next_steps is [], and the gateway refuses too", async () => {
    const script = [
      "curl -s -X PUT https://api.github.com/repos/acme/site/contents/x.md -d '{}'; echo",
      "curl -s http://policy.local/v1/policy/current; echo",
      "curl -s 'http://policy.local/v1/denials?last=5'; echo",
      `curl -s -X POST http://policy.local/v1/proposals -d '{"operations":[]}'; echo`,
      "curl -s http://policy.local/v1/proposals/00000000-0000-4000-8000-000000000000; echo",
      "curl -s 'http://policy.local/v1/proposals/00000000-0000-4000-8000-000000000000/wait?timeout=1'; echo",
    ].join("\n");
    const result = await run("loop-c", ["/bin/sh", "-c", script]).done;
    assert.equal(result.code, 0, result.stderr);
    const [deny, ...routes] = result.stdout
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line));
    assert.equal(deny.error, "policy_denied");
    assert.deepEqual(deny.next_steps, []);
    assert.equal(deny.agent_guidance, undefined);
    assert.equal(routes.length, 5);
    for (const answer of routes) assert.equal(answer.error, "feature_disabled", JSON.stringify(answer));
    const submit = airlock(["rule", "get", "loop-c", "--json"]);
    assert.equal(submit.code, 0, submit.err);
    const refused = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import { GatewayClient, resolveClientOptions } from "${join(REPO, "src/protocol/client.ts")}";
         const c = new GatewayClient(resolveClientOptions(process.env));
         c.submit("loop-c", { operations: [{ addRule: { ruleName: "x", rule: { endpoints: [{ host: "a.example.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] } } }] })
           .then(() => console.log("accepted"), (e) => console.log(e.code ?? e.message));`,
      ],
      { env: { ...process.env, AIRLOCK_HOME: home }, encoding: "utf8", cwd: REPO, timeout: 30_000 },
    );
    assert.equal(refused.stdout.trim(), "feature_disabled", refused.stderr);
  });

  test("L4 smoke: curl https://blocked.example/ inside → allow_blocked_example_443 [L4] pending without an agent", async () => {
    const sandbox = run("loop-l4", [
      "/bin/sh",
      "-c",
      "curl -s -o /dev/null https://blocked.example/; sleep 4",
    ]);
    const chunk = await until("the mechanistic chunk", () =>
      pendingChunks("loop-l4").find((c) => c.rule_name === "allow_blocked_example_443"),
    );
    assert.equal(chunk.source, "mechanistic");
    const shown = airlock(["rule", "get", "loop-l4", "--status", "pending"]);
    assert.match(shown.out, /allow_blocked_example_443/);
    assert.match(shown.out, /blocked\.example:443 \[L4\]/);
    await sandbox.done;
    const denies = airlock(["denials", "loop-l4", "--json"]);
    assert.equal(denies.code, 0, denies.err);
    assert.match(denies.out, /blocked\.example/);
  });
});
