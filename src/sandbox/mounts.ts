// The sandbox's filesystem (docs/design.md §4.1) as an ordered list of bubblewrap mount
// operations. Pure: what the host filesystem looks like comes in as a probe, so tests can
// describe any layout. Later operations shadow earlier ones, so the order is the policy:
//   / read-only → fresh /dev, /proc, tmpfs → /etc rebuilt around /etc/airlock →
//   writable roots → read_only inside them → protected files → deny (always wins).
import { PROTECTED_NAMES } from "./protected.ts";

export type PathKind = "dir" | "file" | "missing";

/** What the host has at a path (following symlinks). */
export type Probe = (path: string) => PathKind;

export type MountOp =
  | { op: "ro-bind" | "bind"; src: string; dest: string }
  | { op: "tmpfs" | "remount-ro" | "dev" | "proc"; dest: string }
  | { op: "symlink"; target: string; dest: string };

export interface EtcEntry {
  name: string;
  /** Present for symlinks: recreated as the same symlink so relative targets keep working. */
  symlinkTarget?: string;
}

export interface MountPlanInput {
  /** Absolute, symlinks resolved; null when `include_workdir: false`. */
  workdir: string | null;
  readWrite: readonly string[];
  readOnly: readonly string[];
  /** `filesystem_policy.deny` plus what Airlock hides itself (its home, with tokens and keys). */
  deny: readonly string[];
  /** Existing protected paths found below the writable roots (nested repositories). */
  nestedProtected: readonly string[];
  etc: readonly EtcEntry[];
  /** Host files shown read-only under /etc/airlock/. */
  airlockFiles: Readonly<Record<string, string>>;
  probe: Probe;
  /**
   * The workdir is shown from this directory instead (an overlay's merged view, see overlay.ts).
   * Every write to it is staged, and the commit rules refuse protected files, so no protected
   * path inside it is bound or blocked (a placeholder would itself be a staged change).
   */
  workdirSource?: string;
}

export interface MountPlan {
  ops: MountOp[];
  /** Mount points bubblewrap creates on the host (absent protected files); removed after exit. */
  createdOnHost: string[];
  /** Things the user should know (a read_write path that does not exist...). */
  notes: string[];
}

/** Always fresh and empty inside: host unix sockets (docker, ssh-agent, D-Bus) live here. */
export const FRESH_DIRS = ["/tmp", "/var/tmp", "/run", "/dev/shm"] as const;
export const AIRLOCK_ETC = "/etc/airlock";
/** The host's /etc inside the sandbox; every /etc/<entry> is a symlink into it. */
export const HOST_ETC = `${AIRLOCK_ETC}/host-etc`;

