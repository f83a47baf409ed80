// `airlock logs [SANDBOX] [--follow] [--json] [--last N]`: a sandbox's audit log, read from its
// daily files under $AIRLOCK_HOME/sandboxes/<name>/logs/ (no gateway needed): shorthand lines, or
// the OCSF JSONL events with --json; --follow keeps printing what is appended until Ctrl-C.
import type { Command } from "commander";
import { followLog } from "../audit/follow.ts";
import { type LogKind, readRecentLines } from "../audit/reader.ts";
import { redactQueryIn } from "../audit/redact.ts";
import { airlockHome, sandboxLogDir } from "../protocol/home.ts";
import { readSandboxRuns, type SandboxRun } from "../supervisor/sandbox-runs.ts";
import { CliError, UsageError } from "./common.ts";
import { chooseSandbox } from "./pick-sandbox.ts";

/** The asked-for sandbox, or the one meant when none is named (src/cli/pick-sandbox.ts). */
export function pickSandbox(known: readonly SandboxRun[], asked: string | undefined, home: string): string {
  if (asked === undefined) return chooseSandbox(known, `under ${home}`);
  if (known.some((s) => s.name === asked)) return asked;
  const names = known
    .map((s) => s.name)
    .sort()
    .join(", ");
  throw new CliError(`unknown sandbox "${asked}" under ${home}; known sandboxes: ${names || "none"}`);
}

interface LogsOptions {
  follow?: boolean;
  json?: boolean;
  last: string;
}

export function registerLogsCommands(program: Command): void {
  program
    .command("logs")
    .description(
      "a sandbox's audit log: shorthand lines (or OCSF JSONL events with --json), oldest first; --follow prints new lines as they are written",
    )
    .argument("[sandbox]", "sandbox name (default: the running one, or the only one)")
    .option("--last <n>", "how many of the newest lines to print first (0 for none)", "50")
    .option("--follow", "keep printing lines as they are appended, until Ctrl-C")
    .option("--json", "print the OCSF JSON events (one per line) instead of shorthand lines")
    .action(async (sandbox: string | undefined, opts: LogsOptions) => {
      if (!/^\d+$/.test(opts.last))
        throw new UsageError(`--last must be a number of lines (0 or more), got "${opts.last}"`);
      const home = airlockHome();
      const name = pickSandbox(readSandboxRuns(home), sandbox, home);
      const dir = sandboxLogDir(home, name);
      const kind: LogKind = opts.json ? "ocsf" : "shorthand";
      // Shorthand lines are redacted when written; redacting again costs little and covers any origin.
      const show = opts.json ? (line: string) => line : redactQueryIn;
      const print = (line: string) => process.stdout.write(`${show(line)}\n`);

      const last = Number(opts.last);
      const recent = last > 0 ? readRecentLines(dir, kind, last) : { lines: [], logAvailable: true };
      for (const line of recent.lines.reverse()) print(line);
      if (!opts.follow) {
        if (!recent.logAvailable) process.stderr.write(`airlock: ${name} has no log lines yet (${dir})\n`);
        return;
      }
      const follower = followLog(dir, kind, print);
      await new Promise<void>((resolve) => {
        const stop = () => {
          follower.stop();
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
