// The imperative edge of path matching: where each path a call names really leads. Reads the
// filesystem (realpath, lstat); the pure matchers get the answers (`Paths.real`).
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { posix } from "node:path";
import type { CallContext, ToolCall } from "./call.ts";
import type { CallFacts } from "./cascade.ts";
import { gatherGitFacts } from "./git-facts.ts";
import { namedPathKeys } from "./match.ts";
import { pathsOf, type RealPath, specialPathProblem } from "./paths.ts";
import type { ShellAnalysis } from "./shell/types.ts";

/** At most this many paths are resolved per call; the rest stay unresolved (not tier 0). */
const MAX_PATHS = 256;
/** Symlinks followed per path, as the kernel's limit (ELOOP after 40). */
const MAX_LINKS = 40;

/** `/proc/self/cwd` and `/proc/self/root` as the command will see them (the gate's own differ). */
function ownProcLink(raw: string, cwd: string): string {
  const m = /^\/proc\/+(?:self|thread-self)\/+(?:task\/+\d+\/+)?(cwd|root)(\/.*)?$/.exec(raw);
  if (!m) return raw;
  return `${m[1] === "cwd" ? cwd : "/"}${m[2] ?? ""}`;
}

/**
 * Resolves one path the kernel's way, component by component: symlinks followed (dangling ones
 * too: a write through one creates its target), `..` taken from the real directory, /proc
 * links read. A missing component ends the walk, the rest appended as written; a rest holding
 * `..`, a failing lookup (permission) or too many links cannot be resolved safely.
 */
export function resolveReal(raw: string, cwd: string, seen: Map<string, Entry> = new Map()): RealPath {
  const lexical = posix.resolve(raw);
  const special = specialPathProblem(lexical);
  const followed = ownProcLink(raw.replace(/\/+/g, "/"), cwd);
  const safe = (path: string) => special === undefined && specialPathProblem(path) === undefined;
  // An existing path: the C library resolves it the kernel's way in one call. (Missing paths
  // are told apart without an exception: building one costs more than the lookups.)
  if (lookup(followed, seen) !== "missing") {
    try {
      const path = realpathSync.native(followed);
      return { path, safe: safe(path) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return { path: lexical, safe: false };
    }
  }
  let pending = followed.split("/");
  let done = "/";
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done = posix.dirname(done);
      continue;
    }
    const next = posix.join(done, part);
    const entry = lookup(next, seen);
    if (entry === "error") return { path: lexical, safe: false };
    if (entry === "missing") {
      if (pending.includes("..")) return { path: lexical, safe: false };
      const path = posix.join(next, ...pending);
      return { path, safe: safe(path) };
    }
    if (entry === "plain") {
      done = next;
      continue;
    }
    if (++links > MAX_LINKS) return { path: lexical, safe: false };
    pending = [...entry.link.split("/"), ...pending];
    if (entry.link.startsWith("/")) done = "/";
  }
  return { path: done, safe: safe(done) };
}

type Entry = "plain" | "missing" | "error" | { link: string };

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

/** Where every path the call names really leads. */
export function gatherRealPaths(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
): Map<string, RealPath> {
  const keys = namedPathKeys(call, analysis, pathsOf(ctx)).slice(0, MAX_PATHS);
  const real = new Map<string, RealPath>();
  const seen = new Map<string, Entry>();
  for (const key of keys) real.set(key, resolveReal(key, ctx.cwd, seen));
  return real;
}

/** The facts the cascade needs about one call, gathered from the filesystem (and git). */
export function gatherFacts(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
): CallFacts {
  const real = gatherRealPaths(call, analysis, ctx);
  return { real, git: call.kind === "shell" ? gatherGitFacts(analysis, ctx) : new Map() };
}
