// What a contained run changed, and whether the contain rules let it be committed. Pure.
import { posix } from "node:path";
import { PROTECTED_NAMES } from "../../sandbox/protected.ts";
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
 * files (shell start-up files, git hooks and config, agent settings...), at any depth.
 */
export const ALWAYS_PROTECTED: readonly string[] = [
  ...PROTECTED_NAMES.flatMap((name) => [`**/${name}`, `**/${name}/**`]),
  "**/.claude/settings*.json",
];

export function safeRelative(path: string): boolean {
  return (
    path !== "" && !path.startsWith("/") && path.split("/").every((s) => s !== "" && s !== "." && s !== "..")
  );
}

export function decideCommit(
  changes: Change[],
  config: ContainConfig | undefined,
  paths: Paths,
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
    if (isProtected(absolute)) reasons.push(`${change.path}: protected`);
    if (change.kind === "deleted") continue;
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
