// Starting bubblewrap and receiving the sandbox's listener (DESIGN.md §4 "Listener hand-off").
// The init inside listens on 127.0.0.1:3128 in the sandbox's network namespace and sends the
// listening socket over Node's IPC channel (fd 3); we accept on it here, so connections cross
// no relay and the peer address is the kernel's.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Server } from "node:net";
import { constants } from "node:os";
import type { Writable } from "node:stream";
import { SECCOMP_FD } from "./bwrap.ts";
import { seccompFilter } from "./seccomp.ts";

export interface LaunchOptions {
  bwrap: string;
  args: readonly string[];
  env: Record<string, string>;
  /** How long the sandbox may take to hand over its listener. */
  startTimeoutMs?: number;
  /** "inherit" (default): the terminal passes straight through; "pipe": tests read the output. */
  stdio?: "inherit" | "pipe";
  /** Started instead of bubblewrap; runs it (with `args`) as its only child (see overlay.ts). */
  via?: { file: string; args: readonly string[] };
  /** An argv that execs bubblewrap (appended with `args`) in the same process (bwrap.ts privateTcpTable). */
  execVia?: readonly string[];
}

export interface ExitStatus {
  /** What `airlock run` exits with: the command's code, or 128 + signal number. */
  code: number;
  signal: NodeJS.Signals | null;
}

export interface RunningSandbox {
  listener: Server;
  /** Host pid of the sandbox's PID 1 (bubblewrap's reaper). */
  reaperPid: number;
  /** Host pid of the Airlock init (the command's parent). */
  initPid: number;
  bwrapPid: number;
  /** The bubblewrap child (its stdin/stdout/stderr streams when launched with stdio "pipe"). */
  child: ChildProcess;
  exited: Promise<ExitStatus>;
  /** Lets the command start: call once what it needs (the CA bundle) is in place. */
  release(): void;
  /** Delivers a signal to the init, which forwards it to the command's process group. */
  signal(signal: NodeJS.Signals): void;
  kill(): void;
}

export class SandboxStartError extends Error {
  constructor(
    message: string,
    readonly status: ExitStatus | null,
  ) {
    super(message);
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function statusOf(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
  if (code !== null) return { code, signal: null };
  return { code: 128 + (signal ? (constants.signals[signal] ?? 1) : 1), signal };
}

/** The program started and its argv: a wrapper, the exec chain, or bubblewrap itself. */
function startArgv(options: LaunchOptions): [string, readonly string[]] {
  if (options.via) return [options.via.file, options.via.args];
  const [file, ...rest] = [...(options.execVia ?? []), options.bwrap, ...options.args];
  return [file as string, rest];
}

export function launchSandbox(options: LaunchOptions): Promise<RunningSandbox> {
  const [file, args] = startArgv(options);
  const io = options.stdio ?? "inherit";
  const child: ChildProcess = spawn(file, args, {
    // fd 3: Node's IPC channel (the listener hand-off); fd SECCOMP_FD: the seccomp filter, read
    // by bubblewrap to its end (the supervisor writes it and closes its side).
    stdio: [io, io, io, "ipc", "pipe"],
    env: options.env,
    // Its own process group: a terminal's Ctrl-C reaches the supervisor, which forwards it to
    // the command; bubblewrap itself must not die of it.
    detached: true,
  });
  const filterPipe = child.stdio[SECCOMP_FD] as Writable | null | undefined;
  filterPipe?.on("error", () => {}); // bubblewrap gone before reading: its exit says why
  filterPipe?.end(seccompFilter());
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve(statusOf(code, signal)));
  });
  return new Promise<RunningSandbox>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(new SandboxStartError("the sandbox did not start within the time limit", null));
    }, options.startTimeoutMs ?? 30_000);
    child.once("error", (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new SandboxStartError(`cannot start bubblewrap: ${error.message}`, null));
    });
    void exited.then((status) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new SandboxStartError(`the sandbox exited before it was ready (status ${status.code})`, status));
    });
    child.on("message", (message: unknown, handle: unknown) => {
      if (settled) return; // one hand-off only; anything later is ignored
      const msg = message as { type?: string } | null;
      if (msg?.type !== "listener" || !(handle instanceof Server)) return;
      settled = true;
      clearTimeout(timer);
      const bwrapPid = options.via ? (childrenOf(child.pid as number)[0] ?? -1) : (child.pid as number);
      const reaperPid = childrenOf(bwrapPid)[0] ?? -1;
      const initPid = childrenOf(reaperPid)[0] ?? -1;
      resolve({
        listener: handle,
        reaperPid,
        initPid,
        bwrapPid,
        child,
        exited,
        release() {
          // Both ends close the channel once the word is out: the command never inherits it, and
          // a wrapper's copy of it does not keep it open.
          if (child.connected) child.send({ type: "go" }, () => child.connected && child.disconnect());
        },
        signal(signal) {
          try {
            process.kill(initPid, signal);
          } catch {
            // already gone
          }
        },
        kill() {
          // The wrapper's whole group (it and bubblewrap); the sandbox dies with bubblewrap.
          if (options.via && child.pid) {
            try {
              process.kill(-child.pid, "SIGKILL");
              return;
            } catch {
              // gone already
            }
          }
          child.kill("SIGKILL");
        },
      });
    });
  });
}
