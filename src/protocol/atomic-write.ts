// Writing a file whole or not at all: a reader (or a process that starts after a crash) sees
// the old content or the new, never a torn one.
import { renameSync, rmSync, writeFileSync } from "node:fs";

/** Writes `text` to a temporary file beside `file`, then renames it over `file`. */
export function writeAtomically(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, text, { mode, flag: "wx" }); // a file planted at that name is never followed
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
