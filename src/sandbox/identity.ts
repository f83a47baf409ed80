// Binary identity (docs/design.md §4.1): which executable inside the sandbox opened a connection.
// 4-tuple → client socket inode (/proc/<sandbox>/net/tcp{,6}) → the sandbox processes holding
// that inode (/proc/<pid>/fd) → /proc/<pid>/exe and the parent chain up to the sandbox init.
// Every owner must run the same executable; each executable's SHA-256 is recorded on first use
// and a later different hash for the same path is a deny. argv never grants anything.
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import { findClientInode, parseProcNetTcp } from "./proc-net.ts";

export interface SandboxIdentity {
  binary: string;
  /** Executables of the parent chain, nearest first, up to (not including) the sandbox init. */
  ancestors: string[];
  pid: number;
  sha256: string;
}

export type IdentityResult =
  | ({ ok: true } & SandboxIdentity)
  | { ok: false; reason: string; binary?: string };

const DELETED = " (deleted)";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Host pids of every process in the sandbox, found from its PID 1 (orphans reparent to it). */
export function sandboxPids(reaperPid: number): number[] {
  const out: number[] = [];
  const queue = [reaperPid];
  while (queue.length > 0 && out.length < 100_000) {
    const pid = queue.shift() as number;
    out.push(pid);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const children = readText(`/proc/${pid}/task/${tid}/children`);
      if (!children) continue;
      for (const c of children.trim().split(/\s+/)) if (c) queue.push(Number(c));
    }
  }
  return out;
}

function parentPid(pid: number): number | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[1]);
}

function ownsSocket(pid: number, link: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** The executable as the sandbox names it; the sandbox's root is `/` bound from the host, and the
 * kernel reports the path relative to the process's own root, so no translation is needed. */
function exePath(pid: number): string | null {
  try {
    const path = readlinkSync(`/proc/${pid}/exe`);
    return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
  } catch {
    return null;
  }
}

/** SHA-256 per executable path, recorded on first use; hashes cached per file (dev, inode, size, mtime). */
export class BinaryHashes {
  private readonly byFile = new Map<string, Promise<string>>();
  readonly byPath = new Map<string, string>();

  /** Hash of the file a process is executing (read through /proc/<pid>/exe: the very inode). */
  async hashOf(pid: number): Promise<string> {
    const st = statSync(`/proc/${pid}/exe`);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    let hash = this.byFile.get(key);
    if (!hash) {
      hash = new Promise<string>((resolve, reject) => {
        const h = createHash("sha256");
        createReadStream(`/proc/${pid}/exe`)
          .on("data", (chunk) => h.update(chunk))
          .on("end", () => resolve(h.digest("hex")))
          .on("error", reject);
      });
      this.byFile.set(key, hash);
      hash.catch(() => this.byFile.delete(key));
    }
    return hash;
  }

  /** null when consistent (recording it if new), else the deny reason. */
  check(path: string, sha256: string): string | null {
    const known = this.byPath.get(path);
    if (known === undefined) {
      this.byPath.set(path, sha256);
      return null;
    }
    if (known === sha256) return null;
    return `binary ${path} changed since its first use in this sandbox (sha256 ${known.slice(0, 12)}… → ${sha256.slice(0, 12)}…)`;
  }
}

export interface IdentifierOptions {
  /** Host pid of the sandbox's PID 1 (bubblewrap's reaper): its net namespace is the sandbox's. */
  reaperPid: number;
  /** Host pid of the Airlock init; the ancestor chain stops below it. */
  initPid: number;
  hashes?: BinaryHashes;
  cacheSize?: number;
}

/** Identifies the process behind each accepted connection. One per sandbox. */
export class SandboxIdentifier {
  readonly hashes: BinaryHashes;
  private readonly cache = new Map<number, Promise<IdentityResult>>();

  constructor(private readonly options: IdentifierOptions) {
    this.hashes = options.hashes ?? new BinaryHashes();
  }

  /** Identity of the client of a socket the supervisor accepted on the sandbox's listener. */
  async identify(socket: Socket): Promise<IdentityResult> {
    const peer = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    const listener = { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    const inode = this.findInode(peer, listener);
    if (inode === null) return { ok: false, reason: "no socket in the sandbox matches the connection" };
    let result = this.cache.get(inode);
    if (!result) {
      result = this.identifyInode(inode);
      this.remember(inode, result);
      socket.once("close", () => this.cache.delete(inode));
    }
    return result;
  }

  private remember(inode: number, result: Promise<IdentityResult>): void {
    this.cache.set(inode, result);
    const max = this.options.cacheSize ?? 4096;
    if (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as number);
  }

  private findInode(
    peer: { address: string; port: number },
    listener: { address: string; port: number },
  ): number | null {
    for (const table of ["tcp", "tcp6"]) {
      const text = readText(`/proc/${this.options.reaperPid}/net/${table}`);
      if (!text) continue;
      const inode = findClientInode(parseProcNetTcp(text), peer, listener);
      if (inode !== null) return inode;
    }
    return null;
  }

  private async identifyInode(inode: number): Promise<IdentityResult> {
    const link = `socket:[${inode}]`;
    const pids = sandboxPids(this.options.reaperPid).filter(
      (p) => p !== this.options.reaperPid && p !== this.options.initPid,
    );
    const owners = pids.filter((pid) => ownsSocket(pid, link));
    if (owners.length === 0) return { ok: false, reason: "no process in the sandbox holds the connection" };
    const binaries = new Set<string>();
    for (const pid of owners) {
      const exe = exePath(pid);
      if (exe === null) return { ok: false, reason: `cannot read the executable of pid ${pid}` };
      binaries.add(exe);
    }
    if (binaries.size > 1) {
      return {
        ok: false,
        reason: `processes running different binaries share the connection (${[...binaries].join(", ")})`,
      };
    }
    const pid = Math.min(...owners);
    const binary = [...binaries][0] as string;
    const chain = this.ancestorPids(pid);
    const ancestors: string[] = [];
    try {
      const sha256 = await this.hashes.hashOf(pid);
      for (const [exe, p] of [[binary, pid] as const, ...chain.map((a) => [exePath(a), a] as const)]) {
        if (exe === null) return { ok: false, reason: `cannot read the executable of pid ${p}`, binary };
        const hash = p === pid ? sha256 : await this.hashes.hashOf(p);
        const changed = this.hashes.check(exe, hash);
        if (changed) return { ok: false, reason: changed, binary };
        if (p !== pid) ancestors.push(exe);
      }
      return { ok: true, binary, ancestors, pid, sha256 };
    } catch (error) {
      return {
        ok: false,
        reason: `cannot hash the executable of pid ${pid}: ${(error as Error).message}`,
        binary,
      };
    }
  }

  /** Parent pids from the process up to, not including, the init. */
  private ancestorPids(pid: number): number[] {
    const out: number[] = [];
    let current = parentPid(pid);
    while (
      current !== null &&
      current !== this.options.initPid &&
      current !== this.options.reaperPid &&
      current > 1
    ) {
      out.push(current);
      if (out.length > 256) break;
      current = parentPid(current);
    }
    return out;
  }
}
