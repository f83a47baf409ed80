// Where Airlock's own files live (the sandbox init, the skill file, the inbox page, examples,
// bin/airlock.js). This module sits one level below the package root both as source (src/) and
// in the bundle (dist/, whose chunks are flat), so one relative step finds the root either way.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The `airlock` entry point, for starting another airlock process (a background gateway). */
export const AIRLOCK_BIN = join(PACKAGE_ROOT, "bin", "airlock.js");

export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
