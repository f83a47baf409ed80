// Claude Code and Codex inside `airlock run` with their shipped presets, unmodified, and the
// gate's hook as `airlock agent setup` installs it (~/.claude/settings.json; ~/.codex/hooks.json
// with its trust entry), which the presets show inside. Inside, the hook has no gateway.json and
// no token: it asks policy.local, and the supervisor forwards the call to the gateway as this
// sandbox. The allowed call runs, the hard stop never runs (the victim outside the workdir,
// writable from inside, survives on the host), the ask the developer allows from the host runs,
// the ask nobody answers is denied and withdrawn; both asks name the sandbox.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AGENT_API_HOST, agentEnv } from "../../src/demo/agent-loop.ts";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import { WITHDRAWN_NOTE } from "../../src/protocol/hook-wire.ts";
import { REPO, startCli } from "../sandbox/cli-helpers.ts";
import { MARKER, makeProject, setupAgent, shellTurn, startAirlock } from "./harness.ts";
import { type AgentName, requireAgent } from "./locate.ts";

const HOOK_FAILURE = /onFailure|hook returned unsupported|hook (?:failed|timed out)|invalid hook output/i;

const AGENT_ARGS: Record<AgentName, string[]> = {
  "claude-code": [
    "-p",
    "do the steps",
    "--permission-mode",
    "bypassPermissions",
    "--output-format",
    "stream-json",
    "--verbose",
  ],
  codex: ["exec", "--skip-git-repo-check", "do the steps"],
};

for (const agent of ["claude-code", "codex"] as const)
  test(`${agent} in airlock run behind the gate's hook: allowed runs, hard stop never, host-answered ask runs, unanswered denied`, async (t) => {
    const bin = requireAgent(agent, t);
    if (!bin) return;
    const airlock = await startAirlock();
    const p = makeProject();
    // Outside the workdir, in a folder the preset binds writable (the agent's own home; its /tmp
    // is the sandbox's own): only the gate protects it.
    const victim = join(p.userHome, agent === "codex" ? ".codex" : ".claude", "victim");
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, "keep.txt"), "keep me\n");
    const model = await startFakeModel({
      scenario: parseScenario({
        turns: [
          shellTurn(agent, "cat marker.txt"),
          shellTurn(agent, `ls ${victim}`),
          shellTurn(agent, `rm -rf ${victim}`),
          shellTurn(agent, "touch approved.txt"),
          shellTurn(agent, "touch ignored.txt"),
        ],
      }),
      hosts: [AGENT_API_HOST[agent]],
    });
    t.after(async () => {
      await model.close();
      await airlock.close();
      rmSync(p.userHome, { recursive: true, force: true });
    });
    const set = await setupAgent(agent, airlock.home, p, {
      wait: 8,
      ...(agent === "codex" ? { codexBin: bin } : {}),
    });
    assert.equal(set.status, 0, set.stderr + set.stdout);
    const name = `${agent}-hooked`;
    const started = startCli(
      [
        "run",
        "--name",
        name,
        "--policy",
        join(REPO, "examples", "policies", `${agent}.yaml`),
        "--workdir",
        p.workdir,
        "--connect-to",
        `${AGENT_API_HOST[agent]}:443:127.0.0.1:${new URL(model.httpsUrl).port}`,
        "--upstream-ca",
        model.caFile,
        "--",
        bin,
        ...AGENT_ARGS[agent],
      ],
      {
        airlockHome: airlock.home,
        cwd: p.workdir,
        gateway: true,
        env: { HOME: p.userHome, ...agentEnv(agent) },
        timeoutMs: 180_000,
      },
    );
    // The developer, on the host: allows the one ask, leaves the other alone.
    let exited = false;
    void started.done.then(() => (exited = true));
    let allowed = false;
    while (!exited) {
      if (!allowed) {
        const ask = (await airlock.op.listAsks({ status: "pending" })).find((a) =>
          a.summary.includes("approved.txt"),
        );
        if (ask) allowed = (await airlock.op.allowAsk(ask.id, "go ahead")).status === "allowed";
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = await started.done;
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
    assert.equal(model.turns().length, 6, "every turn came back to the model");
    const results = toolResults(model.turns().at(-1));
    assert.ok(results[0]?.includes(MARKER), `the allowed call ran: ${JSON.stringify(results)}`);
    assert.ok(
      results[1]?.includes("keep.txt"),
      `the victim is there to be deleted from inside: ${JSON.stringify(results)}`,
    );
    assert.equal(readFileSync(join(victim, "keep.txt"), "utf8"), "keep me\n", "the hard stop never ran");
    const bodies = model.allBodies();
    assert.match(bodies, /rm-outside-workdir/, "the model was told why");
    assert.equal(allowed, true);
    assert.equal(existsSync(join(p.workdir, "approved.txt")), true, "the ask allowed from the host ran");
    assert.equal(existsSync(join(p.workdir, "ignored.txt")), false, "the unanswered ask never ran");
    assert.match(bodies, /within 8s; denied, and the ask is withdrawn/);
    const asks = await airlock.op.listAsks({});
    const byFile = (f: string) => asks.filter((a) => a.summary.includes(f));
    assert.deepEqual(
      byFile("approved.txt").map((a) => [a.status, a.sandbox]),
      [["allowed", name]],
    );
    assert.deepEqual(
      byFile("ignored.txt").map((a) => [a.status, a.sandbox, a.decision_reason]),
      [["expired", name, WITHDRAWN_NOTE]],
    );
    assert.doesNotMatch(run.stdout + run.stderr, HOOK_FAILURE);
  });
