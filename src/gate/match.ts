// Rule matchers over one call. Host and path matching are the policy engine's (src/policy).
import { type HostPattern, hostPatternMatches, parseHostPattern } from "../policy/host.ts";
import { compilePathGlob, compileValueGlob, normalizePath } from "../policy/path.ts";
import { hostRunGlobs } from "../sandbox/protected.ts";
import { describeCall, type ToolCall } from "./call.ts";
import { namedTargets } from "./mcp/arguments.ts";
import { argumentsStopped, type CompiledMcp, compileMcpMatch, matchMcp, mcpNamedCalls } from "./mcp/rule.ts";
import {
  type BaseDirs,
  baseDirs,
  candidatePaths,
  fileGlobMatches,
  type GlobList,
  isAncestorOfGlob,
  isRelative,
  type Paths,
  pathForms,
  pathReadings,
  rawPath,
  unsafePathProblem,
} from "./paths.ts";
import { type AllowRule, type Capability, HOST_RUN_FILES } from "./schema.ts";
import { canonicalFlag, hasRefusedFlag, parseArgs, type RefusedFlag, refusedFlag } from "./shell/flags.ts";
import { DEFAULT_INERT_ENV, INERT_VALUE } from "./shell/grammar.ts";
import type { EnvAssignment, ShellAnalysis, SimpleCommand, Word } from "./shell/types.ts";
import { basename } from "./shell/wrappers.ts";

/** yes: the rule applies; maybe: it could, given what only run time knows; no: it does not. */
export type Tri = "yes" | "maybe" | "no";

/** stop: hard-stop semantics (unknowns are maybe); allow/contain: only what is certain. */
export type Mode = "stop" | "allow" | "contain";

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Directories where a command given by absolute path still counts as that command. */
const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$/;

const DEFAULT_INERT = new Set(DEFAULT_INERT_ENV);

/** A `NAME=literal` prefix of an inert name (the policy's list) with a value that names no file. */
function inertAssignment(inert: ReadonlySet<string>, e: EnvAssignment): boolean {
  return inert.has(e.name) && !e.value.dynamic && !e.value.glob && INERT_VALUE.test(e.value.value);
}

const GIT_GLOBAL_WITH_VALUE = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"]);

function valueGlobs(globs: string[]): RegExp[] {
  return globs.map((g) => compileValueGlob(g));
}

const anyMatch = (res: RegExp[], value: string) => res.some((re) => re.test(value));

/** A compiled rule: the matcher for its kind, plus what the decision reports. */
export interface CompiledRule {
  id: string;
  reason: string | undefined;
  capabilities: Capability[];
  kind: "shell" | "mcp" | "fetch" | "file" | "tool";
  shell?: CompiledShell;
  mcp?: CompiledMcp;
  fetch?: { methods: string[]; hosts: HostPattern[]; paths: RegExp[] };
  file?: { op: "read" | "write" | "any"; globs: GlobList };
  tool?: { names: RegExp[] };
}

interface CompiledShell {
  names: RegExp[];
  subcommands: RegExp[];
  flags: string[];
  noFlags: RefusedFlag[];
  anyArg: RegExp[];
  allArgs: RegExp[];
  outsideWorkdir: boolean;
}

export function compileRule(rule: AllowRule, id: string): CompiledRule {
  const base = { id, reason: rule.reason, capabilities: rule.capabilities };
  if (rule.shell) {
    const s = rule.shell;
    const names = list(s.command);
    return {
      ...base,
      kind: "shell",
      shell: {
        names: valueGlobs(names),
        subcommands: valueGlobs(list(s.subcommand)),
        flags: list(s.flags).flatMap((f) => names.map((n) => canonicalFlag(n, f))),
        noFlags: list(s.no_flags).flatMap((f) => names.map((n) => refusedFlag(n, f))),
        anyArg: valueGlobs(list(s.any_arg)),
        allArgs: valueGlobs(list(s.all_args)),
        outsideWorkdir: s.outside_workdir ?? false,
      },
    };
  }
  if (rule.mcp) return { ...base, kind: "mcp", mcp: compileMcpMatch(rule.mcp) };
  if (rule.fetch) {
    return {
      ...base,
      kind: "fetch",
      fetch: {
        methods: list(rule.fetch.method),
        hosts: list(rule.fetch.host).map((h) => parseHostPattern(h) as HostPattern),
        paths: list(rule.fetch.path).map((p) => compilePathGlob(p)),
      },
    };
  }
  if (rule.file) {
    const raw = list(rule.file.path).flatMap((g) => (g === HOST_RUN_FILES ? hostRunGlobs() : [g]));
    return { ...base, kind: "file", file: { op: rule.file.op, globs: { raw } } };
  }
  return { ...base, kind: "tool", tool: { names: valueGlobs(list(rule.tool?.name)) } };
}

