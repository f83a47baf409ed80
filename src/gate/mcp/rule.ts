// MCP rules over MCP calls, and file/fetch rules over what an MCP call's arguments name. Pure.
//
// Content globs (`arguments: {sql: "*DROP *"}`) compare normalised text (see normalizeContent),
// so `Drop/**/Table` is `drop table`. As a hard stop, a rule with content globs looks at every
// string of every tool of the servers it names: the tool and argument names are the server's
// choice, and `read_query` runs `DROP TABLE` as well as `execute` does.
import { compileValueGlob } from "../../policy/path.ts";
import type { ToolCall } from "../call.ts";
import type { CompiledRule, Mode, Tri } from "../match.ts";
import { fileGlobMatches, isAncestorOfGlob, type Paths } from "../paths.ts";
import type { McpMatch } from "../schema.ts";
import { argumentStrings, namedTargets, normalizeContent } from "./arguments.ts";

interface ContentGlob {
  raw: RegExp;
  normalized: RegExp;
}

export interface CompiledMcp {
  servers: RegExp[];
  tools: RegExp[];
  args: Array<[string, ContentGlob[]]>;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const anyMatch = (res: RegExp[], value: string) => res.some((re) => re.test(value));

export function compileMcpMatch(m: McpMatch): CompiledMcp {
  return {
    servers: list(m.server).map((g) => compileValueGlob(g)),
    tools: list(m.tool).map((g) => compileValueGlob(g)),
    args: Object.entries(m.arguments ?? {}).map(([key, globs]) => [
      key,
      list(globs).map((g) => ({
        raw: compileValueGlob(g),
        normalized: compileValueGlob(g.normalize("NFKC").toLowerCase().replace(/\s+/g, " ")),
      })),
    ]),
  };
}

function argText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value ?? null);
}

const contentHit = (globs: ContentGlob[], text: string) => {
  const normalized = normalizeContent(text);
  return globs.some((g) => g.raw.test(text) || g.normalized.test(normalized));
};

/** An MCP rule against an MCP call. */
export function matchMcp(m: CompiledMcp, call: Extract<ToolCall, { kind: "mcp" }>, mode: Mode): Tri {
  if (!anyMatch(m.servers, call.server)) return "no";
  if (mode === "stop" && m.args.length > 0) {
    const { strings, complete } = argumentStrings(call.arguments);
    const texts = [...strings.map((s) => s.value), JSON.stringify(call.arguments)];
    if (m.args.every(([, globs]) => texts.some((t) => contentHit(globs, t)))) return "yes";
    return complete ? "no" : "maybe";
  }
  if (!anyMatch(m.tools, call.tool)) return "no";
  for (const [key, globs] of m.args) {
    if (!(key in call.arguments)) return "no";
    // An allow holds only if the value matches as written and once normalised.
    const text = argText(call.arguments[key]);
    if (!globs.some((g) => g.raw.test(text) && g.normalized.test(normalizeContent(text)))) return "no";
  }
  return "yes";
}

/**
 * A file or fetch hard stop against an MCP call's arguments (or another tool's input): does any path or URL they may name
 * hit it? A directory above protected files may reach them (maybe), as for shell commands.
 */
export function argumentsStopped(
  rule: CompiledRule,
  args: Record<string, unknown>,
  paths: Paths,
  fetchHit: (call: ToolCall) => Tri,
): Tri {
  const targets = namedTargets(args, paths);
  let best: Tri = targets.complete ? "no" : "maybe";
  if (rule.file) {
    const file = rule.file;
    for (const p of targets.paths) {
      if (fileGlobMatches(paths, file.globs, p)) return "yes";
      if (file.op !== "write" && isAncestorOfGlob(paths, file.globs, p)) best = "maybe";
    }
  }
  if (rule.fetch) {
    for (const url of targets.urls) {
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
        const hit = fetchHit({ kind: "fetch", method, url });
        if (hit === "yes") return "yes";
        if (hit === "maybe") best = "maybe";
      }
    }
  }
  return best;
}

/**
 * What an allowed MCP call must also have covered: the paths and URLs its arguments name as
 * such (file reads, GETs). The MCP rule says which tools may run; file and fetch rules say
 * which paths and hosts any tool may reach.
 */
export function mcpNamedCalls(
  call: Extract<ToolCall, { kind: "mcp" }>,
  paths: Paths,
): ToolCall[] | { uncovered: string } {
  const targets = namedTargets(call.arguments, paths);
  if (!targets.complete) return { uncovered: "the arguments hold more strings than the gate looks at" };
  const odd = targets.unplain[0];
  if (odd !== undefined)
    return {
      uncovered: `${JSON.stringify(odd.slice(0, 80))} is not a plain path (a server may expand or decode it)`,
    };
  return [
    ...[...new Set(targets.namedPaths)].map((path) => ({ kind: "file_read" as const, path })),
    ...[...new Set(targets.namedUrls)].map((url) => ({ kind: "fetch" as const, method: "GET", url })),
  ];
}
