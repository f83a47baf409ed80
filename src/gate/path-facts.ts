// The imperative edge of path matching: where each path a call names really leads, for every
// tool kind (shell words, file tools, MCP arguments and resources), through the one resolver
// (real-path.ts). The pure matchers get the answers (`Paths.real`).
import { accessSync, constants } from "node:fs";
import { posix } from "node:path";
import type { CallContext, ToolCall } from "./call.ts";
import type { CallFacts } from "./cascade.ts";
import type { CompiledGate } from "./compile.ts";
import { gatherGitFacts } from "./git-facts.ts";
import { namedPathKeys } from "./match.ts";
import { type GlobList, pathsOf, type RealPath } from "./paths.ts";
import { type ProtectedFiles, protectedFiles } from "./protected-files.ts";
import { type Entry, type Resolved, resolveReal } from "./real-path.ts";
import type { ShellAnalysis } from "./shell/types.ts";

export { resolveReal };

/**
 * At most this many paths are resolved per call (an MCP call names at most 512 strings, each in
 * a few spellings); the rest stay unresolved (not tier 0).
 */
const MAX_PATHS = 2048;

const within = (dir: string, path: string) => {
  const root = dir.replace(/\/+$/, "");
  return path === root || path.startsWith(`${root}/`) || root === "";
};

/** Can the agent (this user) replace a symlink: is the directory holding it writable? */
function replaceable(link: string): boolean {
  try {
    accessSync(posix.dirname(link), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The file globs of the hard stops: the files whose other names (hard links) are theirs too. */
function hardStopGlobs(gate: CompiledGate | undefined): GlobList[] {
  return (gate?.hardStops ?? []).flatMap((r) => (r.file ? [r.file.globs] : []));
}

/** What one resolved path is, for the matchers: where it leads, and why it is not tier 0 if not. */
function factOf(raw: string, r: Resolved, workdirs: string[], stopped: () => ProtectedFiles): RealPath {
  const fact: RealPath = { path: r.path, safe: r.safe };
  if (r.file && r.file.nlink > 1) {
    // A file with more than one name is a protected file if it is one of them by identity;
    // otherwise it is one only if its other names cannot all be known.
    const known = stopped();
    const same = known.byId.get(r.file.id);
    if (same) fact.sameFile = same;
    else if (!known.complete)
      fact.problem = `${raw} has ${r.file.nlink} names, and the protected files could not all be checked`;
    else if (known.unanchored.length > 0)
      fact.problem = `${raw} has ${r.file.nlink} names (hard links): another could be a file protected anywhere (${known.unanchored[0]})`;
  }
  // A symlink the agent can replace may lead elsewhere by the time the command runs. Where it
  // leads inside the workdir a swap can only go to another workdir path (the agent cannot make
  // a link leading out without a person: not at tier 0, and a contained run does not commit
  // one); a replaceable link leading out is never tier 0.
  const swappable =
    fact.problem === undefined && !workdirs.some((w) => within(w, r.path)) && r.links.find(replaceable);
  if (swappable)
    fact.problem = `${raw} goes through ${swappable}, a symlink the agent can replace, to ${r.path} outside the workdir`;
  return fact;
}

/** Where every path the call names really leads (the files `protect` names known by identity). */
export function gatherRealPaths(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
  protect: readonly GlobList[] = [],
): Map<string, RealPath> {
  const paths = pathsOf(ctx);
  const keys = namedPathKeys(call, analysis, paths).slice(0, MAX_PATHS);
  const real = new Map<string, RealPath>();
  const seen = new Map<string, Entry>();
  const workdir = posix.resolve(ctx.workdir);
  const workdirs = [workdir, resolveReal(workdir, ctx.cwd, seen).path];
  let stopped: ProtectedFiles | undefined;
  const known = () => {
    stopped ??= protectedFiles(protect, paths);
    return stopped;
  };
  for (const key of keys) real.set(key, factOf(key, resolveReal(key, ctx.cwd, seen), workdirs, known));
  return real;
}

/** The facts the cascade needs about one call, gathered from the filesystem (and git). */
export function gatherFacts(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
  gate?: CompiledGate,
): CallFacts {
  const real = gatherRealPaths(call, analysis, ctx, hardStopGlobs(gate));
  return { real, git: call.kind === "shell" ? gatherGitFacts(analysis, ctx) : new Map() };
}
