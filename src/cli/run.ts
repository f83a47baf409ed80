// `airlock run`: a command in a sandbox whose only way out is the policy proxy (DESIGN.md §9).
// stdout and stdin belong to the command; Airlock's own lines go to stderr.
import type { Command } from "commander";
import { airlockHome } from "../supervisor/paths.ts";
import { runSupervised, SupervisorError } from "../supervisor/supervisor.ts";
import { CliError, collect } from "./common.ts";

interface RunOptions {
  name?: string;
  policy?: string;
  workdir?: string;
  connectTo?: string[];
  upstreamCa?: string[];
  enableProposals?: boolean;
  quiet?: boolean;
}

export function registerRunCommands(program: Command): void {
  program
    .command("run")
    .description("run CMD in a sandbox whose only way out is Airlock's policy proxy")
    .usage("[options] -- CMD...")
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--name <name>", "sandbox name (default: a generated one such as quiet-otter)")
    .option("--policy <file>", "policy YAML file (default: no network access at all)")
    .option("--workdir <dir>", "writable working directory (default: the current directory)")
    .option(
      "--connect-to <HOST:PORT:ADDR:PORT2>",
      "dial ADDR:PORT2 when HOST:PORT is asked for (repeatable)",
      collect,
    )
    .option(
      "--upstream-ca <file>",
      "extra CA certificate (PEM) the proxy trusts upstream (repeatable)",
      collect,
    )
    .option("--enable-proposals", "let the agent read its policy and propose rules via http://policy.local")
    .option("-q, --quiet", "do not print the sandbox name and log folder")
    .action(async (command: string[], opts: RunOptions) => {
      let code: number;
      try {
        code = await runSupervised({
          name: opts.name,
          policyFile: opts.policy,
          workdir: opts.workdir ?? process.cwd(),
          command,
          connectTo: opts.connectTo,
          upstreamCaFiles: opts.upstreamCa,
          enableProposals: opts.enableProposals === true,
          airlockHome: airlockHome(),
          quiet: opts.quiet === true,
        });
      } catch (error) {
        if (error instanceof SupervisorError) throw new CliError(error.message);
        throw error;
      }
      // The command's status is ours; nothing of the sandbox is left to wait for.
      process.exit(code);
    });
}
