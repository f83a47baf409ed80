// `airlock demo`: the end-to-end loop on the embedded default, narrated (src/demo/demo.ts).
import type { Command } from "commander";
import { CliError } from "./common.ts";

export function registerDemoCommands(program: Command): void {
  program
    .command("demo")
    .description("watch the whole loop: deny, propose, review, hot-reload, retry (a few seconds)")
    .option("--interactive", "wait for you to approve or reject in the CLI or the web inbox")
    .option("--keep", "keep the demo's state folder (logs, gateway database) afterwards")
    .action(async (opts: { interactive?: boolean; keep?: boolean }) => {
      const { DemoError, runDemo } = await import("../demo/demo.ts"); // loaded only for this command
      try {
        await runDemo({ interactive: opts.interactive === true, keep: opts.keep === true });
      } catch (error) {
        if (error instanceof DemoError) throw new CliError(`demo failed: ${error.message}`);
        throw error;
      }
    });
}
