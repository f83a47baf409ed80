// Where a path really leads on this machine: the one resolver behind every tool kind's path
// facts (shell words, file tools, MCP arguments and resources) and the contained run's symlink
// check. It walks the path the kernel's way (symlinks, `..` after them, `/proc/self/root|cwd`)
// and reports the symlinks it went through and what the file is (device, inode, link count).
// The imperative edge: the pure matchers get the answers (`Paths.real`).
import { type BigIntStats, lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { posix } from "node:path";
import { type RealPath, specialPathProblem } from "./paths.ts";

/** Symlinks followed per path, as the kernel's limit (ELOOP after 40). */
const MAX_LINKS = 40;

/** A path resolved, with what the edge needs to judge it beyond where it leads. */
export interface Resolved extends RealPath {
  /** The symlinks the walk went through (each as the path of the link itself). */
  links: string[];
  /** The file at the end, if it exists: a regular file's (device, inode) and its number of names. */
  file?: { id: string; nlink: number };
}

/** `/proc/self/cwd` and `/proc/self/root` as the command will see them (the gate's own differ). */
function ownProcLink(raw: string, cwd: string): string {
  const m = /^\/proc\/+(?:self|thread-self)\/+(?:task\/+\d+\/+)?(cwd|root)(\/.*)?$/.exec(raw);
  if (!m) return raw;
  return `${m[1] === "cwd" ? cwd : "/"}${m[2] ?? ""}`;
}

export type Entry = "plain" | "missing" | "error" | { link: string };

/** One component: a plain entry, a symlink (its target), missing, or unreadable. Cached per call. */
function lookup(path: string, seen: Map<string, Entry>): Entry {
  const cached = seen.get(path);
  if (cached !== undefined) return cached;
  let entry: Entry;
  try {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    entry = stat === undefined ? "missing" : stat.isSymbolicLink() ? { link: readlinkSync(path) } : "plain";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    entry = code === "ENOENT" || code === "ENOTDIR" ? "missing" : "error";
  }
  seen.set(path, entry);
  return entry;
}

/** A regular file's identity: the same (device, inode) under two names is one file (a hard link). */
export function fileIdentity(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}`;
}

function fileAt(path: string): Resolved["file"] {
  try {
    const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!stat?.isFile()) return undefined;
    return { id: fileIdentity(stat), nlink: Number(stat.nlink) };
  } catch {
    return undefined;
  }
}

/**
 * Resolves one path the kernel's way, component by component: symlinks followed (dangling ones
 * too: a write through one creates its target), `..` taken from the real directory, /proc
 * links read. A missing component ends the walk, the rest appended as written; a rest holding
 * `..`, a failing lookup (permission) or too many links cannot be resolved safely.
 */
export function resolveReal(raw: string, cwd: string, seen: Map<string, Entry> = new Map()): Resolved {
  const lexical = posix.resolve(raw);
  const special = specialPathProblem(lexical);
  const followed = ownProcLink(raw.replace(/\/+/g, "/"), cwd);
  const safe = (path: string) => special === undefined && specialPathProblem(path) === undefined;
  const unsafe: Resolved = { path: lexical, safe: false, links: [] };
  // An existing path: the C library resolves it the kernel's way in one call. Its answer equal
  // to the path as written (no `..` in it) means no component was a symlink: the walk below is
  // only needed to name the links. (Missing paths are told apart without an exception: building
  // one costs more than the lookups.)
  if (lookup(followed, seen) !== "missing") {
    try {
      const path = realpathSync.native(followed);
      if (path === posix.resolve(followed) && !followed.split("/").includes(".."))
        return { path, safe: safe(path), links: [], ...optional(fileAt(path)) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return unsafe;
    }
  }
  let pending = followed.split("/");
  let done = "/";
  const links: string[] = [];
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done = posix.dirname(done);
      continue;
    }
    const next = posix.join(done, part);
    const entry = lookup(next, seen);
    if (entry === "error") return unsafe;
    if (entry === "missing") {
      if (pending.includes("..")) return unsafe;
      const path = posix.join(next, ...pending);
      return { path, safe: safe(path), links };
    }
    if (entry === "plain") {
      done = next;
      continue;
    }
    links.push(next);
    if (links.length > MAX_LINKS) return unsafe;
    pending = [...entry.link.split("/"), ...pending];
    if (entry.link.startsWith("/")) done = "/";
  }
  return { path: done, safe: safe(done), links, ...optional(fileAt(done)) };
}

const optional = (file: Resolved["file"]) => (file ? { file } : {});

/** Where an absolute path really leads (for callers that need only the answer). */
export function realPathOnDisk(absolute: string): string {
  return resolveReal(absolute, "/").path;
}
