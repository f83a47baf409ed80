// The sandbox's filesystem (docs/design.md §4.1) as an ordered list of bubblewrap mount
// operations. Pure: what the host filesystem looks like comes in as a probe and as the facts the
// start-time scans found, so tests can describe any layout. Later operations shadow earlier ones,
// so the order is the policy:
//   / read-only → fresh /dev, /proc (read-only), tmpfs → /etc rebuilt around /etc/airlock →
//   homes replaced by empty tmpfs, toolchains shown read-only in them →
//   read_write and read_only paths, deepest last → protected paths and the mount points that keep
//   them in place → deny (always wins).
import {
  GIT_DIR_PROTECTED,
  type MovedAgentHome,
  PROTECTED,
  type ProtectedEntry,
  SELF_COMMONDIR,
} from "./protected.ts";

export type PathKind = "dir" | "file" | "missing";

/** What the host has at a path (following symlinks). */
export type Probe = (path: string) => PathKind;

export type MountOp =
  | { op: "ro-bind" | "bind" | "ro-bind-try"; src: string; dest: string }
  | { op: "tmpfs" | "remount-ro" | "dev" | "proc"; dest: string }
  | { op: "symlink"; target: string; dest: string };

export interface EtcEntry {
  name: string;
  /** Present for symlinks: recreated as the same symlink so relative targets keep working. */
  symlinkTarget?: string;
}

/** What the start-time scans of the writable roots found (tree-scan.ts). */
export interface TreeFacts {
  /** Git directories: `.git` directories, submodules' and worktrees' git directories, bare repositories. */
  gitDirs: readonly string[];
  /** `.git` files (linked worktrees, submodule checkouts). */
  gitFiles: readonly string[];
  /** What repositories' config names: `core.hooksPath`, included config files. */
  namedByConfig: readonly string[];
  /** Protected entries that exist in directories below a writable root. */
  nested: readonly string[];
}

const NO_TREE_FACTS: TreeFacts = { gitDirs: [], gitFiles: [], namedByConfig: [], nested: [] };

export interface MountPlanInput {
  /** Absolute, symlinks resolved; null when `include_workdir: false`. */
  workdir: string | null;
  readWrite: readonly string[];
  readOnly: readonly string[];
  /** `filesystem_policy.deny` plus what Airlock hides itself (its homes, with tokens and keys). */
  deny: readonly string[];
  /** The user's home: protected names count relative to it too (`~/.claude/settings.json`). */
  home?: string;
  /** Agents' homes the host's environment moved elsewhere (`CLAUDE_CONFIG_DIR`): protected as
   * their entry is in the home. */
  agentHomes?: readonly MovedAgentHome[];
  /** Directories replaced by an empty tmpfs (the homes), and what is shown read-only in them. */
  hidden?: readonly string[];
  visible?: ReadonlyArray<{ path: string }>;
  tree?: TreeFacts;
  etc: readonly EtcEntry[];
  /** Host files shown read-only under /etc/airlock/. */
  airlockFiles: Readonly<Record<string, string>>;
  probe: Probe;
  /** An empty read-only host file, bound where an absent protected path would start: reads of it
   * find nothing, as git expects of an empty `commondir` (default /dev/null, which cannot be read
   * on bubblewrap's nodev mounts). */
  emptyFile?: string;
  /** An empty read-only host directory, bound where an absent protected directory would be. */
  emptyDir?: string;
  /** A read-only host file holding SELF_COMMONDIR: the placeholder of an absent `commondir`. */
  selfCommondir?: string;
  /** Is this path itself a symbolic link (not following it)? A link cannot be pinned in place. */
  isLink?: (path: string) => boolean;
  /** The names in a directory (for `settings*.json` in an agent's own writable home). */
  list?: (dir: string) => readonly string[];
  /**
   * The workdir is shown from this directory instead (an overlay's merged view, see overlay.ts).
   * Every write to it is staged, and the commit rules refuse protected files, so no protected
   * path inside it is bound or blocked (a placeholder would itself be a staged change).
   */
  workdirSource?: string;
  /** Writable files shown from a private copy instead of the host's (an agent's state file,
   * merged back at the end): bound over whatever shows the path, below deny. */
  privateCopies?: ReadonlyArray<{ path: string; src: string }>;
}

