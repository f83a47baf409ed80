// Where the pinned real agents are installed (.ci/install puts them in $AIRLOCK_AGENT_CACHE,
// default /var/cache/airlock-agents, as <agent>@<version>/node_modules/.bin/<bin>).
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";

export type AgentName = "claude-code" | "codex";

interface Pin {
  package: string;
  version: string;
  bin: string;
}

export const PINNED: Record<AgentName, Pin> = JSON.parse(
  readFileSync(new URL("./pinned.json", import.meta.url), "utf8"),
);

export function agentCache(env: NodeJS.ProcessEnv = process.env): string {
  return env["AIRLOCK_AGENT_CACHE"] || "/var/cache/airlock-agents";
}

/** The installed CLI's absolute path, or null when the cache does not hold it. */
export function locateAgent(name: AgentName, env: NodeJS.ProcessEnv = process.env): string | null {
  const pin = PINNED[name];
  const bin = join(agentCache(env), `${name}@${pin.version}`, "node_modules", ".bin", pin.bin);
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    return null;
  }
}

/**
 * The CLI for a test: in CI a missing agent fails the test (it must have been installed);
 * elsewhere the test is skipped with the command that installs it.
 */
export function requireAgent(name: AgentName, t: TestContext): string | null {
  const bin = locateAgent(name);
  if (bin) return bin;
  const pin = PINNED[name];
  const how = `install it with: npm install --prefix ${agentCache()}/${name}@${pin.version} ${pin.package}@${pin.version} (or source .ci/install)`;
  if (process.env["CI"]) throw new Error(`${name} ${pin.version} is not installed. ${how}`);
  t.skip(`${name} ${pin.version} not installed; ${how}`);
  return null;
}
