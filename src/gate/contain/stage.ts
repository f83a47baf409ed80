// The staging folders of contained runs ($AIRLOCK_HOME/gate/contain/run-*). A run marks its
// folder with its pid while it is under way. A folder whose mark names a process that is gone
// was left by a run that was killed (kill -9, a crash) and is removed by the next run; a change
// set kept on purpose (--keep) carries no mark and stays.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive } from "../../sandbox/host-facts.ts";

const OWNER = "owner.pid";

export function createStage(base: string): string {
  mkdirSync(base, { recursive: true, mode: 0o700 });
  removeAbandonedStages(base);
  const dir = mkdtempSync(join(base, "run-"));
  writeFileSync(join(dir, OWNER), `${process.pid}\n`);
  return dir;
}

/** The run is over and its change set is kept: no longer anyone's work in progress. */
export function keepStage(dir: string): void {
  rmSync(join(dir, OWNER), { force: true });
}

/** Removes the folders of runs whose process is gone; returns them. */
export function removeAbandonedStages(base: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(base)) {
    if (!name.startsWith("run-")) continue;
    const dir = join(base, name);
    let pid: number;
    try {
      pid = Number(readFileSync(join(dir, OWNER), "utf8").trim());
    } catch {
      continue; // kept on purpose, or not one of ours
    }
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