// ---- shell --------------------------------------------------------------------------------

/** Unicode look-alikes folded (ｒｍ → rm) so a hard stop cannot be dodged by them. */
function foldName(name: string): string {
  return basename(name.normalize("NFKC")).toLowerCase();
}

/** Index in `cmd.args` of the first operand (git: after its global options), or -1. */
export function subcommandIndex(cmd: SimpleCommand): number {
  const isGit = basename(cmd.name.value) === "git";
  for (let i = 0; i < cmd.args.length; i++) {
    const arg = cmd.args[i] as Word;
    if (arg.dynamic) return i;
    if (arg.value === "--") return i + 1 < cmd.args.length ? i + 1 : -1;
    if (!arg.value.startsWith("-")) return i;
    if (isGit && GIT_GLOBAL_WITH_VALUE.has(arg.value)) i++;
  }
  return -1;
}

function subcommandOf(cmd: SimpleCommand): Word | undefined {
  const i = subcommandIndex(cmd);
  return i < 0 ? undefined : cmd.args[i];
}

const combine = (results: Tri[]): Tri =>
  results.includes("no") ? "no" : results.includes("maybe") ? "maybe" : "yes";

/** Does one simple command match a shell rule? */
export function matchShellCommand(
  m: CompiledShell,
  cmd: SimpleCommand,
  paths: Paths,
  mode: Mode,
  bd: BaseDirs = { bases: [paths.cwd], unknown: false },
  inert: ReadonlySet<string> = DEFAULT_INERT,
): Tri {
  const certain = mode !== "stop";
  const results: Tri[] = [];
  // name
  if (cmd.name.dynamic || cmd.name.glob) {
    if (certain) return "no";
    results.push("maybe");
  } else if (certain) {
    const raw = cmd.name.value;
    if (raw.includes("/") && !SYSTEM_BIN.test(raw)) return "no"; // ./ls is not ls
    if (!anyMatch(m.names, raw)) return "no";
  } else if (!anyMatch(m.names, foldName(cmd.name.value)) && !anyMatch(m.names, cmd.name.value)) return "no";
  if (certain) {
    if (cmd.appendedArgs && mode === "allow") return "no";
    if (mode === "allow" && !cmd.env.every((e) => inertAssignment(inert, e))) return "no";
    if (mode === "allow" && cmd.args.some((a) => a.dynamic || a.glob)) return "no";
  }
  const parsed = parseArgs(cmd);
  if (m.subcommands.length > 0) {
    const sub = subcommandOf(cmd);
    if (!sub) return "no";
    if (sub.dynamic) {
      if (certain) return "no";
      results.push("maybe");
    } else if (!anyMatch(m.subcommands, sub.value)) return "no";
  }
  if (m.flags.length > 0) {
    const missing = m.flags.filter((f) => !parsed.flags.has(f));
    if (missing.length > 0) {
      if (certain || !parsed.dynamicOption) return "no";
      results.push("maybe");
    }
  }
  if (m.noFlags.length > 0) {
    if (m.noFlags.some((f) => hasRefusedFlag(parsed, f))) return "no";
    if (parsed.dynamicOption) {
      if (certain) return "no";
    }
  }
  if (m.anyArg.length > 0) {
    if (parsed.operands.some((a) => !a.dynamic && anyMatch(m.anyArg, a.value))) results.push("yes");
    else if (!certain && parsed.operands.some((a) => a.dynamic || a.glob)) results.push("maybe");
    else return "no";
  }
  if (m.allArgs.length > 0) {
    for (const a of parsed.operands) {
      if (a.dynamic) {
        if (certain) return "no";
        results.push("maybe");
      } else if (!anyMatch(m.allArgs, a.value)) return "no";
    }
  }
  if (m.outsideWorkdir) {
    const root = paths.workdir.replace(/\/+$/, "") || "/";
    const outside = (a: Word) =>
      candidatePaths(paths, bd, a.value).some((p) => !(p.startsWith(`${root}/`) && p !== root));
    const operands = parsed.operands;
    if (operands.some((a) => !a.dynamic && !a.glob && outside(a))) results.push("yes");
    else if (
      !certain &&
      operands.some((a) => a.dynamic || (a.glob && outside(a)) || (bd.unknown && isRelative(a.value)))
    )
      results.push("maybe");
    else return "no";
  }
  return combine(results);
}

