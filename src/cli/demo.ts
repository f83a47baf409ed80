// `airlock demo`: the end-to-end loop on the embedded default, narrated (src/demo/demo.ts).
import type { Command } from "commander";
import { REAL_AGENTS, type RealAgent } from "../demo/agent-loop.ts";
import { CliError, UsageError } from "./common.ts";

export function registerDemoCommands(program: Command): void {
  program
    .command("demo")
    .description("watch the whole loop: deny, propose, review, hot-reload, retry (a few seconds)")
    .option(
      "--agent <agent>",
      "run the real agent (claude-code or codex, installed on PATH) against a scripted model instead of the scripted agent",
    )
    .option("--interactive", "wait for you to approve or reject in the CLI or the web inbox")
    .option("--keep", "keep the demo's state folder (logs, gateway database) afterwards")
    .action(async (opts: { agent?: string; interactive?: boolean; keep?: boolean }) => {
      if (opts.agent !== undefined && !(REAL_AGENTS as readonly string[]).includes(opts.agent))
        throw new UsageError(`--agent: expected one of ${REAL_AGENTS.join(", ")}, got "${opts.agent}"`);
      const agent = opts.agent as RealAgent | undefined;
      const { DemoError, runDemo } = await import("../demo/demo.ts"); // loaded only for this command
      try {
        await runDemo({ agent, interactive: opts.interactive === true, keep: opts.keep === true });
      } catch (error) {
        if (error instanceof DemoError) throw new CliError(`demo failed: ${error.message}`);
        throw error;
      }
    });
}
