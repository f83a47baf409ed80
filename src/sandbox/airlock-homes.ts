// Every Airlock home is hidden from every sandbox, not only the one it runs from: a home holds
// an operator token, CA keys and other sandboxes' logs. Homes are known from a per-user record
// that each start adds its own to (and from the start-time scans, which recognise a home by its
// files); the record itself is hidden too, so no sandbox can strike a home off it.
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../protocol/atomic-write.ts";

/** `$XDG_STATE_HOME/airlock` (default `~/.local/state/airlock`): where the record lives. */
export function homesRecordDir(home: string, env: NodeJS.ProcessEnv): string {
  const state = env["XDG_STATE_HOME"];
  return join(state?.startsWith("/") ? state : join(home, ".local", "state"), "airlock");
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds `airlockHome` to the record in `recordDir` (dropping homes that no longer exist) and
 * returns every home on it. A record that cannot be written still yields what it holds.
 */
export function registerAirlockHome(recordDir: string, airlockHome: string): string[] {
  const file = join(recordDir, "homes");
  let known: string[] = [];
  try {
    known = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("/"));
  } catch {
    // no record yet
  }
  const homes = [...new Set([...known.filter(exists), airlockHome])];
  if (homes.length !== known.length || !known.includes(airlockHome)) {
    try {
      mkdirSync(recordDir, { recursive: true, mode: 0o700 });
      writeAtomically(file, `${homes.join("\n")}\n`, 0o600);
    } catch {
      // read-only home: the homes found by the scans are still hidden
    }
  }
  return homes;
}
