// `airlock gateway start|stop|status` (and the foreground `run` that `start` daemonizes).
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { defaultDbUrl, redactDbUrl } from "../gateway/store/open.ts";
import { AIRLOCK_BIN } from "../package-root.ts";
import { loadPolicyFile } from "../policy/file.ts";
import { formatProblem } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { writeAtomically } from "../protocol/atomic-write.ts";
import { GatewayClient } from "../protocol/client.ts";
import {
  type GatewayInfo,
  GatewayInfoError,
  readGatewayInfo as readInfoFile,
} from "../protocol/gateway-info.ts";
import { airlockHome, gatewayInfoFile, homePaths, readOperatorToken } from "../protocol/home.ts";
import { processAlive as alive } from "../sandbox/host-facts.ts";
import { CliError, parsePort, printJson } from "./common.ts";

interface StartOptions {
  port?: number;
  host?: string;
  db?: string;
  ceiling?: string;
  gatePolicy?: string;
}

/** The operator's ceiling policy (the most auto-approval may grant), checked before the gateway starts. */
function loadCeiling(file: string | undefined): Policy | undefined {
  if (!file) return undefined;
  const loaded = loadPolicyFile(file);
  if (!loaded.ok) throw new CliError(`--ceiling: ${loaded.errors.map(formatProblem).join("\n")}`);
  return loaded.value;
}

/** gateway.json, or null; a damaged one is an error naming the file and the field (exit 1). */
function readGatewayInfo(home: string): GatewayInfo | null {
  try {
    return readInfoFile(home);
  } catch (error) {
    throw error instanceof GatewayInfoError ? new CliError(error.message) : error;
  }
}

/** Guards against a recycled pid: only a process running `gateway run` is ours to stop. */
function isOurGateway(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.includes("gateway") && argv.includes("run");
  } catch {
    return false;
  }
}

async function healthy(info: GatewayInfo, home: string): Promise<boolean> {
  if (!alive(info.pid)) return false;
  try {
    await new GatewayClient({
      url: info.url,
      token: readOperatorToken(home) ?? "",
      timeoutMs: 2000,
    }).health();
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a background gateway unless one answers already; returns where it is. */
export async function ensureGateway(
  opts: StartOptions = {},
): Promise<{ info: GatewayInfo; started: boolean }> {
  const home = airlockHome();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const existing = readGatewayInfo(home);
  if (existing && (await healthy(existing, home))) return { info: existing, started: false };
  const args = [AIRLOCK_BIN, "gateway", "run"];
  if (opts.port) args.push("--port", String(opts.port));
  if (opts.host) args.push("--host", opts.host);
  if (opts.db) args.push("--db", opts.db);
  if (opts.ceiling) args.push("--ceiling", resolve(opts.ceiling));
  loadCeiling(opts.ceiling);
  if (opts.gatePolicy) args.push("--gate-policy", resolve(opts.gatePolicy));
  const log = openSync(homePaths(home).gatewayLog, "a");
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", log, log],
    env: process.env,
  });
  closeSync(log);
  child.unref();
  let exited: number | null = null;
  child.once("exit", (code) => {
    exited = code ?? 1;
  });
  for (let i = 0; i < 150; i++) {
    await sleep(100);
    if (exited !== null) break;
    const info = readGatewayInfo(home);
    if (info && info.pid === child.pid && (await healthy(info, home))) return { info, started: true };
  }
  throw new CliError(`the gateway did not start; see ${homePaths(home).gatewayLog}`);
}

