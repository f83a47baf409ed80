// Where Airlock keeps a sandbox's state, below $AIRLOCK_HOME (src/gateway/home.ts decides where that is).
import { join } from "node:path";

export { airlockHome } from "../gateway/home.ts";

export function sandboxDir(home: string, name: string): string {
  return join(home, "sandboxes", name);
}
