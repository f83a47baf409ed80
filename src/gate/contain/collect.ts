// Runs inside the contained run's namespace, after the command: reads the overlay's upper layer,
// compares with the lower (real workdir) and merged views, and stages every change outside.
import {
  copyFileSync,
  type Dirent,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { realPathOnDisk } from "../real-path.ts";
import type { Change, EntryType } from "./changeset.ts";

function typeOf(st: Stats): EntryType {
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  return "special";
}

function specialKind(st: Stats): string {
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "special file";
}

/** Where a link in the merged view leads, in the workdir's terms (the lower dir is the workdir). */
function resolvedInWorkdir(merged: string, lower: string, rel: string, target: string): string {
  // The target, not the link: a dangling link still leads somewhere.
  const real = realPathOnDisk(resolve(dirname(join(merged, rel)), target));
  if (real === merged || real.startsWith(`${merged}/`)) return `${lower}${real.slice(merged.length)}`;
  return real;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

const names = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((d: Dirent) => d.name);
  } catch {
    return [];
  }
};

function sameContent(a: string, b: string, sa: Stats, sb: Stats): boolean {
  if (sa.size !== sb.size || (sa.mode & 0o7777) !== (sb.mode & 0o7777)) return false;
  return readFileSync(a).equals(readFileSync(b));
}

/** Walks the upper layer; returns the change list and stages new content under `out/files`. */
export function collectChanges(upper: string, lower: string, merged: string, out: string): Change[] {
  const changes: Change[] = [];
  const stage = (rel: string, st: Stats) => {
    const dest = join(out, "files", rel);
    mkdirSync(dirname(dest), { recursive: true });
    if (st.isFile()) copyFileSync(join(merged, rel), dest);
  };
  const deleted = (rel: string, before: Stats) => {
    const type = typeOf(before);
    changes.push({
      path: rel,
      kind: "deleted",
      type,
      size: 0,
      ...(type === "file" ? { before: before.size } : {}),
    });
  };
  const present = (rel: string, st: Stats, kind: Change["kind"], before?: Stats) => {
    const type = typeOf(st);
    const change: Change = {
      path: rel,
      kind,
      type,
      size: type === "file" ? st.size : 0,
      mode: st.mode & 0o7777,
    };
    if (before?.isFile()) change.before = before.size;
    if (type === "symlink") {
      change.target = readlinkSync(join(merged, rel));
      change.resolved = resolvedInWorkdir(merged, lower, rel, change.target);
    }
    if (type === "special") change.special = specialKind(st);
    if (type === "file") {
      change.links = st.nlink;
      change.inode = st.ino;
    }
    changes.push(change);
    stage(rel, st);
  };
  const walk = (rel: string) => {
    const upperDir = rel ? join(upper, rel) : upper;
    // Entries of the lower directory hidden in the merged view were deleted (whiteouts, opaque dirs).
    if (lstatOrNull(rel ? join(lower, rel) : lower)?.isDirectory()) {
      const visible = new Set(names(rel ? join(merged, rel) : merged));
      for (const name of names(rel ? join(lower, rel) : lower)) {
        if (visible.has(name)) continue;
        const before = lstatOrNull(join(lower, rel, name));
        if (before) deleted(rel ? `${rel}/${name}` : name, before);
      }
    }
    for (const name of names(upperDir)) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) continue; // whiteout: handled above
      const before = lstatOrNull(join(lower, r));
      if (st.isDirectory()) {
        if (!before) present(r, st, "added");
        else if (!before.isDirectory()) present(r, st, "replaced", before);
        walk(r);
        continue;
      }
      if (!before) present(r, st, "added");
      else if (typeOf(before) !== typeOf(st)) present(r, st, "replaced", before);
      else if (st.isSymbolicLink()) {
        if (readlinkSync(join(lower, r)) !== readlinkSync(join(merged, r)))
          present(r, st, "modified", before);
      } else if (!sameContent(join(lower, r), join(merged, r), before, st))
        present(r, st, "modified", before);
    }
  };
  walk("");
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  writeFileSync(join(out, "changes.json"), JSON.stringify(changes));
  return changes;
}
