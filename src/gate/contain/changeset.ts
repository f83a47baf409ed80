// What a contained run changed, and whether the contain rules let it be committed. Pure.
import { posix } from "node:path";
import { GIT_DIR_PROTECTED, hostRunTool, PROTECTED_NAMES, SKIPPED_DIRS } from "../../sandbox/protected.ts";
import { GIT_REPOSITORY } from "../../sandbox/tree-scan.ts";
import { fileGlobMatches, type Paths } from "../paths.ts";
import type { ContainConfig } from "../schema.ts";

/** `special`: a fifo, socket or device, which is never committed. */
export type EntryType = "file" | "dir" | "symlink" | "special";

export interface Change {
  /** Relative to the workdir, "/"-separated, never with "." or ".." segments. */
  path: string;
  kind: "added" | "modified" | "deleted" | "replaced";
  type: EntryType;
  /** Size after the run (0 for deleted entries and directories). */
  size: number;
  /** Size before the run, for modified, deleted and replaced files. */
  before?: number;
  mode?: number;
  /** Symlink target. */
  target?: string;
  /** Where the symlink leads through the filesystem, in the workdir's terms (collect.ts). */
  resolved?: string;
  /** What a special entry is (fifo, socket, character device, block device). */
  special?: string;
  /** A file's link count and inode, in the run's upper layer: hard links must all be in the change set. */
  links?: number;
  inode?: number;
}

export interface CommitVerdict {
  commit: boolean;
  /** Why the change set is discarded. */
  reasons: string[];
  /** What the commit changes on the way (bits stripped). */
  notes: string[];
}

/** setuid, setgid and sticky: never committed. */
export const SPECIAL_BITS = 0o7000;

/**
 * What a contained run may never commit, whatever the policy says: the sandbox's protected
 * files (shell start-up files, git hooks and config, agent settings...), at any depth. Nor what
 * the sandbox disarms at the end of a run (hostRunFile below).
 */
export const ALWAYS_PROTECTED: readonly string[] = [
  ...PROTECTED_NAMES.flatMap((name) => [`**/${name}`, `**/${name}/**`]),
  "**/.claude/settings*.json",
];

/**
 * A file a host tool runs or obeys on its own (hook managers' files, editor tasks, `.pth`
 * files...): the table the sandbox disarms at the end of a run, judged as its walk judges it
 * (not inside the package caches it skips).
 */
function hostRunFile(path: string): string | null {
  const parts = path.split("/");
  if (parts.slice(0, -1).some((p) => SKIPPED_DIRS.has(p))) return null;
  // A `.git` file or directory makes a repository git uses (a gitfile can point anywhere).
  if (parts[parts.length - 1] === ".git") return GIT_REPOSITORY;
  return hostRunTool(path);
}

/** What an entry of the workdir is after the commit would be applied, as the edge sees it. */
export type EntryKind = "file" | "dir" | null;

/**
 * The directories (relative) that are git directories once the change set is applied, by their
 * layout as git recognises one whatever it is called (`HEAD`, and `objects/` or `commondir`):
 * a bare repository the run made, a worktree's or submodule's git directory. `onDisk` says what
 * the workdir holds now; the change set may add or remove either half.
 */
export function gitDirsAfter(
  changes: readonly Change[],
  onDisk: (relative: string) => EntryKind,
): Set<string> {
  const byPath = new Map(changes.map((c) => [c.path, c]));
  const kind = (rel: string): EntryKind => {
    const c = byPath.get(rel);
    if (!c) return onDisk(rel);
    if (c.kind === "deleted") return null;
    return c.type === "dir" ? "dir" : c.type === "file" ? "file" : null;
  };
  const out = new Set<string>();
  for (const c of changes) {
    for (let dir = posix.dirname(c.path); dir !== "."; dir = posix.dirname(dir)) {
      if (out.has(dir)) break;
      const join = (name: string) => `${dir}/${name}`;
      if (
        kind(join("HEAD")) === "file" &&
        (kind(join("objects")) === "dir" || kind(join("commondir")) === "file")
      )
        out.add(dir);
    }
  }
  return out;
}

/** Is `path` what git obeys in one of these git directories (config, commondir, hooks...)? */
function obeyedByGit(path: string, gitDirs: ReadonlySet<string>): boolean {
  for (const dir of gitDirs) {
    if (!path.startsWith(`${dir}/`)) continue;
    const rel = path.slice(dir.length + 1);
    if (GIT_DIR_PROTECTED.some((name) => rel === name || rel.startsWith(`${name}/`))) return true;
  }
  return false;
}

