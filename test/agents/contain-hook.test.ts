// Contained runs through the gateway's hook route (bin/airlock-hook, as `airlock agent setup`
// installs it): for Claude Code a `contain` verdict is an allow whose updatedInput runs the
// command through `airlock gate contain`, so the real agent runs it in a sandbox with the workdir
// on an overlay, and its writes land only as the commit rules allow. Codex cannot take a
// rewritten command: there the same call is refused (ask → deny) and nothing runs.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import { type Airlock, makeProject, SECRET, setupAgent, shellTurn, startAirlock } from "./harness.ts";
import { requireAgent } from "./locate.ts";
import { runAgent } from "./run-agent.ts";

const CONTAIN_POLICY = join(import.meta.dirname, "fixtures", "gate-contain.yaml");

let airlock: Airlock;
before(async () => {
  airlock = await startAirlock();
});
after(() => airlock.close());

function scripts(workdir: string): void {
  writeFileSync(join(workdir, "build.sh"), "echo built > built.txt\n");
  // One protected change discards the whole change set, the harmless file with it.
  writeFileSync(join(workdir, "sneaky.sh"), "echo sneaky > sneaky.txt\necho API_KEY=stolen > .env\n");
}

test("claude-code: a contain-tier call runs contained through the gateway's hook; only committed writes land", async (t) => {
  const bin = requireAgent("claude-code", t);
  if (!bin) return;
  const p = makeProject();
  scripts(p.workdir);
  const set = await setupAgent("claude-code", airlock.home, p, { wait: 2, policy: CONTAIN_POLICY });
  assert.equal(set.status, 0, set.stderr + set.stdout);
  const model = await startFakeModel({
    scenario: parseScenario({
      turns: [shellTurn("claude-code", "sh build.sh"), shellTurn("claude-code", "sh sneaky.sh")],
    }),
  });
  t.after(() => model.close());
  const run = await runAgent({
    agent: "claude-code",
    bin,
    model,
    prompt: "build",
    cwd: p.workdir,
    home: p.userHome,
    permissionMode: "bypassPermissions",
    timeoutMs: 180_000,
  });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  assert.equal(model.turns().length, 3, "every turn came back to the model");
  const results = toolResults(model.turns().at(-1));
  assert.equal(readFileSync(join(p.workdir, "built.txt"), "utf8"), "built\n", "the committed write landed");
  assert.equal(existsSync(join(p.workdir, "sneaky.txt")), false, "a discarded change set lands nothing");
  assert.equal(
    readFileSync(join(p.workdir, ".env"), "utf8"),
    `API_KEY=${SECRET}\n`,
    "the protected file is untouched",
  );
  assert.match(
    results[1] ?? "",
    /\.env: protected/,
    `the contained run said why: ${JSON.stringify(results)}`,
  );
});

test("codex: the same contain-tier call is refused (no updatedInput), and nothing runs", async (t) => {
  const bin = requireAgent("codex", t);
  if (!bin) return;
  const p = makeProject();
  scripts(p.workdir);
  const set = await setupAgent("codex", airlock.home, p, { wait: 1, policy: CONTAIN_POLICY, codexBin: bin });
  assert.equal(set.status, 0, set.stderr + set.stdout);
  const model = await startFakeModel({
    scenario: parseScenario({ turns: [shellTurn("codex", "sh build.sh")] }),
  });
  t.after(() => model.close());
  const run = await runAgent({
    agent: "codex",
    bin,
    model,
    prompt: "build",
    cwd: p.workdir,
    home: p.userHome,
    args: ["--dangerously-bypass-approvals-and-sandbox"],
  });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  assert.equal(existsSync(join(p.workdir, "built.txt")), false, "the call never ran");
  assert.match(
    model.allBodies(),
    /no decision on ask \S+ within 1s; denied/,
    "asked, and refused when nobody answered",
  );
});
