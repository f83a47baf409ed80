// A real agent inside `airlock run` with its shipped preset, unmodified, driven by the scripted
// model through the loop of src/demo/agent-loop.ts: the denied PUT, the skill, a proposal and its
// /wait, the developer's approval from the host, the retry. The model and api.github.com are
// stand-ins on loopback, reached under their real names through --connect-to.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { AGENT_API_HOST, agentArgs, agentEnv, loopTurns, type RealAgent } from "../../src/demo/agent-loop.ts";
import { type FakeGitHub, startFakeGitHub } from "../../src/demo/fake-github.ts";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { type FakeModel, startFakeModel } from "../../src/demo/fake-model/server.ts";
import { allLogLines, type CliRun, REPO, runCli, startCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { requireAgent } from "./locate.ts";

export interface LoopResult {
  run: CliRun;
  model: FakeModel;
  github: FakeGitHub;
  approved: string[];
  logLines: string[];
  /** The user's home the agent ran with (empty before the run). */
  home: string;
}

async function pendingChunk(airlockHome: string, name: string): Promise<string | undefined> {
  const r = await runCli(["rule", "get", name, "--status", "pending", "--json"], { airlockHome });
  if (r.code !== 0) return undefined;
  const parsed = JSON.parse(r.stdout) as { id: string }[] | { chunks: { id: string }[] };
  return (Array.isArray(parsed) ? parsed : parsed.chunks)[0]?.id;
}

export async function runLoopInSandbox(
  agent: RealAgent,
  t: TestContext,
  options: { prepareHome?: (home: string) => void } = {},
): Promise<LoopResult | null> {
  const bin = requireAgent(agent, t);
  if (!bin) return null;
  const dir = scratchDir(`${agent}-sandbox`);
  const airlockHome = join(dir, "airlock-home");
  const home = join(dir, "user-home");
  const workdir = join(dir, "work");
  mkdirSync(home);
  mkdirSync(workdir);
  options.prepareHome?.(home);
  const github = await startFakeGitHub(dir);
  const apiHost = AGENT_API_HOST[agent];
  const model = await startFakeModel({
    scenario: parseScenario({ turns: loopTurns(agent) }),
    hosts: [apiHost],
  });
  t.after(async () => {
    await runCli(["gateway", "stop"], { airlockHome });
    await model.close();
    await github.close();
    removeDir(dir);
  });
  const name = `${agent}-loop`;
  const started = startCli(
    [
      "run",
      "--name",
      name,
      "--enable-proposals",
      "--policy",
      join(REPO, "examples", "policies", `${agent}.yaml`),
      "--workdir",
      workdir,
      "--connect-to",
      `api.github.com:443:127.0.0.1:${github.port}`,
      "--connect-to",
      `${apiHost}:443:127.0.0.1:${new URL(model.httpsUrl).port}`,
      "--upstream-ca",
      github.caFile,
      "--upstream-ca",
      model.caFile,
      "--",
      bin,
      ...agentArgs(agent),
    ],
    { airlockHome, cwd: workdir, gateway: true, env: { HOME: home, ...agentEnv(agent) }, timeoutMs: 240_000 },
  );
  // The developer, on the host: approve each proposal the agent makes, as `airlock rule` does.
  const approved: string[] = [];
  let exited = false;
  void started.done.then(() => (exited = true));
  while (!exited) {
    const id = await pendingChunk(airlockHome, name);
    if (id) {
      const r = await runCli(["rule", "approve", name, "--chunk-id", id], { airlockHome });
      if (r.code === 0) approved.push(id);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const run = await started.done;
  return { run, model, github, approved, logLines: allLogLines(airlockHome), home };
}

/** The request the model got after turn `n` ran (it carries that tool call's result). */
export function afterTurn(model: FakeModel, n: number): string {
  return model.turns().find((r) => r.turn === n + 1)?.body ?? "";
}

/**
 * What every real agent's loop must show: its own binary reached its API through the proxy, the
 * structured 403 and the skill reached the model, the proposal was approved from the host and the
 * /wait said so, and only the retry's PUT reached the upstream.
 */
export function assertLoop(result: LoopResult, api: { host: string; binary: RegExp }): void {
  const { run, model, github, approved, logLines } = result;
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
  assert.ok(
    logLines.some((l) => l.includes(`ALLOWED CONNECT ${api.host}:443`) && api.binary.test(l)),
    "the agent's own binary reached its API through the proxy",
  );
  const denied = afterTurn(model, 0);
  assert.match(denied, /policy_denied/, "the PUT's structured 403 reached the model");
  assert.match(denied, /next_steps/);
  assert.match(afterTurn(model, 1), /policy\.local/, "the skill file was read");
  const decision = afterTurn(model, 2);
  assert.match(decision, /accepted_chunk_ids/);
  assert.match(decision, /\\"status\\":\\"approved\\"/);
  assert.match(decision, /policy_reloaded\\":true/);
  assert.equal(approved.length, 1, "one proposal, approved from the host");
  assert.equal(
    github.files.get("docs/getting-started.md")?.includes("real agent"),
    true,
    "the retry's PUT landed",
  );
  assert.deepEqual(
    github.seen.filter((s) => s.startsWith("PUT")),
    ["PUT /repos/acme/site/contents/docs/getting-started.md"],
    "the denied PUT never reached the upstream; the retry did",
  );
}
