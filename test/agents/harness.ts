// What the real-agent hook tests share: a gateway of our own (in process, as `airlock gateway
// start` leaves it: gateway.json and operator.token in its home), `airlock agent setup` run as
// the user runs it, and a project with a victim outside it, a secret and a marker inside it.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Turn } from "../../src/demo/fake-model/scenario.ts";
import { createGateDecider } from "../../src/gate/decider.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/server.ts";
import { GatewayClient } from "../../src/protocol/client.ts";
import { gatewayInfoFile } from "../../src/protocol/home.ts";
import type { AgentName } from "./locate.ts";

export const GATE_POLICY = join(import.meta.dirname, "fixtures", "gate.yaml");
export const SECRET = "sk-live-7f3a9c1e5b2d8f40";
export const MARKER = "marker-5e0c2a91";

export interface Airlock {
  home: string;
  gw: RunningGateway;
  op: GatewayClient;
  close(): Promise<void>;
}

/** A gateway on loopback with its home files, deciding with the tests' gate policy. */
export async function startAirlock(): Promise<Airlock> {
  const home = mkdtempSync(join(tmpdir(), "airlock-agents-"));
  const gw = await startGateway({
    home,
    port: 0,
    db: `sqlite:${join(home, "gateway.db")}`,
    gate: createGateDecider({ policy: GATE_POLICY, receipts: join(home, "gate", "receipts.jsonl") }),
  });
  const info = {
    pid: process.pid,
    port: gw.port,
    host: "127.0.0.1",
    url: gw.url,
    db: "sqlite",
    started_at: "",
  };
  writeFileSync(gatewayInfoFile(home), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  return {
    home,
    gw,
    op: new GatewayClient({ url: gw.url, token: gw.operatorToken }),
    async close() {
      await gw.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `airlock ARGS` as a process (bin/airlock.js), asynchronously: the gateway lives in this process. */
export function airlock(
  args: string[],
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): Promise<CliRun> {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(process.cwd(), "bin", "airlock.js"), ...args], {
      cwd,
      env: merged,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

export interface Project {
  /** The user's HOME for the agent and for `airlock agent setup`. */
  userHome: string;
  workdir: string;
  victim: string;
}

/** A scratch user: HOME with no ~/.claude or ~/.codex, a project, a victim folder outside it. */
export function makeProject(): Project {
  const userHome = mkdtempSync(join(tmpdir(), "agent-user-"));
  const workdir = join(userHome, "project");
  mkdirSync(workdir);
  writeFileSync(join(workdir, "marker.txt"), `${MARKER}\n`);
  writeFileSync(join(workdir, ".env"), `API_KEY=${SECRET}\n`);
  const victim = join(userHome, "victim");
  mkdirSync(victim);
  writeFileSync(join(victim, "keep.txt"), "keep me\n");
  return { userHome, workdir, victim };
}

/** A home whose gateway.json and token point the hook at `url` (a stand-in, or nothing at all). */
export function homePointingAt(url: string): string {
  const home = mkdtempSync(join(tmpdir(), "airlock-standin-"));
  writeFileSync(gatewayInfoFile(home), `${JSON.stringify({ url }, null, 2)}\n`);
  writeFileSync(join(home, "operator.token"), "standin-token\n");
  return home;
}

/** `airlock agent setup AGENT --user` for this user and the gateway of `home` (asks wait `wait` seconds). */
export function setupAgent(
  agent: AgentName,
  home: string,
  p: Project,
  o: { wait: number; codexBin?: string; policy?: string; extra?: string[] },
): Promise<CliRun> {
  return airlock(
    [
      "agent",
      "setup",
      agent,
      "--user",
      "--policy",
      o.policy ?? GATE_POLICY,
      "--ask-wait",
      String(o.wait),
      ...(o.codexBin ? ["--codex-bin", o.codexBin] : []),
      ...(o.extra ?? []),
    ],
    userEnv(home, p),
    p.workdir,
  );
}

/** The environment `airlock agent ...` runs in: the scratch user's, with the given Airlock home. */
export function userEnv(home: string, p: Project): Record<string, string | undefined> {
  return {
    HOME: p.userHome,
    AIRLOCK_HOME: home,
    AIRLOCK_GATEWAY: undefined,
    AIRLOCK_TOKEN: undefined,
    AIRLOCK_GATE_POLICY: undefined,
    CODEX_HOME: undefined,
    CLAUDE_CONFIG_DIR: undefined,
  };
}

/** `airlock agent doctor AGENT` for this user. */
export function doctorAgent(
  agent: AgentName,
  home: string,
  p: Project,
  extra: string[] = [],
): Promise<CliRun> {
  return airlock(["agent", "doctor", agent, ...extra], userEnv(home, p), p.workdir);
}

/** The model's turn that runs `command` in the agent's shell tool. */
export function shellTurn(agent: AgentName, command: string): Turn {
  return agent === "claude-code"
    ? { tool: "Bash", input: { command, description: "step" } }
    : { tool: "exec_command", input: { cmd: command } };
}