const pathsCache = new WeakMap<ShellAnalysis, Array<{ word: Word; op: "read" | "write" | "arg" }>>();

/** Every path a shell line names: redirections, and operands/option values of every command. */
function shellPaths(analysis: ShellAnalysis): Array<{ word: Word; op: "read" | "write" | "arg" }> {
  const cached = pathsCache.get(analysis);
  if (cached) return cached;
  const out: Array<{ word: Word; op: "read" | "write" | "arg" }> = [];
  for (const r of analysis.redirects) out.push({ word: r.path, op: r.op });
  for (const cmd of analysis.commands) {
    const parsed = parseArgs(cmd);
    for (const w of [...parsed.operands, ...parsed.optionValues]) out.push({ word: w, op: "arg" });
  }
  pathsCache.set(analysis, out);
  return out;
}

function opApplies(ruleOp: "read" | "write" | "any", op: "read" | "write" | "arg"): boolean {
  return ruleOp === "any" || op === "arg" || ruleOp === op;
}

// ---- per call -----------------------------------------------------------------------------

export interface Target {
  call: ToolCall;
  analysis?: ShellAnalysis;
  paths: Paths;
  /** Variables a command prefix may set at tier 0 (default: the built-in few). */
  inertEnv?: ReadonlySet<string>;
}

/**
 * Every path the call names, as the keys `Paths.real` is looked up by: the edge resolves each on
 * the filesystem before the pure matchers run.
 */
export function namedPathKeys(call: ToolCall, analysis: ShellAnalysis | undefined, paths: Paths): string[] {
  if (call.kind === "file_read" || call.kind === "file_write") return [rawPath(paths, call.path)];
  // Every path an MCP call's arguments or a tool's input may name: the hard stops look at all
  // of them, an allow at those named as paths (mcpNamedCalls).
  if (call.kind === "mcp") return [...new Set(namedTargets(call.arguments, paths).keys)];
  if (call.kind === "tool") return [...new Set(namedTargets(call.input, paths).keys)];
  if (call.kind !== "shell" || !analysis) return [];
  const bd = baseDirs(paths, analysis);
  const keys = new Set<string>(bd.bases);
  for (const { word } of shellPaths(analysis)) {
    if (word.dynamic) continue;
    for (const { raw, base } of pathReadings(paths, bd, word.value)) keys.add(rawPath(paths, raw, base));
  }
  return [...keys];
}

function fetchParts(call: { method: string; url: string }): { host: string; path: string } | null {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const normalized = normalizePath(url.pathname || "/");
  if (!normalized.ok) return null;
  return { host: url.hostname, path: normalized.path };
}

/** Does a non-shell rule match a non-shell call? (stop mode: unparseable input is maybe.) */
function matchDirect(rule: CompiledRule, t: Target, mode: Mode): Tri {
  const call = t.call;
  switch (call.kind) {
    case "mcp":
      if (rule.mcp) return matchMcp(rule.mcp, call, mode);
      // File and fetch hard stops apply to the paths and URLs an MCP call's arguments name.
      if (mode !== "stop" || (!rule.file && !rule.fetch)) return "no";
      return argumentsStopped(rule, call.arguments, t.paths, (c) =>
        matchDirect(rule, { ...t, call: c }, mode),
      );
    case "fetch": {
      const m = rule.fetch;
      if (!m) return "no";
      const parts = fetchParts(call);
      if (!parts) return mode === "stop" ? "maybe" : "no";
      const method = call.method.toUpperCase();
      if (m.methods.length > 0 && !m.methods.some((x) => x === "*" || x === method)) return "no";
      if (!m.hosts.some((h) => hostPatternMatches(h, parts.host))) return "no";
      if (m.paths.length > 0 && !m.paths.some((re) => re.test(parts.path))) return "no";
      return "yes";
    }
    case "file_read":
    case "file_write": {
      const m = rule.file;
      if (!m || !opApplies(m.op, call.kind === "file_read" ? "read" : "write")) return "no";
      if (m.op !== "any" && m.op !== (call.kind === "file_read" ? "read" : "write")) return "no";
      const forms = pathForms(t.paths, call.path);
      // A hard stop hits if the text or the real target hits; an allow needs both, resolved safely.
      if (mode === "stop") {
        if (forms.some((p) => fileGlobMatches(t.paths, m.globs, p))) return "yes";
        // Listing or searching a directory above protected files (Glob, Grep, LS) may reach them.
        const above = call.kind === "file_read" && m.op !== "write";
        return above && forms.some((p) => isAncestorOfGlob(t.paths, m.globs, p)) ? "maybe" : "no";
      }
      if (unsafePathProblem(t.paths, call.path)) return "no";
      return forms.every((p) => fileGlobMatches(t.paths, m.globs, p)) ? "yes" : "no";
    }
    case "tool":
      if (rule.tool) return anyMatch(rule.tool.names, call.name) ? "yes" : "no";
      // Hard stops apply to every tool kind: a tool's input is looked at like MCP arguments.
      if (mode !== "stop" || (!rule.file && !rule.fetch)) return "no";
      return argumentsStopped(rule, call.input, t.paths, (c) => matchDirect(rule, { ...t, call: c }, mode));
    default:
      return "no";
  }
}