export function safeRelative(path: string): boolean {
  return (
    path !== "" && !path.startsWith("/") && path.split("/").every((s) => s !== "" && s !== "." && s !== "..")
  );
}

export function decideCommit(
  changes: Change[],
  config: ContainConfig | undefined,
  paths: Paths,
  /** Git directories in the workdir once applied (gitDirsAfter): what git obeys in them is kept. */
  gitDirs: ReadonlySet<string> = new Set(),
): CommitVerdict {
  const commit = config?.commit ?? {
    protected: [".git/**", "**/.env", "**/.env.*", ".airlock/**"],
    max_files: 10000,
    max_bytes: 256 * 1024 * 1024,
  };
  const reasons: string[] = [];
  const notes: string[] = [];
  const root = paths.workdir.replace(/\/+$/, "");
  const isProtected = (absolute: string) =>
    fileGlobMatches(paths, { raw: [...ALWAYS_PROTECTED, ...commit.protected] }, absolute);
  const linksSeen = new Map<number, number>();
  for (const change of changes) {
    if (change.type === "file" && change.inode !== undefined && (change.links ?? 1) > 1)
      linksSeen.set(change.inode, (linksSeen.get(change.inode) ?? 0) + 1);
  }
  for (const change of changes) {
    if (!safeRelative(change.path)) {
      reasons.push(`${change.path}: not a plain path inside the workdir`);
      continue;
    }
    const absolute = `${root}/${change.path}`;
    // The sandbox leaves these writable on the overlay (a read-only placeholder would itself be
    // a change), so this is where they are protected.
    if (isProtected(absolute) || obeyedByGit(change.path, gitDirs)) reasons.push(`${change.path}: protected`);
    if (change.kind === "deleted") continue;
    const tool = isProtected(absolute) ? null : hostRunFile(change.path);
    if (tool) reasons.push(`${change.path}: a file a host tool runs or obeys on its own (${tool})`);
    if (change.type === "special")
      reasons.push(`${change.path}: a ${change.special ?? "special file"} is never committed`);
    if (change.type === "symlink") reasons.push(...symlinkProblems(change, root, isProtected));
    if (change.type === "file" && (change.links ?? 1) > (linksSeen.get(change.inode ?? -1) ?? 1))
      reasons.push(`${change.path}: a hard link to a file outside the change set`);
    if (change.mode !== undefined && (change.mode & SPECIAL_BITS) !== 0)
      notes.push(
        `${change.path}: setuid/setgid/sticky bits stripped (mode ${(change.mode & 0o7777).toString(8)} → ${(change.mode & 0o777).toString(8)})`,
      );
  }
  if (changes.length > commit.max_files)
    reasons.push(`${changes.length} changes, more than max_files ${commit.max_files}`);
  const bytes = changes.reduce((n, c) => n + c.size, 0);
  if (bytes > commit.max_bytes)
    reasons.push(`${bytes} bytes written, more than max_bytes ${commit.max_bytes}`);
  return { commit: reasons.length === 0, reasons, notes };
}

const insideRoot = (root: string, p: string) => p === root || p.startsWith(`${root}/`);

/**
 * A symlink is committed only if it leads inside the workdir, as written and through the
 * filesystem (a chain through links already there), and not to a protected file.
 */
function symlinkProblems(change: Change, root: string, isProtected: (p: string) => boolean): string[] {
  const target = change.target ?? "";
  const written = posix.resolve(posix.dirname(`${root}/${change.path}`), target);
  const leads = [...new Set([written, ...(change.resolved ? [change.resolved] : [])])];
  const out: string[] = [];
  for (const p of leads) {
    if (!insideRoot(root, p))
      out.push(`${change.path}: a symlink to ${target} leads out of the workdir (${p})`);
    else if (isProtected(p)) out.push(`${change.path}: a symlink to a protected file (${p})`);
  }
  if (change.resolved === undefined) out.push(`${change.path}: where the symlink leads is not known`);
  return out;
}

export function renderChanges(changes: Change[]): string[] {
  const sign = { added: "+", modified: "~", deleted: "-", replaced: "!" } as const;
  return changes.map((c) => {
    const size =
      c.kind === "deleted"
        ? c.before !== undefined
          ? ` (${c.before} B)`
          : ""
        : c.type === "file"
          ? ` (${c.before !== undefined ? `${c.before} → ` : ""}${c.size} B)`
          : "";
    return `${sign[c.kind]} ${c.path}${c.type === "dir" ? "/" : c.type === "symlink" ? ` -> ${c.target}` : ""}${size}`;
  });
}
