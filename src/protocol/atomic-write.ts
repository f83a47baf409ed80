// Writing a file whole or not at all: a reader (or a process that starts after a crash) sees
// the old content or the new, never a torn one.
import { closeSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";

/** Writes `text` to a temporary file beside `file`, then renames it over `file`. */
export function writeAtomically(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  // "wx": a file planted at that name is refused, never followed or overwritten.
  const fd = openSync(tmp, "wx", mode);
  try {
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
