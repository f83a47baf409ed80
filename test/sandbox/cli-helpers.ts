// Running the real `airlock run` as a child process, and a fake api.github.com on loopback
// (its own throwaway CA) that the sandbox reaches through --connect-to and --upstream-ca.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { createSandboxCA, LeafCache } from "../../src/proxy/ca.ts";

export const AIRLOCK_BIN = join(import.meta.dirname, "..", "..", "bin", "airlock.js");
export const REPO = join(import.meta.dirname, "..", "..");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  airlockHome: string;
  cwd?: string;
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Let `airlock run` join (and start) a gateway; off by default. */
  gateway?: boolean;
  /** Executed as users do (the kernel reads the #! line) instead of `node bin/airlock.js`. */
  asScript?: boolean;
  /** Called with the child and the stdout so far on every chunk (to send signals at the right time). */
  onStdout?: (child: ChildProcess, stdout: string) => void;
  /** Descriptors of this process handed to `airlock run` as its 3, 4, ... (what a shell may leave open). */
  inheritFds?: readonly number[];
  /** A command that sets something up and then execs the rest (`unshare ... sh -c '...; exec "$@"'`). */
  wrap?: readonly string[];
}

export function startCli(
  args: string[],
  options: CliOptions,
): { child: ChildProcess; done: Promise<CliRun> } {
  // These tests are about the sandbox: no control plane (which would start a local gateway).
  const argv = args[0] === "run" && !options.gateway ? ["run", "--no-gateway", ...args.slice(1)] : args;
  const [file, fileArgs] = options.asScript
    ? [AIRLOCK_BIN, argv]
    : [process.execPath, [AIRLOCK_BIN, ...argv]];
  const [command, commandArgs] = options.wrap?.[0]
    ? [options.wrap[0], [...options.wrap.slice(1), file, ...fileArgs]]
    : [file, fileArgs];
  const child = spawn(command, commandArgs, {
    cwd: options.cwd,
    env: { ...process.env, AIRLOCK_HOME: options.airlockHome, ...options.env },
    stdio: ["pipe", "pipe", "pipe", ...(options.inheritFds ?? [])],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
    options.onStdout?.(child, stdout);
  });
  child.stderr?.on("data", (d) => (stderr += d));
  child.stdin?.on("error", () => {}); // the command may exit without reading
  child.stdin?.end(options.stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise<CliRun>((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(args: string[], options: CliOptions): Promise<CliRun> {
  return startCli(args, options).done;
}

export interface FakeGithub {
  server: Server;
  port: number;
  caFile: string;
  requests: Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

/** https://api.github.com on 127.0.0.1:<port>, answering JSON that echoes method and path. */
export async function fakeGithub(dir: string): Promise<FakeGithub> {
  const ca = await createSandboxCA("fake-github-upstream");
  const { cert, key } = await new LeafCache(ca).mintPem("api.github.com");
  const caFile = join(dir, "upstream-ca.pem");
  writeFileSync(caFile, ca.certPem);
  const requests: FakeGithub["requests"] = [];
  const server = createServer({ cert, key }, (req, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "" });
    req.resume();
    const body = JSON.stringify({ fake: "api.github.com", method: req.method, path: req.url });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    caFile,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Every shorthand line the sandbox(es) under this Airlock home logged. */
export function allLogLines(airlockHome: string): string[] {
  const out: string[] = [];
  const root = join(airlockHome, "sandboxes");
  for (const name of readdirSync(root)) {
    const logs = join(root, name, "logs");
    let files: string[] = [];
    try {
      files = readdirSync(logs);
    } catch {
      continue;
    }
    for (const f of files)
      if (f.endsWith(".log")) out.push(...readFileSync(join(logs, f), "utf8").split("\n"));
  }
  return out.filter(Boolean);
}

/** Host processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) out.push(Number(entry));
    } catch {
      // exited
    }
  }
  return out;
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
