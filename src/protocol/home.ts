// The one owner of $AIRLOCK_HOME's layout: where the home is, and the name of every file and
// folder under it. Every process (gateway, supervisor, hooks run in the agent's directory, the
// MCP proxy, the sandbox's scans) finds its paths here, so none builds one by hand and two
// cannot disagree. The sandbox record (sandbox.json) itself is in sandbox-record.ts.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * $AIRLOCK_HOME, default ~/.airlock (docs/design.md §1). A relative value is taken from the user's
 * home, never the current directory: every process (gateway, hooks run in the agent's
 * directory, the MCP proxy) must find the same home, and none may put it in the workdir.
 */
export function airlockHome(env: NodeJS.ProcessEnv = process.env, userHome: string = homedir()): string {
  return env.AIRLOCK_HOME ? resolve(userHome, env.AIRLOCK_HOME) : join(userHome, ".airlock");
}

/** The files that make a folder an Airlock home (the sandbox hides any folder holding one). */
export const HOME_MARKERS = ["operator.token", "gateway.json", "gateway.db"] as const;
const [OPERATOR_TOKEN, GATEWAY_INFO, GATEWAY_DB] = HOME_MARKERS;
/** The folder of per-sandbox folders, directly under the home. */
export const SANDBOXES = "sandboxes";

/** Every path directly under the home and under its gate/ folder. */
export function homePaths(home: string) {
  const gate = join(home, "gate");
  return {
    /** Where the local gateway listens (written by `airlock gateway start`). */
    gatewayInfo: join(home, GATEWAY_INFO),
    operatorToken: join(home, OPERATOR_TOKEN),
    /** The default SQLite store. */
    gatewayDb: join(home, GATEWAY_DB),
    gatewayLog: join(home, "gateway.log"),
    /** The gateway's audit log (OCSF): what it refused to store for a sandbox. */
    gatewayAudit: join(home, "gateway-logs"),
    /** The default gate policy. */
    gatePolicy: join(home, "gate.yaml"),
    sandboxes: join(home, SANDBOXES),
    receipts: join(gate, "receipts.jsonl"),
    receiptKey: join(gate, "receipt-key.pem"),
    receiptPublicKey: join(gate, "receipt-key.pub.pem"),
    classifierBreaker: join(gate, "classifier-breaker.json"),
    mcpPins: join(gate, "mcp-pins.json"),
    /** Developer notices of the MCP proxy. */
    gateLogs: join(gate, "logs"),
    /** Staging folders of contained runs. */
    containStages: join(gate, "contain"),
  };
}

/**
 * A sandbox's folder. The name must be one path segment: a name from a remote gateway or a
 * command line never leads out of sandboxes/ (`..`, `a/b`, an absolute path).
 */
export function sandboxDir(home: string, name: string): string {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0"))
    throw new Error(`not a sandbox name: ${JSON.stringify(name)} (a sandbox name is one path segment)`);
  return join(home, SANDBOXES, name);
}

/** Every path in one sandbox's folder (`sandboxDir`). */
export function sandboxFiles(dir: string) {
  return {
    /** The sandbox record (sandbox-record.ts). */
    record: join(dir, "sandbox.json"),
    /** The policy in force, as YAML. */
    policy: join(dir, "policy.yaml"),
    /** The per-sandbox CA's key and certificate. */
    ca: join(dir, "ca"),
    /** Audit logs: shorthand and OCSF daily files. */
    logs: join(dir, "logs"),
    /** Mount points bubblewrap created on the host, while they may still exist. */
    mountPoints: join(dir, "mountpoints.json"),
    /** What the sandbox trusts: the system's CAs and its own. */
    caBundle: join(dir, "ca-bundle.pem"),
    /** An empty file bound over protected files. */
    empty: join(dir, "empty"),
    /** An empty directory bound where an absent protected directory would be. */
    emptyDir: join(dir, "empty-dir"),
    /** The `commondir` a worktree's git folder sees. */
    commondir: join(dir, "commondir"),
    /** The sandbox's private copies of agent state files (~/.claude.json), merged back at the end. */
    agentState: join(dir, "agent-state"),
  };
}

/** The names of the sandbox folders under `home` (none when it has no sandboxes/). */
export function sandboxNames(home: string): string[] {
  try {
    return readdirSync(join(home, SANDBOXES));
  } catch {
    return [];
  }
}

export function readOperatorToken(home: string): string | null {
  const file = homePaths(home).operatorToken;
  if (!existsSync(file)) return null;
  return readFileSync(file, "utf8").trim() || null;
}

/** Shorthands for the two paths most callers want. */
export const gatewayInfoFile = (home: string): string => homePaths(home).gatewayInfo;
export const sandboxLogDir = (home: string, sandbox: string): string =>
  sandboxFiles(sandboxDir(home, sandbox)).logs;

/** The gate policy a command names: --policy, else $AIRLOCK_GATE_POLICY (an empty value names nothing). */
export function namedGatePolicy(flag: string | undefined, env = process.env): string | undefined {
  return flag || env["AIRLOCK_GATE_POLICY"] || undefined;
}

/** The gate policy in effect: the one named, else $AIRLOCK_HOME/gate.yaml. */
export function gatePolicyFile(flag: string | undefined, env = process.env): string {
  return namedGatePolicy(flag, env) ?? homePaths(airlockHome(env)).gatePolicy;
}