export interface MountPlan {
  ops: MountOp[];
  /** Mount points bubblewrap creates on the host (absent protected files); removed after exit. */
  createdOnHost: string[];
  /** Placeholders made on the host before the start, with this content (`commondir`, which git
   * must be able to read during the run); also in createdOnHost. */
  prefill: Array<{ path: string; content: string }>;
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

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

function join2(dir: string, name: string): string {
  return `${dir === "/" ? "" : dir}/${name}`;
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

/** The directories strictly between `root` and `path`. */
function between(root: string, path: string): string[] {
  const out: string[] = [];
  let current = path.slice(0, path.lastIndexOf("/"));
  while (current.length > root.length && within(current, root)) {
    out.push(current);
    current = current.slice(0, current.lastIndexOf("/"));
  }
  return out;
}

export function planMounts(input: MountPlanInput): MountPlan {
  const { probe } = input;
  const ops: MountOp[] = [{ op: "ro-bind", src: "/", dest: "/" }];
  const notes: string[] = [];
  const createdOnHost: string[] = [];
  const denied = (p: string) => input.deny.some((d) => within(p, d));
  const hidden = input.hidden ?? [];
  const visible = (input.visible ?? []).map((v) => v.path);

  // /proc read-only: opening a regular file for writing checks the mount, so no process can
  // write another's memory (`mem`) or state (`attr/`, `comm`, `oom_score_adj`...) through it;
  // reads, and /proc/self/fd links (they lead to the file's own mount), keep working.
  ops.push({ op: "dev", dest: "/dev" }, { op: "proc", dest: "/proc" }, { op: "remount-ro", dest: "/proc" });
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

  // The homes: empty, with the toolchains shown read-only. A toolchain that vanished since the
  // scan is skipped (`-try`): no start depends on a host path the policy does not name.
  for (const dir of byDepth(hidden)) ops.push({ op: "tmpfs", dest: dir });
  for (const path of byDepth(visible)) {
    if (!denied(path)) ops.push({ op: "ro-bind-try", src: path, dest: path });
  }
  const unseen = (p: string) =>
    [...FRESH_DIRS, ...hidden].some((f) => within(p, f)) && !visible.some((v) => within(p, v));

  // The policy's paths, shallowest first, so the deepest listed path decides the mode below it.
  const fresh = (p: string) => FRESH_DIRS.some((f) => p === f);
  const writable: string[] = [];
  const binds: Array<{ path: string; writable: boolean }> = [];
  const listed = new Map<string, boolean>();
  for (const path of input.readOnly) listed.set(path, false);
  for (const path of [...(input.workdir ? [input.workdir] : []), ...input.readWrite]) listed.set(path, true);
  const copied = new Set((input.privateCopies ?? []).map((c) => c.path));
  for (const path of byDepth(listed.keys())) {
    const rw = listed.get(path) === true;
    if (copied.has(path)) continue;
    if (denied(path)) {
      if (rw) notes.push(`read_write ${path} is inside a deny path; it stays hidden`);
      continue;
    }
    if (rw && fresh(path)) {
      writable.push(path); // already a writable tmpfs; the host's copy is never shown
      continue;
    }
    // Shown read-only anyway (through the read-only root), unless something above hides it.
    if (!rw && !unseen(path) && !binds.some((b) => within(path, b.path))) continue;
    if (probe(path) === "missing") {
      if (rw) notes.push(`read_write ${path} does not exist; skipped`);
      continue;
    }
    const src = path === input.workdir && input.workdirSource ? input.workdirSource : path;
    ops.push({ op: rw ? "bind" : "ro-bind", src, dest: sandboxPath(path) });
    binds.push({ path, writable: rw });
    if (rw) writable.push(path);
  }
  /** The deepest policy bind holding `p`: what decides whether it can be written. */
  const holder = (p: string) => {
    let best: { path: string; writable: boolean } | undefined;
    for (const b of binds) if (within(p, b.path) && (!best || b.path.length > best.path.length)) best = b;
    return best;
  };

  const prefill: MountPlan["prefill"] = [];
  ops.push(...protectedOps(input, binds, holder, writable, createdOnHost, prefill, notes));
  ops.push(...privateCopyOps(input.privateCopies ?? [], denied, holder, ops));

  for (const path of byDepth(input.deny)) {
    // Below a fresh or hidden directory and no bind, the host path is not visible anyway; below
    // another deny path it is hidden already (and nothing can be mounted in that read-only tmpfs).
    if (unseen(path) && !binds.some((b) => within(path, b.path))) continue;
    if (input.deny.some((d) => d !== path && within(path, d))) continue;
    const kind = probe(path);
    const dest = sandboxPath(path);
    if (kind === "dir") ops.push({ op: "tmpfs", dest }, { op: "remount-ro", dest });
    else if (kind === "file") ops.push({ op: "ro-bind", src: "/dev/null", dest });
  }
  return { ops, createdOnHost, prefill, notes };
}

/**
 * Protected paths inside writable binds: each read-only (an absent one blocked where it would
 * start), and every directory between the bind and it a mount point of its own (a self-bind:
 * its content stays writable, but it cannot be renamed, removed or replaced, EBUSY), so no
 * ancestor can be moved aside and rebuilt. Git directories are mount points too: git writes in
 * them, but what it obeys there (config, commondir, hooks) is read-only.
 */
function protectedOps(
  input: MountPlanInput,
  binds: ReadonlyArray<{ path: string; writable: boolean }>,
  holder: (p: string) => { path: string; writable: boolean } | undefined,
  writable: readonly string[],
  createdOnHost: string[],
  prefill: Array<{ path: string; content: string }>,
  notes: string[],
): MountOp[] {
  const { probe } = input;
  const tree = input.tree ?? NO_TREE_FACTS;
  const overlaid = (p: string) =>
    input.workdirSource !== undefined && input.workdir !== null && within(p, input.workdir);
  const denied = (p: string) => input.deny.some((d) => within(p, d));
  const rwHolder = (p: string) => {
    const h = holder(p);
    return h?.writable && !denied(p) && !overlaid(p) ? h.path : null;
  };
  /** Protected path → whether an absent one is blocked. */
  const wanted = new Map<string, boolean>();
  const want = (path: string, block: boolean) => {
    if (rwHolder(path) !== null) wanted.set(path, block || wanted.get(path) === true);
  };
  const pins = new Set<string>();
  /** Protected paths that are directories: an absent one is blocked by an empty directory. */
  const directories = new Set<string>();

  const roots = writable.filter((w) => binds.some((b) => b.path === w) && probe(w) === "dir");
  const configRoots = [...roots, ...(input.home && probe(input.home) === "dir" ? [input.home] : [])];
  const protect = (path: string, entry: ProtectedEntry) => {
    if (writable.includes(path)) {
      // The policy lists it as writable (an agent's own home): what in it runs things stays put.
      const inner = new Set(entry.inner ?? []);
      const more = entry.innerNames;
      if (more) for (const name of input.list?.(path) ?? []) if (more(name)) inner.add(name);
      for (const name of inner) {
        const inside = join2(path, name.replace(/\/$/, ""));
        if (name.endsWith("/")) directories.add(inside);
        want(inside, true);
      }
    } else want(path, true);
  };
  for (const root of configRoots)
    for (const entry of PROTECTED) {
      const path = join2(root, entry.path);
      if (path !== root) protect(path, entry);
    }
  for (const { path, entry } of input.agentHomes ?? []) protect(path, entry);
  // A root that is not a repository is left so: blocking its `.git` would break every git
  // command run below it (`git clone` included, "invalid gitfile format"). A repository the run
  // plants there is listed and disarmed when the run ends (host-run.ts), like any other.
  for (const dir of tree.gitDirs) {
    if (rwHolder(dir) === null || probe(dir) !== "dir") continue;
    pins.add(dir);
    for (const name of GIT_DIR_PROTECTED) want(join2(dir, name), true);
  }
  for (const file of tree.gitFiles) want(file, false);
  for (const path of tree.namedByConfig) want(path, true);
  for (const path of tree.nested) want(path, false);

  const readOnly: string[] = [];
  const ops: MountOp[] = [];
  const targets: Array<{ dest: string; src: string }> = [];
  for (const path of byDepth(wanted.keys())) {
    if (readOnly.some((r) => within(path, r))) continue; // inside a read-only protected directory
    const root = rwHolder(path) as string;
    if (input.isLink && [path, ...between(root, path)].some((p) => input.isLink?.(p))) {
      notes.push(`${path} is (below) a symbolic link: not pinned; a change to it is reported at the end`);
      continue;
    }
    if (probe(path) !== "missing") {
      targets.push({ src: path, dest: path });
      readOnly.push(path);
      continue;
    }
    if (!wanted.get(path)) continue;
    const blocker = firstMissing(path, probe);
    if (blocker === null || readOnly.includes(blocker)) continue;
    // An empty read-only file where the path would start: nothing can be created there.
    if (
      input.selfCommondir &&
      blocker === path &&
      basename(path) === "commondir" &&
      tree.gitDirs.includes(dirOf(path))
    ) {
      targets.push({ src: input.selfCommondir, dest: blocker });
      prefill.push({ path: blocker, content: SELF_COMMONDIR });
    } else if (input.emptyDir && blocker === path && directories.has(path))
      targets.push({ src: input.emptyDir, dest: blocker });
    else targets.push({ src: input.emptyFile ?? "/dev/null", dest: blocker });
    readOnly.push(blocker);
    createdOnHost.push(blocker);
  }
  for (const { dest } of targets) for (const dir of between(rwHolder(dest) as string, dest)) pins.add(dir);
  for (const dir of [...pins]) for (const a of between(rwHolder(dir) as string, dir)) pins.add(a);

  const order = byDepth([...targets.map((t) => t.dest), ...pins]);
  for (const dest of order) {
    const target = targets.find((t) => t.dest === dest);
    if (target) ops.push({ op: "ro-bind", src: target.src, dest: sandboxPath(dest) });
    else if (!readOnly.some((r) => within(dest, r)) && !binds.some((b) => b.path === dest))
      ops.push({ op: "bind", src: dest, dest: sandboxPath(dest) });
  }
  return ops;
}

/**
 * The private copies, each bound where its file is; the directories between a writable bind and
 * it are pinned first (self-binds, as for protected paths): moved aside and rebuilt, one would
 * put a file of the sandbox's where a host link to the file leads.
 */
function privateCopyOps(
  copies: ReadonlyArray<{ path: string; src: string }>,
  denied: (p: string) => boolean,
  holder: (p: string) => { path: string; writable: boolean } | undefined,
  before: readonly MountOp[],
): MountOp[] {
  const shown = copies.filter((c) => !denied(c.path));
  const pinned = new Set(before.flatMap((m) => (m.op === "bind" && m.src === m.dest ? [m.dest] : [])));
  const pins: string[] = [];
  for (const { path } of shown) {
    const root = holder(path);
    if (root?.writable) pins.push(...between(root.path, path).filter((d) => !pinned.has(d)));
  }
  return [
    ...byDepth(pins).map((dir): MountOp => ({ op: "bind", src: dir, dest: sandboxPath(dir) })),
    ...shown.map(({ path, src }): MountOp => ({ op: "bind", src, dest: sandboxPath(path) })),
  ];
}

/** bubblewrap arguments for the mount operations, in order. */
export function mountArgs(ops: readonly MountOp[]): string[] {
  const args: string[] = [];
  for (const m of ops) {
    if (m.op === "ro-bind" || m.op === "bind" || m.op === "ro-bind-try")
      args.push(`--${m.op}`, m.src, m.dest);
    else if (m.op === "symlink") args.push("--symlink", m.target, m.dest);
    else args.push(`--${m.op}`, m.dest);
  }
  return args;
}
