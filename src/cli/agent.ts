// `airlock agent setup|doctor claude-code|codex`: install the gate's PreToolUse hook in an agent's
// own configuration, and check an installed one (loaded lazily: the hook path never loads this).
import type { Command } from "commander";
import type { AgentFlavor } from "../protocol/hook-wire.ts";
import { CliError, EXIT_FAILURE } from "./common.ts";

const AGENTS: readonly AgentFlavor[] = ["claude-code", "codex"];

function agentArg(value: string): AgentFlavor {
  if (!(AGENTS as readonly string[]).includes(value))
    throw new CliError(`unknown agent ${JSON.stringify(value)}: use ${AGENTS.join(" or ")}`, 2);
  return value as AgentFlavor;
}

export function registerAgentCommands(program: Command): void {
  const agent = program
    .command("agent")
    .description("install and check the gate's hooks in Claude Code and Codex");
  agent
    .command("setup")
    .description(
      "write the PreToolUse hook into the agent's config (Claude Code: settings.json; Codex: hooks.json, trusted through Codex itself); prints what it changed",
    )
    .argument("<agent>", "claude-code | codex")
    .option("--user", "for every project (~/.claude/settings.json, ~/.codex/hooks.json; the default)")
    .option("--project", "for the project in --dir only (.claude/settings.json, .codex/hooks.json)")
    .option("--dir <dir>", "the project directory (default: the current one)")
    .option("--policy <file>", "gate policy (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)")
    .option("--codex-bin <path>", "the codex to ask for its hook trust (default: codex on PATH)")
    .option("--ask-wait <seconds>", "how long an ask waits for the developer before it is denied", "50")
    .action(async (name: string, opts) => {
      const { setup } = await import("./agent-setup.ts");
      await setup(agentArg(name), opts);
    });
  agent
    .command("doctor")
    .description(
      "check an installed hook: present, trusted, timeouts, policy, gateway, preset; says what is wrong and the command that fixes it",
    )
    .argument("[agent]", "claude-code | codex (default: both)")
    .option("--dir <dir>", "the project directory (default: the current one)")
    .option("--codex-bin <path>", "the codex to ask for its hook trust (default: codex on PATH)")
    .option(
      "--preset <file>",
      "the sandbox policy `airlock run` uses: check that it lets the agent's binary reach its API",
    )
    .action(async (name: string | undefined, opts) => {
      const { doctor } = await import("./agent-setup.ts");
      let failed = false;
      for (const a of name ? [agentArg(name)] : AGENTS) {
        const report = await doctor(a, opts);
        for (const line of report.ok) process.stdout.write(`ok  ${a}: ${line}\n`);
        for (const p of report.problems) process.stdout.write(`BAD ${a}: ${p.problem}\n    fix: ${p.fix}\n`);
        failed ||= report.problems.length > 0;
      }
      if (failed) process.exitCode = EXIT_FAILURE;
    });
}
