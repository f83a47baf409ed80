// The files the hard stops protect, by identity: a hard link is the same file under another
// name, so `ln ~/.ssh/id_rsa k` makes `k` the key. The edge stats what the file rules name
// with a fixed leading directory (`~/.ssh/**`, `/etc/shadow*`, `~/.netrc`), bounded, and keys
// each file by (device, inode). Globs without a fixed directory (`**/.env`) name files
// anywhere: they cannot be listed, so a file with other names could be one of them.
import { type Dirent, readdirSync, statSync } from "node:fs";
import { posix } from "node:path";
import { compilePathGlob } from "../policy/path.ts";
import { type GlobList, type Paths, resolveGlob } from "./paths.ts";
import { fileIdentity } from "./real-path.ts";

/** Directory entries looked at in all, and directory levels below a glob's fixed directory. */
const MAX_ENTRIES = 4096;
const MAX_DEPTH = 8;

export interface ProtectedFiles {
  /** (device, inode) → the protected paths that name that file. */
  byId: Map<string, string[]>;
  /** Every file the anchored globs name was looked at (no bound hit, no unreadable directory). */
  complete: boolean;
  /** Globs naming files anywhere (`**\/.env`): no list of them exists. */
  unanchored: string[];
}

/** Kernel interfaces: nothing in them can be hard-linked. */
const KERNEL = /^\/(proc|sys|dev)(\/|$)/;

export function protectedFiles(lists: readonly GlobList[], paths: Paths): ProtectedFiles {
  const out: ProtectedFiles = { byId: new Map(), complete: true, unanchored: [] };
  let budget = MAX_ENTRIES;
  const record = (path: string) => {
    try {
      const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
      if (!stat?.isFile()) return;
      const id = fileIdentity(stat);
      out.byId.set(id, [...(out.byId.get(id) ?? []), path]);
    } catch {
      out.complete = false;
    }
  };
  const walk = (dir: string, re: RegExp, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") out.complete = false;
      return;
    }
    budget -= entries.length;
    if (budget < 0) {
      out.complete = false;
      return;
    }
    for (const entry of entries) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth > 1) walk(path, re, depth - 1);
      } else if (re.test(path)) record(path);
    }
  };
  for (const list of lists) {
    for (const glob of list.raw) {
      const resolved = resolveGlob(paths, glob);
      const segments = resolved.split("/");
      const wild = segments.findIndex((s) => /[*?]/.test(s));
      if (!resolved.startsWith("/") || wild === 1) {
        out.unanchored.push(glob);
        continue;
      }
      if (KERNEL.test(resolved)) continue;
      if (wild < 0) {
        record(resolved);
        continue;
      }
      const depth = resolved.includes("**") ? MAX_DEPTH : segments.length - wild;
      walk(segments.slice(0, wild).join("/") || "/", compilePathGlob(resolved), depth);
    }
  }
  return out;
}
