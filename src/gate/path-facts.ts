// The imperative edge of path matching: where each path a call names really leads. Reads the
// filesystem (realpath, lstat); the pure matchers get the answers (`Paths.real`).
import { realpathSync } from "node:fs";
import { posix } from "node:path";
import type { CallFacts } from "./cascade.ts";
import type { CallContext, ToolCall } from "./call.ts";
import { namedPathKeys } from "./match.ts";
import { pathsOf, type RealPath, specialPathProblem } from "./paths.ts";
import type { ShellAnalysis } from "./shell/types.ts";

/** At most this many paths are resolved per call; the rest stay unresolved (not tier 0). */
const MAX_PATHS = 256;

/** `/proc/self/cwd` and `/proc/self/root` as the command will see them (the gate's own differ). */
function ownProcLink(raw: string, cwd: string): string {
  const m = /^\/proc\/+(?:self|thread-self)\/+(?:task\/+\d+\/+)?(cwd|root)(\/.*)?$/.exec(raw);
  if (!m) return raw;
  return `${m[1] === "cwd" ? cwd : "/"}${m[2] ?? ""}`;
}

/**
 * Resolves one path the kernel's way: the longest existing prefix through realpath (symlinks,
 * `..` after them, /proc magic links), the missing rest appended as written. A rest holding
 * `..` or a failing lookup (loop, permission) cannot be resolved safely.
 */
export function resolveReal(raw: string, cwd: string): RealPath {
  const lexical = posix.resolve(raw);
  const special = specialPathProblem(lexical);
  const followed = ownProcLink(raw.replace(/\/+/g, "/"), cwd);
  const parts = followed.split("/").filter((p) => p !== "" && p !== ".");
  for (let n = parts.length; n >= 0; n--) {
    const head = `/${parts.slice(0, n).join("/")}`;
    try {
      const real = realpathSync.native(head);
      const rest = parts.slice(n);
      if (rest.includes("..")) return { path: lexical, safe: false };
      const path = posix.join(real, ...rest);
      return { path, safe: special === undefined && specialPathProblem(path) === undefined };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") return { path: lexical, safe: false };
    }
  }
  return { path: lexical, safe: false };
}

/** The facts the cascade needs about one call, gathered from the filesystem. */
export function gatherFacts(call: ToolCall, analysis: ShellAnalysis | undefined, ctx: CallContext): CallFacts {
  const keys = namedPathKeys(call, analysis, pathsOf(ctx)).slice(0, MAX_PATHS);
  const real = new Map<string, RealPath>();
  for (const key of keys) real.set(key, resolveReal(key, ctx.cwd));
  return { real };
}
