// Where Airlock keeps its state: $AIRLOCK_HOME, default ~/.airlock (DESIGN.md §1).
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function airlockHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["AIRLOCK_HOME"];
  return fromEnv ? resolve(fromEnv) : join(homedir(), ".airlock");
}

export function sandboxDir(home: string, name: string): string {
  return join(home, "sandboxes", name);
}
