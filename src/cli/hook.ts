// `airlock hook claude-code|codex`: PreToolUse hooks. Always an explicit decision, never "allowed" by failure.
import type { Command } from "commander";
import type { HookOptions } from "./hook-run.ts";

export function registerHookCommands(program: Command): void {
  const hook = program.command("hook").description("agent hooks that put every tool call through the gate");
  for (const [flavor, description] of [
    ["claude-code", "Claude Code PreToolUse hook: stdin JSON → permissionDecision on stdout"],
    ["codex", "Codex PreToolUse hook (same wire format; asks become denials with the reason)"],
  ] as const) {
    hook
      .command(flavor)
      .description(description)
      .option("--policy <file>", "gate policy (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)")
      .option(
        "--timeout-ms <ms>",
        "answer ask if no decision within this time (keep it below the agent's hook timeout)",
        "55000",
      )
      .option(
        "--ask-wait-ms <ms>",
        "how long an ask waits for the developer on the gateway (within --timeout-ms; 0 = do not wait)",
        "50000",
      )
      .option("--receipts <file>", "receipt file (default $AIRLOCK_HOME/gate/receipts.jsonl)")
      .option("--workdir <dir>", "the project root (default: the payload's cwd)")
      .action(async (opts: HookOptions) => (await import("./hook-run.ts")).runHook(flavor, opts));
  }
}
