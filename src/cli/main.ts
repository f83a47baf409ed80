// The `airlock` command: parses flags, calls the parts, renders. Exit codes: 0 ok, 1 failure, 2 usage.
import { Command, CommanderError } from "commander";
import { registerAgentCommands } from "./agent.ts";
import { CliError, EXIT_USAGE } from "./common.ts";
import { registerCompletionCommands } from "./completion.ts";
import { registerDemoCommands } from "./demo.ts";
import { registerDenialsCommands } from "./denials.ts";
import { registerGateCommands } from "./gate.ts";
import { registerGatewayCommands } from "./gateway.ts";
import { registerHookCommands } from "./hook.ts";
import { registerInboxCommands } from "./inbox.ts";
import { registerLogsCommands } from "./logs.ts";
import { registerMcpProxyCommands } from "./mcp-proxy.ts";
import { registerPolicyCommands } from "./policy.ts";
import { registerPolicyRemoteCommands } from "./policy-remote.ts";
import { registerRuleCommands } from "./rule.ts";
import { registerRunCommands } from "./run.ts";
import { registerSettingsCommands } from "./settings.ts";

export function buildProgram(): Command {
  const program = new Command("airlock")
    .description("Run an AI agent in a sandbox whose only way out is a policy proxy you review live.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerPolicyCommands(program);
  registerPolicyRemoteCommands(program);
  registerGatewayCommands(program);
  registerRuleCommands(program);
  registerSettingsCommands(program);
  registerDenialsCommands(program);
  registerLogsCommands(program);
  registerGateCommands(program);
  registerHookCommands(program);
  registerAgentCommands(program);
  registerMcpProxyCommands(program);
  registerRunCommands(program);
  registerInboxCommands(program);
  registerDemoCommands(program);
  registerCompletionCommands(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
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

// A reader that stops early (`airlock ... | head`) is not an error.
export function exitQuietlyOnBrokenPipe(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}
