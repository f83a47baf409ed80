// Commits a staged change set to the real workdir: deletions and replacements exactly, new
// content by rename, never following a symlink out of the workdir.
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { dirname, join, sep } from "node:path";
import { type Change, SPECIAL_BITS, safeRelative } from "./changeset.ts";

function insideWorkdir(root: string, path: string): boolean {
  let parent: string;
  try {
    parent = realpathSync(dirname(path));
  } catch {
    return false;
  }
  return parent === root || parent.startsWith(`${root}${sep}`);
}

export function applyChanges(workdir: string, staged: string, changes: Change[]): void {
  const root = realpathSync(workdir);
  for (const c of changes)
    if (!safeRelative(c.path)) throw new Error(`refusing to apply ${JSON.stringify(c.path)}`);
  // 1. Remove what was deleted or replaced, deepest first.
  const removals = changes.filter((c) => c.kind === "deleted" || c.kind === "replaced");
  removals.sort((a, b) => b.path.split("/").length - a.path.split("/").length);
  for (const c of removals) {
    const target = join(root, c.path);
    if (!insideWorkdir(root, target)) throw new Error(`${c.path} is not inside the workdir`);
    rmSync(target, { recursive: true, force: true });
  }
  // 2. Create directories, then files and links, parents first.
  const creations = changes.filter((c) => c.kind !== "deleted");
  creations.sort((a, b) => a.path.split("/").length - b.path.split("/").length || (a.path < b.path ? -1 : 1));
  for (const c of creations) {
    const target = join(root, c.path);
    if (!insideWorkdir(root, target)) throw new Error(`${c.path} is not inside the workdir`);
    if (c.type === "dir") {
      let exists = false;
      try {
        exists = lstatSync(target).isDirectory();
      } catch {}
      if (!exists) mkdirSync(target);
      if (c.mode !== undefined) chmodSync(target, c.mode & ~SPECIAL_BITS);
      continue;
    }
    const tmp = join(dirname(target), `.airlock-${process.pid}-${Math.random().toString(36).slice(2)}`);
    if (c.type === "special") throw new Error(`${c.path}: a special file is never committed`);
    if (c.type === "symlink") symlinkSync(c.target ?? "", tmp);
    else {
      copyFileSync(join(staged, "files", c.path), tmp);
      // Always set: copyFile may carry the staged copy's bits; setuid/setgid/sticky never.
      chmodSync(tmp, (c.mode ?? 0o644) & ~SPECIAL_BITS);
    }
    renameSync(tmp, target);
  }
}
