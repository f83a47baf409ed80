// What each $AIRLOCK_HOME/sandboxes/<name>/sandbox.json says: when the run started, whether it
// recorded an end, and whether it runs now (no end, and its supervisor is alive).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive } from "../sandbox/host-facts.ts";

export interface SandboxRecord {
  name: string;
  /** RFC 3339 start time ("" when unreadable: sorts oldest). */
  started: string;
  ended: string | null;
  running: boolean;
}

export function readSandboxRecord(home: string, name: string): SandboxRecord | null {
  let info: { started?: unknown; ended?: unknown; pid?: unknown };
  try {
    info = JSON.parse(readFileSync(join(home, "sandboxes", name, "sandbox.json"), "utf8"));
  } catch {
    return null; // not a sandbox directory (or not written yet)
  }
  const ended = typeof info.ended === "string" ? info.ended : null;
  return {
    name,
    started: typeof info.started === "string" ? info.started : "",
    ended,
    running: ended === null && typeof info.pid === "number" && processAlive(info.pid),
  };
}

/** Every sandbox that has a record under `home`. */
export function readSandboxRecords(home: string): SandboxRecord[] {
  let names: string[];
  try {
    names = readdirSync(join(home, "sandboxes"));
  } catch {
    return [];
  }
  return names.map((name) => readSandboxRecord(home, name)).filter((r): r is SandboxRecord => r !== null);
}
