// Paths in calls and rules: resolving `~/`, relative paths, `cd` targets and rule globs. Pure;
// glob matching is the policy engine's (src/policy/path.ts compilePathGlob).
import { posix } from "node:path";
import { compilePathGlob } from "../policy/path.ts";
import { airlockHome } from "../protocol/home.ts";
import type { CallContext } from "./call.ts";
import type { ShellAnalysis } from "./shell/types.ts";

/** Where a path the call names really leads, found on the filesystem at the edge. */
export interface RealPath {
  /** The resolved path (symlinks, `..` after a symlink, /proc/self/root|cwd followed). */
  path: string;
  /** Resolved without doubt, and nothing a tier-0 call may not touch (/proc, /sys, devices). */
  safe: boolean;
  /**
   * Why a path that resolved is still not tier 0: what it is cannot be known from its name (a
   * file with other names), or may change before it is used (a replaceable symlink).
   */
  problem?: string;
  /** Protected files this one is, under another name (same device and inode: a hard link). */
  sameFile?: string[];
}

export interface Paths {
  cwd: string;
  workdir: string;
  home: string;
  /** Airlock's own state folder, for `$AIRLOCK_HOME/…` globs (default `~/.airlock`). */
  airlockHome?: string;
  /**
   * Facts about the paths the call names, keyed by `rawPath` (unnormalised, since `link/..` is
   * not what it reads). Absent: matching is by text only (inline examples, pure tests).
   */
  real?: ReadonlyMap<string, RealPath>;
}

/** The path as the kernel is handed it: `~` expanded and joined to the base, nothing normalised. */
export function rawPath(paths: Paths, raw: string, base = paths.cwd): string {
  const expanded = raw === "~" ? paths.home : raw.startsWith("~/") ? `${paths.home}${raw.slice(1)}` : raw;
  if (expanded.startsWith("/")) return expanded;
  return `${base.replace(/\/+$/, "")}/${expanded}`;
}

/** Devices a tier-0 call may name: the null device and the command's own standard streams. */
const PLAIN_DEVICES = /^\/dev\/(null|stdin|stdout|stderr|fd\/[012])$/;

/** Why a path is never tier 0 whatever the filesystem says (network and device paths), if it is. */
export function specialPathProblem(lexical: string): string | undefined {
  if (/^\/dev(\/|$)/.test(lexical) && !PLAIN_DEVICES.test(lexical))
    return `${lexical} is a device or a network connection`;
  if (/^\/(proc|sys)(\/|$)/.test(lexical)) return `${lexical} is a kernel interface`;
  return undefined;
}

/** Every form of one path for matching: the text resolved, and where it really leads. */
export function pathForms(paths: Paths, raw: string, base = paths.cwd): string[] {
  const key = rawPath(paths, raw, base);
  const lexical = posix.resolve(key);
  const real = paths.real?.get(key);
  if (!real) return [lexical];
  const forms = new Set([lexical, real.path, ...(real.sameFile ?? [])]);
  return [...forms];
}

/** Allow semantics: the path must have been resolved, safely. Returns why not, if not. */
export function unsafePathProblem(paths: Paths, raw: string, base = paths.cwd): string | undefined {
  const key = rawPath(paths, raw, base);
  const special = specialPathProblem(posix.resolve(key));
  if (special) return special;
  if (!paths.real) return undefined;
  const real = paths.real.get(key);
  if (!real) return `${raw} was not resolved`;
  if (!real.safe) return `${raw} cannot be resolved safely (${real.path})`;
  return specialPathProblem(real.path) ?? real.problem;
}

/** Directories relative paths of a shell line may resolve against: its cwd and every `cd` target. */
export interface BaseDirs {
  bases: string[];
  /** A `cd` target is only known at run time: relative paths could be anywhere. */
  unknown: boolean;
}

const baseCache = new WeakMap<ShellAnalysis, BaseDirs>();

export function baseDirs(paths: Paths, analysis: ShellAnalysis | undefined): BaseDirs {
  if (!analysis || analysis.cdTargets.length === 0) return { bases: [paths.cwd], unknown: false };
  const cached = baseCache.get(analysis);
  if (cached) return cached;
  const bases = new Set([paths.cwd]);
  let unknown = false;
  for (const target of analysis.cdTargets) {
    if (target.dynamic || target.glob) {
      unknown = true;
      continue;
    }
    for (const base of [...bases]) {
      if (bases.size >= 16) break;
      bases.add(rawPath(paths, target.value, base));
    }
  }
  const out = { bases: [...bases], unknown };
  baseCache.set(analysis, out);
  return out;
}

export const isRelative = (value: string) => !value.startsWith("/") && !value.startsWith("~");