export function within(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** Where a host path is mounted inside: /etc/<x> lives under /etc/airlock/host-etc (bubblewrap
 * does not mount through the symlinks that stand in /etc). */
export function sandboxPath(path: string): string {
  return within(path, "/etc") && !within(path, AIRLOCK_ETC) && path !== "/etc"
    ? `${HOST_ETC}${path.slice(4)}`
    : path;
}

function depth(path: string): number {
  return path.split("/").filter(Boolean).length;
}

function byDepth(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The first component of `path` below an existing ancestor that does not exist, or null when a
 * file sits above it (nothing can be created under a file, so nothing needs blocking). */
export function firstMissing(path: string, probe: Probe): string | null {
  const parts = path.split("/").filter(Boolean);
  let current = "";
  for (const part of parts) {
    const next = `${current}/${part}`;
    const kind = probe(next);
    if (kind === "missing") return next;
    if (kind === "file" && next !== path) return null;
    current = next;
  }
  return path;
}

export function planMounts(input: MountPlanInput): MountPlan {
  const { probe } = input;
  const ops: MountOp[] = [{ op: "ro-bind", src: "/", dest: "/" }];
  const notes: string[] = [];
  const createdOnHost: string[] = [];
  const denied = (p: string) => input.deny.some((d) => within(p, d));

  ops.push({ op: "dev", dest: "/dev" }, { op: "proc", dest: "/proc" });
  for (const dir of FRESH_DIRS) {
    if (dir.startsWith("/dev/") || probe(dir) === "dir") ops.push({ op: "tmpfs", dest: dir });
  }

  // /etc is read-only from the host, so /etc/airlock cannot be created in it: rebuild /etc as a
  // tmpfs, show the host's /etc read-only at /etc/airlock/host-etc, point one symlink per entry
  // into it (one mount instead of one per entry: bubblewrap's read-only binds cost milliseconds
  // each), add ours, then make it read-only again.
  ops.push({ op: "tmpfs", dest: "/etc" }, { op: "ro-bind", src: "/etc", dest: HOST_ETC });
  for (const entry of input.etc) {
    if (entry.name === "airlock") continue;
    const target = entry.symlinkTarget ?? `${HOST_ETC}/${entry.name}`;
    ops.push({ op: "symlink", target, dest: `/etc/${entry.name}` });
  }
  for (const [rel, src] of Object.entries(input.airlockFiles)) {
    ops.push({ op: "ro-bind", src, dest: `${AIRLOCK_ETC}/${rel}` });
  }
  ops.push({ op: "remount-ro", dest: "/etc" });

  const fresh = (p: string) => FRESH_DIRS.some((f) => p === f);
  const writable: string[] = [];
  for (const path of byDepth([...(input.workdir ? [input.workdir] : []), ...input.readWrite])) {
    if (denied(path)) {
      notes.push(`read_write ${path} is inside a deny path; it stays hidden`);
      continue;
    }
    if (fresh(path)) {
      writable.push(path); // already a writable tmpfs; the host's copy is never shown
      continue;
    }
    if (probe(path) === "missing") {
      notes.push(`read_write ${path} does not exist; skipped`);
      continue;
    }
    const src = path === input.workdir && input.workdirSource ? input.workdirSource : path;
    ops.push({ op: "bind", src, dest: sandboxPath(path) });
    writable.push(path);
  }
  const inWritable = (p: string) => writable.some((w) => within(p, w));

  for (const path of byDepth(input.readOnly)) {
    if (!inWritable(path) || denied(path) || probe(path) === "missing") continue;
    ops.push({ op: "ro-bind", src: path, dest: sandboxPath(path) });
  }

  const protectedPaths = new Set(input.nestedProtected);
  for (const root of writable) {
    if (fresh(root) || probe(root) !== "dir") continue;
    for (const name of PROTECTED_NAMES) protectedPaths.add(`${root === "/" ? "" : root}/${name}`);
  }
  const overlaid = (p: string) =>
    input.workdirSource !== undefined && input.workdir !== null && within(p, input.workdir);
  for (const path of byDepth(protectedPaths)) {
    if (denied(path) || overlaid(path)) continue;
    if (probe(path) !== "missing") {
      ops.push({ op: "ro-bind", src: path, dest: sandboxPath(path) });
      continue;
    }
    const blocker = firstMissing(path, probe);
    if (blocker === null || createdOnHost.includes(blocker)) continue;
    // An empty read-only file where the path would start: nothing can be created there.
    ops.push({ op: "ro-bind", src: "/dev/null", dest: sandboxPath(blocker) });
    createdOnHost.push(blocker);
  }

  for (const path of byDepth(input.deny)) {
    // Below a fresh tmpfs and no bind, the host path is not visible anyway.
    if (FRESH_DIRS.some((f) => within(path, f)) && !writable.some((w) => !fresh(w) && within(path, w)))
      continue;
    const kind = probe(path);
    const dest = sandboxPath(path);
    if (kind === "dir") ops.push({ op: "tmpfs", dest }, { op: "remount-ro", dest });
    else if (kind === "file") ops.push({ op: "ro-bind", src: "/dev/null", dest });
  }
  return { ops, createdOnHost, notes };
}

/** bubblewrap arguments for the mount operations, in order. */
export function mountArgs(ops: readonly MountOp[]): string[] {
  const args: string[] = [];
  for (const m of ops) {
    if (m.op === "ro-bind" || m.op === "bind") args.push(`--${m.op}`, m.src, m.dest);
    else if (m.op === "symlink") args.push("--symlink", m.target, m.dest);
    else args.push(`--${m.op}`, m.dest);
  }
  return args;
}
