// Shared CLI plumbing: exit codes, usage errors, JSON output.
import { type Command, InvalidArgumentError } from "commander";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** With `--exit-code`, a decision other than allow is an exit status a script can test. */
export const EXIT_DENY = 3;
export const EXIT_ASK = 4;

/** A failure the user can act on: printed as `airlock: <message>` with exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** A flag or argument the command cannot use: exit code 2, like the parser's own errors. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** The `--exit-code` status of a decision: 0 allow, 3 deny, 4 anything that still needs someone (ask, contain). */
export function decisionExitCode(decision: string): number {
  if (decision === "allow") return 0;
  return decision === "deny" ? EXIT_DENY : EXIT_ASK;
}

export const EXIT_CODE_HELP = "exit 0 on allow, 3 on deny, 4 on ask or contain (for scripts and CI)";

export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new InvalidArgumentError(`must be a port number 1..65535, got "${value}"`);
  }
  return Number(value);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The proxy's upstream overrides, the same on every command that starts a sandbox. */
export function upstreamOptions(command: Command): Command {
  return command
    .option(
      "--connect-to <HOST:PORT:ADDR:PORT2>",
      "dial ADDR:PORT2 when HOST:PORT is asked for (repeatable)",
      collect,
    )
    .option(
      "--upstream-ca <file>",
      "extra CA certificate (PEM) the proxy trusts upstream (repeatable)",
      collect,
    );
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The subcommand group `name` of `program`, created if no other module has made it yet. */
export function getOrCreateGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