/** Hard-stop semantics: the rule hits if any part of the call hits. */
export function hardStopMatches(rule: CompiledRule, t: Target): Tri {
  if (t.call.kind !== "shell") return matchDirect(rule, t, "stop");
  const analysis = t.analysis;
  if (!analysis) return "no";
  let best: Tri = "no";
  const bd = baseDirs(t.paths, analysis);
  if (rule.shell) {
    for (const cmd of analysis.commands) {
      const r = matchShellCommand(rule.shell, cmd, t.paths, "stop", bd);
      if (r === "yes") return "yes";
      if (r === "maybe") best = "maybe";
    }
  } else if (rule.file) {
    for (const { word, op } of shellPaths(analysis)) {
      if (!opApplies(rule.file.op, op) || word.dynamic) continue;
      const file = rule.file;
      const candidates = candidatePaths(t.paths, bd, word.value);
      if (candidates.some((p) => fileGlobMatches(t.paths, file.globs, p))) return "yes";
      // Reading a directory above protected files may read them (grep -r x ~); writing it cannot.
      if (
        op === "arg" &&
        file.op !== "write" &&
        candidates.some((p) => isAncestorOfGlob(t.paths, file.globs, p))
      )
        best = "maybe";
      if (bd.unknown && isRelative(word.value)) best = "maybe";
    }
  }
  return best;
}

/** Why a file call's path cannot be allowed whatever the rules say, if it cannot: `: <why>`. */
function pathNote(paths: Paths, call: ToolCall): string {
  if (call.kind !== "file_read" && call.kind !== "file_write") return "";
  const problem = unsafePathProblem(paths, call.path);
  return problem ? `: ${problem}` : "";
}

const HARMLESS_WRITES = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"]);

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);

/**
 * The first of these paths (every form of one word) that lies in the user's home but not in the
 * workdir and that no file rule for reading covers, if any. The home holds what no list of
 * secrets can name; the sandbox hides it too.
 */
function homePathUncovered(
  paths: Paths,
  rules: readonly CompiledRule[],
  forms: readonly string[],
): string | undefined {
  return forms.find(
    (p) =>
      inside(p, paths.home) &&
      !inside(p, paths.workdir) &&
      !rules.some((r) => r.file && r.file.op !== "write" && fileGlobMatches(paths, r.file.globs, p)),
  );
}

/**
 * Allow/contain semantics over a set of rules: every part of the call must be covered.
 * Returns the ids of the rules that covered it, or a reason it is not covered.
 */
