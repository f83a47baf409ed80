// The real agents against the fake model, on a machine where they never ran (a scratch HOME with
// no ~/.claude or ~/.codex), over plain HTTP and over HTTPS with the fake's throwaway CA: the
// model's tool call reaches the agent, runs, and its result comes back to the model.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel } from "../../src/demo/fake-model/server.ts";
import { type AgentName, requireAgent } from "./locate.ts";
import { runAgent, scratchHome } from "./run-agent.ts";

const TOOL: Record<AgentName, { tool: string; input: Record<string, unknown> }> = {
  "claude-code": { tool: "Bash", input: { command: "echo first-run > out.txt", description: "write" } },
  codex: { tool: "exec_command", input: { cmd: "echo first-run > out.txt" } },
};
const FULL_ACCESS: Record<AgentName, { permissionMode?: string; args?: string[] }> = {
  "claude-code": { permissionMode: "bypassPermissions" },
  codex: { args: ["--dangerously-bypass-approvals-and-sandbox"] },
};

for (const agent of ["claude-code", "codex"] as const)
  for (const tls of [false, true])
    test(`${agent}: first run, ${tls ? "HTTPS" : "HTTP"} fake model, a tool call runs and its result returns`, async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const model = await startFakeModel({ scenario: parseScenario({ turns: [TOOL[agent]] }) });
      t.after(() => model.close());
      const home = scratchHome();
      const cwd = join(home, "work");
      assert.equal(existsSync(join(home, agent === "codex" ? ".codex" : ".claude")), false);
      const run = await runAgent({
        agent,
        bin,
        model,
        prompt: "write the file",
        cwd,
        home,
        tls,
        ...FULL_ACCESS[agent],
      });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(readFileSync(join(cwd, "out.txt"), "utf8"), "first-run\n");
      const turns = model.turns();
      assert.ok(turns.length >= 2, `the model saw ${turns.length} turns`);
      // The second turn carries the tool's result back.
      assert.match(
        turns[turns.length - 1]?.body ?? "",
        agent === "codex" ? /function_call_output/ : /tool_result/,
      );
    });
