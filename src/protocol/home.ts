// Where local gateway state lives: $AIRLOCK_HOME (default ~/.airlock).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * $AIRLOCK_HOME, default ~/.airlock (docs/design.md §1). A relative value is taken from the user's
 * home, never the current directory: every process (gateway, hooks run in the agent's
 * directory, the MCP proxy) must find the same home, and none may put it in the workdir.
 */
export function airlockHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.AIRLOCK_HOME ? resolve(homedir(), env.AIRLOCK_HOME) : join(homedir(), ".airlock");
}

export interface GatewayInfo {
  pid: number;
  port: number;
  host: string;
  url: string;
  db: string;
  started_at: string;
}

/** A sandbox's audit log folder (shorthand and OCSF daily files). */
export function sandboxLogDir(home: string, sandbox: string): string {
  return join(home, "sandboxes", sandbox, "logs");
}

export function gatewayInfoFile(home: string): string {
  return join(home, "gateway.json");
}

export function readGatewayInfo(home: string): GatewayInfo | null {
  const file = gatewayInfoFile(home);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as GatewayInfo;
  } catch {
    return null;
  }
}

export function readOperatorToken(home: string): string | null {
  const file = join(home, "operator.token");
  if (!existsSync(file)) return null;
  return readFileSync(file, "utf8").trim() || null;
}
