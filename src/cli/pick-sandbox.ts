// Which sandbox a command means when none is named. Pure. The one running sandbox is meant; with
// several running, or none running and several known, the command refuses to guess and lists
// them. A finished sandbox is never taken over a running one.
import { CliError } from "./common.ts";

interface SandboxCandidate {
  name: string;
  running: boolean;
  /** When it last started (RFC 3339; "" unknown). */
  started: string;
}

function listing(candidates: readonly SandboxCandidate[]): string {
  return [...candidates]
    .sort((a, b) => Number(b.running) - Number(a.running) || b.started.localeCompare(a.started))
    .map(
      (c) =>
        `  ${c.name}  ${c.running ? "running" : "not running"}${c.started ? `, started ${c.started}` : ""}`,
    )
    .join("\n");
}

export function chooseSandbox(candidates: readonly SandboxCandidate[], where: string): string {
  if (candidates.length === 0)
    throw new CliError(`no sandbox yet (${where}): start one with \`airlock run -- CMD...\``);
  const running = candidates.filter((c) => c.running);
  if (running.length === 1) return (running[0] as SandboxCandidate).name;
  if (running.length === 0 && candidates.length === 1) return (candidates[0] as SandboxCandidate).name;
  const why = running.length > 1 ? `${running.length} sandboxes are running` : "no sandbox is running";
  throw new CliError(`${why}; name the one you mean (${where}):\n${listing(candidates)}`);
}
