// The `airlock` command: parses flags, calls the parts, renders. Exit codes: 0 ok, 1 failure, 2 usage.
import { Command, CommanderError } from "commander";
import { CliError, EXIT_USAGE } from "./common.ts";
import { registerGateCommands } from "./gate.ts";
import { registerHookCommands } from "./hook.ts";
import { registerMcpProxyCommands } from "./mcp-proxy.ts";
import { registerPolicyCommands } from "./policy.ts";
import { registerRunCommands } from "./run.ts";

export function buildProgram(): Command {
  const program = new Command("airlock")
    .description("Run an AI agent in a sandbox whose only way out is a policy proxy you review live.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerPolicyCommands(program);
  registerRunCommands(program);
  registerGateCommands(program);
  registerHookCommands(program);
  registerMcpProxyCommands(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (error instanceof CliError) {
      process.stderr.write(`airlock: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

await main(process.argv);
