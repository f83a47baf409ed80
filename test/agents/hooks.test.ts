// Claude Code and Codex on the host, behind the gate's hook as `airlock agent setup` installs it,
// driven by the fake model. In every permission mode each agent has: the allowed call runs (its
// output reaches the model), the hard stop never runs (the victim survives), the secret never
// reaches the model (the model server's recorded bodies), the ask nobody answers never runs and
// leaves the inbox with a note, and no answer of the hook is reported as a hook error.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseScenario, type Turn } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import { WITHDRAWN_NOTE } from "../../src/protocol/hook-wire.ts";
import {
  type Airlock,
  MARKER,
  makeProject,
  SECRET,
  setupAgent,
  shellTurn as shell,
  startAirlock,
} from "./harness.ts";
import { type AgentName, locateAgent, requireAgent } from "./locate.ts";
import { runAgent } from "./run-agent.ts";

const MODES: Record<AgentName, Array<{ name: string; permissionMode?: string; args?: string[] }>> = {
  "claude-code": [
    { name: "default" },
    { name: "acceptEdits", permissionMode: "acceptEdits" },
    { name: "bypassPermissions", permissionMode: "bypassPermissions" },
  ],
  codex: [
    { name: "exec default (approval never, read-only sandbox)" },
    { name: "--sandbox workspace-write", args: ["--sandbox", "workspace-write"] },
    {
      name: "--dangerously-bypass-approvals-and-sandbox",
      args: ["--dangerously-bypass-approvals-and-sandbox"],
    },
  ],
};

/**
 * What a hook failure looks like in each agent's output. (Claude Code words every denial by a
 * hook "PreToolUse:Bash hook error: <reason>"; a failure says it blocked because of onFailure.)
 */
const HOOK_FAILURE =
  /onFailure|hook returned unsupported|hook returned permissionDecision|hook (?:failed|timed out)|invalid hook output|failed to parse hook/i;

let airlock: Airlock;
before(async () => {
  airlock = await startAirlock();
});
after(() => airlock.close());

for (const agent of ["claude-code", "codex"] as const)
  describe(`${agent} behind the gate's hook`, () => {
    for (const mode of MODES[agent])
      test(`${mode.name}: allowed runs, hard stop and secret never, unanswered ask denied and withdrawn`, async (t) => {
        const bin = requireAgent(agent, t);
        if (!bin) return;
        const p = makeProject();
        const set = await setupAgent(agent, airlock.home, p, {
          wait: 2,
          ...(agent === "codex" ? { codexBin: bin } : {}),
        });
        assert.equal(set.status, 0, set.stderr + set.stdout);
        const asked = join(p.workdir, "asked.txt");
        const turns: Turn[] = [
          shell(agent, "cat marker.txt"),
          shell(agent, `rm -rf ${p.victim}`),
          shell(agent, "cat .env"),
          ...(agent === "claude-code"
            ? [{ tool: "Read", input: { file_path: join(p.workdir, ".env") } }]
            : []),
          shell(agent, `touch ${asked}`),
        ];
        const model = await startFakeModel({ scenario: parseScenario({ turns }) });
        t.after(() => model.close());
        const run = await runAgent({
          agent,
          bin,
          model,
          prompt: "do the steps",
          cwd: p.workdir,
          home: p.userHome,
          ...(mode.permissionMode ? { permissionMode: mode.permissionMode } : {}),
          ...(mode.args ? { args: mode.args } : {}),
        });
        assert.equal(run.status, 0, run.stderr.slice(-2000));
        const bodies = model.allBodies();
        assert.equal(model.turns().length, turns.length + 1, "every turn came back to the model");
        const results = toolResults(model.turns().at(-1));
        const seen = JSON.stringify(results, null, 1);
        assert.ok(
          results[0]?.includes(MARKER),
          `the allowed call ran and its output reached the model: ${seen}`,
        );
        assert.equal(
          readFileSync(join(p.victim, "keep.txt"), "utf8"),
          "keep me\n",
          "the hard stop never ran",
        );
        assert.match(bodies, /rm-outside-workdir/, "the model was told why");
        assert.ok(!bodies.includes(SECRET), "the secret never reached the model");
        assert.match(bodies, /hard_stop secrets/);
        assert.equal(existsSync(asked), false, "the unanswered ask never ran");
        assert.match(bodies, /within 2s; denied, and the ask is withdrawn/);
        const withdrawn = (await airlock.op.listAsks({})).filter((a) => a.summary.includes(asked));
        assert.equal(withdrawn.length, 1);
        assert.deepEqual([withdrawn[0]?.status, withdrawn[0]?.decision_reason], ["expired", WITHDRAWN_NOTE]);
        assert.doesNotMatch(run.stdout + run.stderr, HOOK_FAILURE);
      });
  });

test("the agents are installed where .ci/install puts them", () => {
  if (!process.env["CI"]) return;
  for (const agent of ["claude-code", "codex"] as const) assert.ok(locateAgent(agent), `${agent} missing`);
});
