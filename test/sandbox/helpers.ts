// Test plumbing for real sandboxes: temporary homes and workdirs outside the sandbox's fresh
// /tmp (so hiding is really tested), and a sandbox whose "proxy" answers each connection with
// the identity the supervisor computed for it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadPolicyValue } from "../../src/policy/load.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { createSandboxCA } from "../../src/proxy/ca.ts";
import { SandboxIdentifier } from "../../src/sandbox/identity.ts";
import type { OverlaySpec } from "../../src/sandbox/overlay.ts";
import {
  prepareSandbox,
  removeHostMountPoints,
  type SandboxSpec,
  startSandbox,
  writeCaBundle,
} from "../../src/sandbox/sandbox.ts";

let testCa: Promise<string> | undefined;
/** A real (throwaway) sandbox CA certificate, made once per test process. */
export function testCaPem(): Promise<string> {
  testCa ??= createSandboxCA("isolation-test").then((ca) => ca.certPem);
  return testCa;
}

/** A scratch directory below the user's home: not under /tmp, which the sandbox replaces. */
export function scratchDir(prefix: string): string {
  const base = join(homedir(), ".cache", "airlock-tests");
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function policyOf(value: unknown): Policy {
  const loaded = loadPolicyValue(value);
  if (!loaded.ok) throw new Error(`bad test policy: ${JSON.stringify(loaded.errors)}`);
  return loaded.value;
}

export interface SandboxRun {
  code: number;
  stdout: string;
  stderr: string;
  reaperPid: number;
}

export interface RunOptions {
  policy?: Policy;
  workdir?: string;
  home?: string;
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** Called once the sandbox is up (e.g. to send it a signal). */
  onStart?: (sandbox: Awaited<ReturnType<typeof startSandbox>>) => void;
  /** Handles each connection to 127.0.0.1:3128 inside; default: answer with the identity. */
  handler?: (socket: Socket, identifier: SandboxIdentifier) => void;
  identifier?: (reaperPid: number, initPid: number) => SandboxIdentifier;
  timeoutMs?: number;
  /** Use this Airlock home (kept afterwards) instead of a fresh one. */
  airlockHome?: string;
  /** Put the workdir on an overlay (src/sandbox/overlay.ts). */
  overlay?: OverlaySpec;
}

export function identityEcho(socket: Socket, identifier: SandboxIdentifier): void {
  socket.once("data", async () => {
    const id = await identifier.identify(socket);
    const body = JSON.stringify(id);
    socket.end(
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  socket.on("error", () => {});
}

export async function runSandboxed(command: string[], options: RunOptions = {}): Promise<SandboxRun> {
  const airlockHome = options.airlockHome ?? scratchDir("home");
  const ownWorkdir = options.workdir === undefined;
  const workdir = options.workdir ?? scratchDir("wd");
  const stateDir = join(airlockHome, "sandboxes", "test");
  mkdirSync(stateDir, { recursive: true });
  const spec: SandboxSpec = {
    name: "test",
    policy: options.policy ?? policyOf({ version: 1 }),
    workdir,
    command,
    stateDir,
    airlockHome,
    hostEnv: { ...process.env, ...options.env },
    home: options.home,
    stdio: "pipe",
    ...(options.overlay ? { overlay: options.overlay } : {}),
  };
  const cleanup = () => {
    if (options.airlockHome === undefined) removeDir(airlockHome);
    if (ownWorkdir) removeDir(workdir);
  };
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    const prepared = prepareSandbox(spec);
    writeCaBundle(prepared, await testCaPem());
    sandbox = await startSandbox(spec, prepared);
  } catch (error) {
    cleanup();
    throw error;
  }
  const identifier =
    options.identifier?.(sandbox.reaperPid, sandbox.initPid) ??
    new SandboxIdentifier({ reaperPid: sandbox.reaperPid, initPid: sandbox.initPid });
  sandbox.listener.on("connection", (socket) => (options.handler ?? identityEcho)(socket, identifier));
  sandbox.release();
  let stdout = "";
  let stderr = "";
  sandbox.child.stdout?.on("data", (d) => (stdout += d));
  sandbox.child.stderr?.on("data", (d) => (stderr += d));
  sandbox.child.stdin?.on("error", () => {}); // the command may exit without reading
  sandbox.child.stdin?.end(options.stdin ?? "");
  options.onStart?.(sandbox);
  // Not the child's "close" event: it also waits for the IPC channel, which is gone by now.
  const ended = (stream: NodeJS.ReadableStream | null) =>
    new Promise<void>((resolve) => (stream ? stream.once("end", () => resolve()) : resolve()));
  const closed = Promise.all([ended(sandbox.child.stdout), ended(sandbox.child.stderr)]);
  const timer = setTimeout(() => sandbox.kill(), options.timeoutMs ?? 30_000);
  const status = await sandbox.exited;
  await closed; // output fully read
  clearTimeout(timer);
  sandbox.listener.close();
  const createdOnHost = JSON.parse(readFileSync(join(stateDir, "mountpoints.json"), "utf8")) as string[];
  removeHostMountPoints(createdOnHost, airlockHome, stateDir);
  cleanup();
  return { code: status.code, stdout, stderr, reaperPid: sandbox.reaperPid };
}

/** `name:ok` / `name:FAIL` lines → a map. */
export function verdicts(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^([\w.-]+):(.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}