export function registerGatewayCommands(program: Command): void {
  const gateway = program
    .command("gateway")
    .description("run the control plane (proposals, revisions, inbox)");

  gateway
    .command("start")
    .description("start the gateway in the background (no-op if one is running)")
    .option("--port <port>", "TCP port (default: any free port)", parsePort)
    .option("--host <addr>", "address to bind (default 127.0.0.1)")
    .option("--db <url>", "store: sqlite:PATH (default $AIRLOCK_HOME/gateway.db) or postgres://...")
    .option("--ceiling <file>", "policy naming the most approval_mode=auto may ever grant")
    .option(
      "--gate-policy <file>",
      "gate policy for POST /v1/gate/decide (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)",
    )
    .option("--json", "print whether it started, and where it runs, as JSON")
    .action(async (opts: StartOptions & { json?: boolean }) => {
      const { info, started } = await ensureGateway(opts);
      if (opts.json) return printJson({ started, ...info });
      process.stdout.write(
        `${started ? "gateway started" : "gateway already running"} at ${info.url} (pid ${info.pid}, store ${info.db})\n`,
      );
    });

  gateway
    .command("run", { hidden: true })
    .description("run the gateway in the foreground")
    .option("--port <port>", "TCP port", parsePort)
    .option("--host <addr>", "address to bind")
    .option("--db <url>", "store URL")
    .option("--ceiling <file>", "ceiling policy for approval_mode=auto")
    .option("--gate-policy <file>", "gate policy for POST /v1/gate/decide")
    .action(async (opts: StartOptions) => {
      const home = airlockHome();
      const existing = readGatewayInfo(home);
      if (existing && existing.pid !== process.pid && (await healthy(existing, home)))
        throw new CliError(`a gateway already runs for ${home} at ${existing.url} (pid ${existing.pid})`);
      const db = opts.db ?? process.env.AIRLOCK_GATEWAY_DB ?? defaultDbUrl(home);
      const ceiling = loadCeiling(opts.ceiling);
      const { createGateDecider } = await import("../gate/decider.ts");
      const gate = createGateDecider(opts.gatePolicy ? { policy: resolve(opts.gatePolicy) } : {});
      const { startGateway } = await import("../gateway/server.ts"); // the server loads only here
      const gw = await startGateway({ home, port: opts.port ?? 0, host: opts.host, db, ceiling, gate });
      const info: GatewayInfo = {
        pid: process.pid,
        port: gw.port,
        host: opts.host ?? "127.0.0.1",
        url: gw.url,
        db: redactDbUrl(db),
        started_at: new Date().toISOString(),
      };
      writeAtomically(gatewayInfoFile(home), `${JSON.stringify(info, null, 2)}\n`, 0o600);
      process.stdout.write(`airlock gateway listening on ${gw.url} (store ${info.db})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
      const current = readGatewayInfo(home);
      if (current?.pid === process.pid) rmSync(gatewayInfoFile(home), { force: true });
      await gw.close();
    });

  gateway
    .command("status")
    .description("say whether a gateway is running and where")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      const home = airlockHome();
      const info = readGatewayInfo(home);
      const running = info !== null && (await healthy(info, home));
      if (opts.json) printJson({ running, ...(info && running ? info : {}) });
      else if (running && info)
        process.stdout.write(`gateway running at ${info.url} (pid ${info.pid}, store ${info.db})\n`);
      else process.stdout.write("gateway not running (start it with `airlock gateway start`)\n");
      if (!running) process.exitCode = 1;
    });

  gateway
    .command("stop")
    .description("stop the background gateway")
    .action(async () => {
      const home = airlockHome();
      const info = readGatewayInfo(home);
      if (!info || !alive(info.pid) || !isOurGateway(info.pid)) {
        rmSync(gatewayInfoFile(home), { force: true });
        process.stdout.write("gateway not running\n");
        return;
      }
      process.kill(info.pid, "SIGTERM");
      for (let i = 0; i < 100 && alive(info.pid); i++) await sleep(100);
      if (alive(info.pid)) process.kill(info.pid, "SIGKILL");
      if (existsSync(gatewayInfoFile(home))) rmSync(gatewayInfoFile(home), { force: true });
      process.stdout.write(`gateway stopped (pid ${info.pid})\n`);
    });
}
