// The absolute path of the command a sandbox runs, for its process events (OCSF wants the file's
// path; users type `bash`). Looked up on PATH the way execvp does; a name that is not found is
// given as typed, under the workdir if it names a relative file.
import { accessSync, constants, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

export function commandPath(command: string, path: string | undefined, cwd: string): string {
  if (command.includes("/")) return isAbsolute(command) ? command : resolve(cwd, command);
  for (const dir of (path ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = resolve(cwd, join(dir, command));
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return resolve(cwd, command);
}
