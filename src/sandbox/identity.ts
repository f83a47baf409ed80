// Binary identity (docs/design.md §4.1): which executable inside the sandbox holds a connection, taken
// each time a request head arrives (a socket can change hands between requests: fork, exec,
// SCM_RIGHTS). 4-tuple → the client socket's inode (/proc/<sandbox>/net/tcp{,6}) → every
// sandbox process holding it, found in the sandbox's own /proc (its pid namespace: only its
// processes are scanned) → each holder's executable. Every holder must run the same executable
// and none may run code loaded from elsewhere (loaded-code.ts); an executable the host did not
// put on a read-only mount is reported as writable (no binary glob matches it). Each
// executable's SHA-256 is recorded on first use; a later different hash for the same path is a
// deny. Ancestors are read only when a rule grants to a binary's children. argv never grants
// anything.
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import type { Socket } from "node:net";
import { judgeLoadedCode, type MountEntry, parseMountInfo } from "./loaded-code.ts";
import { exePath, type Holder, holdersAmong, listDir } from "./proc-holders.cjs";
import { findClientInode } from "./proc-net.ts";
import { type PendingRead, procReader, readProcText as readText } from "./proc-reader.ts";

export interface SandboxIdentity {
  binary: string;
  /** Executables of the parent chain, nearest first, up to (not including) the sandbox init; only
   * those that run nothing loaded from elsewhere. Empty unless asked for. */
  ancestors: string[];
  /** Those of the binary and ancestors whose file is not on a read-only mount (the sandbox may
   * have written it): a policy glob does not match them. */
  writable: string[];
  /** The holder's pid as the sandbox sees it (the lowest, when several hold the socket). */
  pid: number;
  sha256: string;
}

export type IdentityResult =
  | ({ ok: true } & SandboxIdentity)
  | { ok: false; reason: string; binary?: string };

const NUMERIC = /^\d+$/;
/** From this many processes on, the reader thread takes part in the scan (below it, reads the maps). */
const SPLIT_AT = 4;

