// The imperative edge of path matching: where each path a call names really leads. Reads the
// filesystem (realpath, lstat); the pure matchers get the answers (`Paths.real`).
import { lstatSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import type { CallFacts } from "./cascade.ts";
import type { CallContext, ToolCall } from "./call.ts";
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
export function resolveReal(raw: string, cwd: string): RealPath {
  const lexical = posix.resolve(raw);
  const special = specialPathProblem(lexical);
  let pending = ownProcLink(raw.replace(/\/+/g, "/"), cwd).split("/");
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
    let link = false;
    try {
      link = lstatSync(next).isSymbolicLink();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return { path: lexical, safe: false };
      if (pending.includes("..")) return { path: lexical, safe: false };
      const path = posix.join(next, ...pending);
      return { path, safe: special === undefined && specialPathProblem(path) === undefined };
    }
    if (!link) {
      done = next;
      continue;
    }
    if (++links > MAX_LINKS) return { path: lexical, safe: false };
    let target: string;
    try {
      target = readlinkSync(next);
    } catch {
      return { path: lexical, safe: false };
    }
    pending = [...target.split("/"), ...pending];
    if (target.startsWith("/")) done = "/";
  }
  return { path: done, safe: special === undefined && specialPathProblem(done) === undefined };
}

/** Where every path the call names really leads. */
export function gatherRealPaths(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
): Map<string, RealPath> {
  const keys = namedPathKeys(call, analysis, pathsOf(ctx)).slice(0, MAX_PATHS);
  const real = new Map<string, RealPath>();
  for (const key of keys) real.set(key, resolveReal(key, ctx.cwd));
  return real;
}

/** The facts the cascade needs about one call, gathered from the filesystem (and git). */
export function gatherFacts(call: ToolCall, analysis: ShellAnalysis | undefined, ctx: CallContext): CallFacts {
  const real = gatherRealPaths(call, analysis, ctx);
  return { real, git: call.kind === "shell" ? gatherGitFacts(analysis, ctx) : new Map() };
}
