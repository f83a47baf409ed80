// Whether each sandbox under $AIRLOCK_HOME runs: when its run started, whether it recorded an
// end, and whether it runs now (no end, and its supervisor is alive). The record itself is
// src/protocol/sandbox-record.ts's.
import { sandboxDir, sandboxNames } from "../protocol/home.ts";
import { readSandboxRecord } from "../protocol/sandbox-record.ts";
import { processAlive } from "../sandbox/host-facts.ts";

export interface SandboxRun {
  name: string;
  /** RFC 3339 start time ("" when the record has none: sorts oldest). */
  started: string;
  ended: string | null;
  running: boolean;
}

export function readSandboxRun(home: string, name: string): SandboxRun | null {
  const record = readSandboxRecord(sandboxDir(home, name));
  if (!record) return null; // not a sandbox directory (or not written yet)
  const ended = record.ended ?? null;
  const running = ended === null && record.pid !== undefined && processAlive(record.pid);
  return { name, started: record.started ?? "", ended, running };
}

/** Every sandbox that has a record under `home`. */
export function readSandboxRuns(home: string): SandboxRun[] {
  return sandboxNames(home)
    .map((name) => readSandboxRun(home, name))
    .filter((r): r is SandboxRun => r !== null);
}