/** Parent pid from /proc/<pid>/stat (the command name may hold spaces and parentheses). */
function parentOf(dir: string): number | null {
  const stat = readText(`${dir}/stat`);
  if (!stat) return null;
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** SHA-256 per executable path, recorded on first use; hashes cached per file (dev, inode, size, mtime). */
export class BinaryHashes {
  private readonly byFile = new Map<string, Promise<string>>();
  readonly byPath = new Map<string, string>();

  /** Hash of the file a process is executing, read through `<dir>/exe`: the very inode it runs. */
  async hashOf(dir: string): Promise<string> {
    const st = statSync(`${dir}/exe`);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    let hash = this.byFile.get(key);
    if (!hash) {
      hash = new Promise<string>((resolve, reject) => {
        const h = createHash("sha256");
        createReadStream(`${dir}/exe`)
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
  /** Host pid of the sandbox's PID 1 (bubblewrap's reaper): its net namespace and /proc are the sandbox's. */
  reaperPid: number;
  /** Host pid of the Airlock init; the ancestor chain stops below it. */
  initPid: number;
  hashes?: BinaryHashes;
}

export interface IdentifyOptions {
  /** Read the parent chain too (only a rule with `children: true` needs it). */
  ancestors?: boolean;
}

/** Identifies the process holding each client connection. One per sandbox. */
export class SandboxIdentifier {
  readonly hashes: BinaryHashes;
  /** The sandbox's /proc (its own pid namespace), reached through its PID 1's root. */
  private readonly proc: string;
  /** Pids (as the sandbox sees them) that are Airlock's, not the command's: PID 1 and the init. */
  private readonly own: ReadonlySet<number>;
  private mountTable: MountEntry[] | undefined;
  /** The client end's inode per accepted socket: fixed for the connection's life (its 4-tuple is). */
  private readonly inodes = new WeakMap<Socket, number>();
  /** The pid that held each connection at its latest request. */
  private readonly lastHolder = new WeakMap<Socket, number>();
  /** Each accepted socket's 4-tuple, and its IPv4 table being read on the reader thread since. */
  private readonly accepts = new WeakMap<Socket, Accepted>();

  constructor(private readonly options: IdentifierOptions) {
    this.hashes = options.hashes ?? new BinaryHashes();
    this.proc = `/proc/${options.reaperPid}/root/proc`;
    this.own = new Set([1, namespacePid(options.initPid) ?? -1]);
  }

  /**
   * Starts reading the sandbox's TCP table at accept, on the reader thread, while this one takes
   * the request head: the connection's 4-tuple names one socket for the connection's life,
   * whoever holds it later, so only its holders wait for the head. identify() takes the table
   * (or reads it itself) and looks again when the socket was not in it yet.
   */
  accepted(socket: Socket): void {
    this.accepts.set(socket, { ...fourTuple(socket), table: procReader().start(this.tablePath("tcp")) });
  }

  /** Identity of whoever holds, right now, the client end of a socket accepted on the sandbox's listener. */
  async identify(socket: Socket, opts: IdentifyOptions = {}): Promise<IdentityResult> {
    const inode = this.inodeOf(socket);
    if (inode === null) return { ok: false, reason: "no socket in the sandbox matches the connection" };
    const pids = this.commandPids();
    if (!pids) return { ok: false, reason: "cannot list the sandbox's processes" };
    const link = `socket:[${inode}]`;
    // One job at a time on the reader thread: a share of a crowded sandbox's scan, else the
    // likely holder's maps (asked for first, read while the scan runs).
    const crowded = pids.length >= SPLIT_AT;
    const guess = crowded ? null : this.likelyHolder(socket, pids);
    const found = crowded
      ? procReader().holders(procReader().startHolders(this.proc, pids, link))
      : holdersAmong(this.proc, pids, link);
    if (typeof found === "string") return { ok: false, reason: found };
    if (found.length === 0) return { ok: false, reason: "no process in the sandbox holds the connection" };
    const binaries = new Set(found.map((h) => h.exe));
    if (binaries.size > 1) {
      return {
        ok: false,
        reason: `processes running different binaries share the connection (${[...binaries].sort().join(", ")})`,
      };
    }
    const binary = found[0]?.exe as string;
    const mounts = this.mounts();
    const writable: string[] = [];
    for (const h of found) {
      const code = this.loadedCode(h, mounts, h.dir === guess?.dir ? guess.maps : undefined);
      if (code.problem) return { ok: false, reason: code.problem, binary };
      if (!code.hostPut && writable.length === 0) writable.push(binary);
    }
    const first = found.reduce((a, b) => (b.pid < a.pid ? b : a));
    try {
      let sha256 = "";
      for (const h of found) {
        sha256 = await this.hashes.hashOf(h.dir);
        const changed = this.hashes.check(binary, sha256);
        if (changed) return { ok: false, reason: changed, binary };
      }
      const ancestors = opts.ancestors ? await this.commonAncestors(found, mounts, writable) : [];
      if (typeof ancestors === "string") return { ok: false, reason: ancestors, binary };
      this.lastHolder.set(socket, first.pid);
      return { ok: true, binary, ancestors, writable, pid: first.pid, sha256 };
    } catch (error) {
      return {
        ok: false,
        reason: `cannot hash the executable of pid ${first.pid}: ${(error as Error).message}`,
        binary,
      };
    }
  }

  private inodeOf(socket: Socket): number | null {
    let inode = this.inodes.get(socket) ?? null;
    if (inode === null) {
      const accepted = this.accepts.get(socket);
      this.accepts.delete(socket);
      const { peer, listener } = accepted ?? fourTuple(socket);
      inode = this.findInode(peer, listener, accepted?.table);
      if (inode !== null) this.inodes.set(socket, inode);
    }
    return inode;
  }

  private tablePath(table: "tcp" | "tcp6"): string {
    return `/proc/${this.options.reaperPid}/net/${table}`;
  }

  /** The socket in the IPv4 table (the one read since accept, when there is one), then the IPv6 one. */
  private findInode(peer: Endpoint, listener: Endpoint, pending: PendingRead | undefined): number | null {
    for (const table of ["tcp", "tcp6"] as const) {
      const text = table === "tcp" && pending ? procReader().read(pending) : readText(this.tablePath(table));
      if (!text) continue;
      const inode = findClientInode(text, peer, listener);
      if (inode !== null) return inode;
    }
    return null;
  }

  /**
   * The process that most likely holds the connection, its maps already being read on the reader
   * thread while the descriptors of every process are: the one that held it at the previous
   * request, else the newest process (a client started for the request). Only a guess: the
   * holders are found as ever, and a holder that is not this one is read here.
   */
  private likelyHolder(socket: Socket, pids: readonly number[]): { dir: string; maps: PendingRead } | null {
    const pid = this.lastHolder.get(socket) ?? pids.reduce((a, b) => Math.max(a, b), -1);
    if (pid === -1) return null;
    const dir = `${this.proc}/${pid}`;
    return { dir, maps: procReader().start(`${dir}/maps`) };
  }

  /** The sandbox's processes but Airlock's own (its PID 1 and init), from its /proc. */
  private commandPids(): number[] | null {
    const names = listDir(this.proc);
    if (!names) return null;
    const pids: number[] = [];
    for (const name of names) {
      if (!NUMERIC.test(name)) continue;
      const pid = Number(name);
      if (!this.own.has(pid)) pids.push(pid);
    }
    return pids;
  }

  private mounts(): MountEntry[] {
    // The sandbox cannot mount (no capabilities, no user namespaces, seccomp): read once.
    this.mountTable ??= parseMountInfo(readText(`/proc/${this.options.initPid}/mountinfo`) ?? "");
    return this.mountTable;
  }

  /**
   * Whether a process runs only its binary's code, and whether the host put that binary there.
   * `maps`: its maps, being read on the reader thread (taken last, to give it the most time).
   */
  private loadedCode(
    h: Holder,
    mounts: readonly MountEntry[],
    maps?: PendingRead,
  ): { problem: string | null; hostPut: boolean } {
    if (mounts.length === 0) return { problem: "cannot read the sandbox's mounts", hostPut: false };
    const environ = readText(`${h.dir}/environ`);
    const status = readText(`${h.dir}/status`);
    return judgeLoadedCode(
      {
        pid: h.pid,
        exe: h.exe,
        environ,
        maps: maps ? procReader().read(maps) : readText(`${h.dir}/maps`),
        status,
      },
      mounts,
    );
  }

  /**
   * The ancestors every holder shares, nearest first. An ancestor running loaded code is left
   * out (it is not the binary it names, so it grants nothing to its children); one whose
   * executable changed is a deny. One the host did not put there is added to `writable`.
   */
  private async commonAncestors(
    found: readonly Holder[],
    mounts: readonly MountEntry[],
    writable: string[],
  ): Promise<string[] | string> {
    const chains = found.map((h) => this.ancestorPids(h.pid));
    const shared = (chains[0] ?? []).filter((pid) => chains.every((c) => c.includes(pid)));
    const out: string[] = [];
    for (const pid of shared) {
      const dir = `${this.proc}/${pid}`;
      const exe = exePath(dir);
      if (exe === null) continue;
      let sha256: string;
      try {
        sha256 = await this.hashes.hashOf(dir);
      } catch {
        continue;
      }
      const changed = this.hashes.check(exe, sha256);
      if (changed) return changed;
      const code = this.loadedCode({ pid, dir, exe }, mounts);
      if (code.problem !== null) continue;
      out.push(exe);
      if (!code.hostPut && !writable.includes(exe)) writable.push(exe);
    }
    return out;
  }

  /** Parent pids from the process up to, not including, the init (sandbox numbering). */
  private ancestorPids(pid: number): number[] {
    const out: number[] = [];
    let current = parentOf(`${this.proc}/${pid}`);
    while (current !== null && current > 1 && !this.own.has(current) && out.length < 256) {
      out.push(current);
      current = parentOf(`${this.proc}/${current}`);
    }
    return out;
  }
}

/** A host pid's number inside its own (innermost) pid namespace, from the NSpid line. */
function namespacePid(hostPid: number): number | null {
  const status = readText(`/proc/${hostPid}/status`);
  const line = status ? /^NSpid:\s*(.+)$/m.exec(status) : null;
  const last = line?.[1]?.trim().split(/\s+/).pop();
  return last === undefined ? null : Number(last);
}

interface Endpoint {
  address: string;
  port: number;
}

interface Accepted {
  peer: Endpoint;
  listener: Endpoint;
  table: PendingRead;
}

function fourTuple(socket: Socket): { peer: Endpoint; listener: Endpoint } {
  return {
    peer: { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
    listener: { address: socket.localAddress ?? "", port: socket.localPort ?? 0 },
  };
}