/**
 * Every absolute path a word may name: resolved against each base directory, and for
 * `host:path` / `REV:path` forms (scp, git show), the part after the last colon as well.
 */
export function candidatePaths(paths: Paths, bd: BaseDirs, value: string): string[] {
  const out = new Set<string>();
  for (const { raw, base } of pathReadings(paths, bd, value))
    for (const p of pathForms(paths, raw, base)) out.add(p);
  return [...out];
}

/** Each way a word may be read as a path: against each base, and its `host:`/`REV:` tail. */
export function pathReadings(
  paths: Paths,
  bd: BaseDirs,
  value: string,
): Array<{ raw: string; base: string }> {
  const forms = [value];
  const colon = value.lastIndexOf(":");
  if (colon >= 0 && colon < value.length - 1) forms.push(value.slice(colon + 1));
  const out: Array<{ raw: string; base: string }> = [];
  for (const form of forms) {
    if (!isRelative(form)) out.push({ raw: form, base: paths.cwd });
    else for (const base of bd.bases) out.push({ raw: form, base });
  }
  return out;
}

/** The one variable a file glob may start with: wherever Airlock keeps its state. */
const AIRLOCK_HOME = "$AIRLOCK_HOME";

/** Resolves a rule's file glob: `/abs`, `~/x`, `**\/x` (anywhere), else relative to the workdir. */
export function resolveGlob(paths: Paths, glob: string): string {
  if (glob.startsWith("/") || glob.startsWith("**")) return glob;
  if (glob === AIRLOCK_HOME || glob.startsWith(`${AIRLOCK_HOME}/`)) {
    const home = (paths.airlockHome ?? airlockHome({}, paths.home)).replace(/\/+$/, "");
    return `${home}${glob.slice(AIRLOCK_HOME.length)}`;
  }
  if (glob === "~" || glob.startsWith("~/")) return `${paths.home}${glob.slice(1)}`;
  return `${paths.workdir.replace(/\/+$/, "")}/${glob.replace(/^\.\//, "")}`;
}

interface ResolvedGlob {
  re: RegExp;
  /** The fixed leading directory of the glob ("" when it starts with a wildcard). */
  fixed: string;
}

const globCache = new Map<string, ResolvedGlob>();

/** A rule glob resolved for this home and workdir, compiled once. */
function resolvedGlob(paths: Paths, glob: string): ResolvedGlob {
  const key = `${paths.home}\0${paths.workdir}\0${paths.airlockHome ?? ""}\0${glob}`;
  let hit = globCache.get(key);
  if (!hit) {
    const resolved = resolveGlob(paths, glob);
    const wild = resolved.search(/[*?]/);
    const fixed = (wild < 0 ? resolved : resolved.slice(0, resolved.lastIndexOf("/", wild))).replace(
      /\/+$/,
      "",
    );
    hit = { re: compilePathGlob(resolved), fixed: fixed.startsWith("/") ? fixed : "" };
    if (globCache.size > 4096) globCache.clear();
    globCache.set(key, hit);
  }
  return hit;
}

/** One expression for a whole glob list, for this home, workdir and state folder (rules list dozens). */
function combined(paths: Paths, globs: GlobList): RegExp {
  const key = `${paths.home}\0${paths.workdir}\0${paths.airlockHome ?? ""}`;
  const hit = globs.compiled;
  if (hit && hit.key === key) return hit.re;
  const re = new RegExp(globs.raw.map((g) => `(?:${resolvedGlob(paths, g).re.source})`).join("|"), "s");
  globs.compiled = { key, re };
  return re;
}

export function fileGlobMatches(paths: Paths, globs: GlobList, absolute: string): boolean {
  return combined(paths, globs).test(absolute);
}

/**
 * Is `absolute` the directory of, or a directory above, something a glob protects (`~` above
 * `~/.ssh/**`)? A recursive command given it would reach the protected files. Only globs with
 * a fixed leading directory count: `**\/.env` could be under any directory.
 */
export function isAncestorOfGlob(paths: Paths, globs: GlobList, absolute: string): boolean {
  const dir = absolute.replace(/\/+$/, "");
  return globs.raw.some((g) => {
    const { fixed } = resolvedGlob(paths, g);
    if (fixed === "") return false;
    return dir === "" || fixed === dir || fixed.startsWith(`${dir}/`);
  });
}

/** A rule's file globs, as written (resolved per call: `~/` and relative globs depend on it). */
export interface GlobList {
  raw: string[];
  /** The list compiled for the layout it was last matched in. */
  compiled?: { key: string; re: RegExp };
}

export function pathsOf(ctx: CallContext): Paths {
  return {
    cwd: ctx.cwd,
    workdir: ctx.workdir,
    home: ctx.home,
    ...(ctx.airlockHome ? { airlockHome: ctx.airlockHome } : {}),
  };
}
