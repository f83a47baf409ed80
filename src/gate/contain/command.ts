// What a `contain` verdict becomes for an agent that runs the command itself and can take a
// rewritten one (Claude Code's `updatedInput.command`): the same shell command through
// `airlock gate contain`, in a sandbox with the workdir on an overlay, committed or discarded
// by the gate's contain rules. The one spelling, for the in-process hook and the gateway's.
import { AIRLOCK_BIN } from "../../package-root.ts";
import { shellQuote } from "../../sandbox/shell-quote.ts";

export function containedCommand(command: string, policyFile: string, workdir: string): string {
  return [
    process.execPath,
    AIRLOCK_BIN,
    "gate",
    "contain",
    "--policy",
    policyFile,
    "--workdir",
    workdir,
    "--",
    "bash",
    "-c",
    command,
  ]
    .map(shellQuote)
    .join(" ");
}