export function coverCall(
  rules: CompiledRule[],
  t: Target,
  mode: "allow" | "contain",
  alsoCovering: CompiledRule[] = [],
): { covered: true; rules: string[] } | { covered: false; reason: string } {
  const call = t.call;
  if (call.kind !== "shell") {
    if (mode === "contain") return { covered: false, reason: "only shell commands run contained" };
    const rule = rules.find((r) => matchDirect(r, t, "allow") === "yes");
    if (!rule) return { covered: false, reason: `no allow rule matches${pathNote(t.paths, call)}` };
    if (call.kind !== "mcp") return { covered: true, rules: [rule.id] };
    // The paths and URLs an MCP call names need the file and fetch rules' allow as well.
    // Their real forms come from the edge's path facts (namedPathKeys), as for file tools.
    const named = mcpNamedCalls(call, t.paths);
    if ("uncovered" in named) return { covered: false, reason: named.uncovered };
    const used = [rule.id];
    for (const c of named) {
      const cover = rules.find((r) => matchDirect(r, { ...t, call: c }, "allow") === "yes");
      if (!cover)
        return {
          covered: false,
          reason: `no allow rule covers ${describeCall(c)} (named in the arguments)${pathNote(t.paths, c)}`,
        };
      used.push(cover.id);
    }
    return { covered: true, rules: [...new Set(used)] };
  }
  const analysis = t.analysis;
  if (!analysis) return { covered: false, reason: "the command was not analysed" };
  if (analysis.parseError) return { covered: false, reason: analysis.parseError };
  if (mode === "allow" && analysis.unknowns.length > 0) {
    return { covered: false, reason: `not statically knowable: ${analysis.unknowns.join("; ")}` };
  }
  const used = new Set<string>();
  let own = 0;
  for (const cmd of analysis.commands) {
    // A wrapper (time, env, bash -c) is judged through its inner command, but its own
    // environment prefix (BASH_ENV=... bash -c) still counts.
    if (cmd.transparent) {
      if (mode === "allow" && !cmd.env.every((e) => inertAssignment(t.inertEnv ?? DEFAULT_INERT, e))) {
        return { covered: false, reason: `environment prefix on ${JSON.stringify(cmd.text.slice(0, 80))}` };
      }
      continue;
    }
    const hit = rules.find(
      (r) =>
        r.shell &&
        matchShellCommand(r.shell, cmd, t.paths, mode, undefined, t.inertEnv ?? DEFAULT_INERT) === "yes",
    );
    if (hit) {
      used.add(hit.id);
      own++;
      continue;
    }
    const other = alsoCovering.find(
      (r) =>
        r.shell &&
        matchShellCommand(r.shell, cmd, t.paths, "allow", undefined, t.inertEnv ?? DEFAULT_INERT) === "yes",
    );
    if (other) {
      used.add(other.id);
      continue;
    }
    return { covered: false, reason: `no ${mode} rule covers ${JSON.stringify(cmd.text.slice(0, 80))}` };
  }
  if (mode === "contain" && own === 0) return { covered: false, reason: "no contain rule matches" };
  const bd = baseDirs(t.paths, analysis);
  if (mode === "allow") {
    const homeBase = homePathUncovered(t.paths, rules, bd.bases);
    if (homeBase) return { covered: false, reason: `runs in ${homeBase}: in the home, outside the workdir` };
    // Every path the line names, read or written, must lead somewhere known and ordinary; one in
    // the user's home outside the workdir (history, browser profiles, tokens no list names) only
    // where a file rule allows it, as for the file tools.
    for (const { word } of shellPaths(analysis)) {
      if (word.dynamic) continue;
      for (const { raw, base } of pathReadings(t.paths, bd, word.value)) {
        const problem = unsafePathProblem(t.paths, raw, base);
        if (problem) return { covered: false, reason: problem };
      }
      const home = homePathUncovered(t.paths, rules, candidatePaths(t.paths, bd, word.value));
      if (home)
        return {
          covered: false,
          reason: `names ${home}: in the home, outside the workdir, and no file rule allows it`,
        };
    }
  }
  for (const r of analysis.redirects) {
    if (r.path.dynamic) {
      if (mode === "allow") return { covered: false, reason: "redirection to a path known only at run time" };
      continue;
    }
    if (r.op === "read" || mode === "contain") continue;
    if (bd.unknown && isRelative(r.path.value)) {
      return {
        covered: false,
        reason: `writes ${r.path.value} after a cd to a directory known only at run time`,
      };
    }
    const targets = candidatePaths(t.paths, bd, r.path.value);
    if (targets.every((p) => HARMLESS_WRITES.has(p))) continue;
    for (const target of targets) {
      if (HARMLESS_WRITES.has(target)) continue;
      const rule = rules.find(
        (x) => x.file && x.file.op !== "read" && fileGlobMatches(t.paths, x.file.globs, target),
      );
      if (!rule) return { covered: false, reason: `no allow rule covers writing ${r.path.value}` };
      used.add(rule.id);
    }
  }
  return { covered: true, rules: [...used] };
}
