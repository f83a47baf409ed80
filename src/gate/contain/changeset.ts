// What a contained run changed, and whether the contain rules let it be committed. Pure.
import { PROTECTED_NAMES } from "../../sandbox/protected.ts";
import { fileGlobMatches, type Paths } from "../paths.ts";
import type { ContainConfig } from "../schema.ts";

export type EntryType = "file" | "dir" | "symlink";

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
}

export interface CommitVerdict {
  commit: boolean;
  reasons: string[];
}

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
  const root = paths.workdir.replace(/\/+$/, "");
  for (const change of changes) {
    if (!safeRelative(change.path)) {
      reasons.push(`${change.path}: not a plain path inside the workdir`);
      continue;
    }
    const absolute = `${root}/${change.path}`;
    // The sandbox leaves these writable on the overlay (a read-only placeholder would itself be
    // a change), so this is where they are protected.
    if (fileGlobMatches(paths, { raw: [...ALWAYS_PROTECTED, ...commit.protected] }, absolute))
      reasons.push(`${change.path}: protected`);
  }
  if (changes.length > commit.max_files)
    reasons.push(`${changes.length} changes, more than max_files ${commit.max_files}`);
  const bytes = changes.reduce((n, c) => n + c.size, 0);
  if (bytes > commit.max_bytes)
    reasons.push(`${bytes} bytes written, more than max_bytes ${commit.max_bytes}`);
  return { commit: reasons.length === 0, reasons };
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
