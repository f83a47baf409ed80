// The tool calls the gate decides, whatever adapter they came through.
import { createHash } from "node:crypto";
import { z } from "zod";
import { stableJson } from "../policy/canonical.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../policy/json-depth.ts";

export type ToolCall =
  | { kind: "shell"; command: string }
  | { kind: "mcp"; server: string; tool: string; arguments: Record<string, unknown> }
  | { kind: "fetch"; method: string; url: string }
  | { kind: "file_read"; path: string }
  | { kind: "file_write"; path: string }
  | { kind: "tool"; name: string; input: Record<string, unknown> };

const Input = z.record(z.string(), z.unknown());

/** What a call must look like before the gate decides it: a field of the wrong type is refused. */
const ToolCallSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("shell"), command: z.string() }),
  z.object({
    kind: z.literal("mcp"),
    server: z.string().min(1),
    tool: z.string().min(1),
    arguments: Input,
  }),
  z.object({ kind: z.literal("fetch"), method: z.string().min(1), url: z.string() }),
  z.object({ kind: z.literal("file_read"), path: z.string() }),
  z.object({ kind: z.literal("file_write"), path: z.string() }),
  z.object({ kind: z.literal("tool"), name: z.string().min(1), input: Input }),
]);

/** The call as the gate decides it (fields it does not know dropped), or why it cannot be. */
function checkCall(call: unknown): { call: ToolCall } | { problem: string } {
  if (nestsDeeperThan(call)) return { problem: `the call nests deeper than ${MAX_JSON_DEPTH} levels` };
  const parsed = ToolCallSchema.safeParse(call);
  if (parsed.success) return { call: parsed.data as ToolCall };
  return {
    problem: parsed.error.issues.map((i) => `${i.path.join(".") || "(call)"}: ${i.message}`).join("; "),
  };
}

/** Every call checked: the calls to decide, or the first problem. */
export function checkCalls(calls: unknown[]): { calls: ToolCall[] } | { problem: string } {
  const out: ToolCall[] = [];
  for (const c of calls) {
    const checked = checkCall(c);
    if ("problem" in checked) return checked;
    out.push(checked.call);
  }
  return { calls: out };
}

export interface CallContext {
  /** The agent's working directory: relative paths resolve against it. */
  cwd: string;
  /** The project root the contain and hard-stop rules call "the workdir" (defaults to cwd). */
  workdir: string;
  /** The user's home, for `~/` in rules and commands. */
  home: string;
  /** Airlock's state folder, for `$AIRLOCK_HOME/…` in rules (default `~/.airlock`). */
  airlockHome?: string;
  /** Can a person be asked (hook with a UI)? If not, ask becomes deny. */
  canAsk: boolean;
  /** Can a contained run carry out this call (a shell hook that can rewrite the command)? */
  canContain: boolean;
  /**
   * A resolver standing in for the filesystem where no path facts are gathered (pure callers):
   * where an absolute path leads. The edge's own facts (path-facts.ts) take precedence.
   */
  realPath?: (absolute: string) => string;
  /** Can the caller carry out a rewritten call (`GateDecision.rewrite`) instead of the original? */
  canRewrite?: boolean;
}

export function describeCall(call: ToolCall): string {
  switch (call.kind) {
    case "shell":
      return call.command;
    case "mcp":
      return `mcp ${call.server}/${call.tool}`;
    case "fetch":
      return `${call.method} ${call.url}`;
    case "file_read":
      return `read ${call.path}`;
    case "file_write":
      return `write ${call.path}`;
    case "tool":
      return `tool ${call.name}`;
  }
}

export function toolLabel(call: ToolCall): string {
  switch (call.kind) {
    case "mcp":
      return `mcp:${call.server}/${call.tool}`;
    case "tool":
      return `tool:${call.name}`;
    default:
      return call.kind;
  }
}

/** SHA-256 of the call's canonical JSON: receipts carry this, never the input itself. */
export function callDigest(call: ToolCall): string {
  return `sha256:${createHash("sha256").update(stableJson(call)).digest("hex")}`;
}

/**
 * The directories a file search reads (Claude Code's Glob and Grep): its `path`, and for a glob
 * the fixed directory its pattern starts with, which may lie elsewhere (`~/.ssh/*`, `../../x/**`).
 */
export function searchReads(path: string | undefined, pattern: string | undefined, cwd: string): ToolCall[] {
  const base = path ?? cwd;
  const calls: ToolCall[] = [{ kind: "file_read", path: base }];
  if (pattern === undefined) return calls;
  const segments = pattern.split("/");
  const wild = segments.findIndex((s) => /[*?[{]/.test(s));
  const fixed = (wild < 0 ? segments.slice(0, -1) : segments.slice(0, wild)).join("/");
  if (fixed === "" && !pattern.startsWith("/")) return calls;
  const root = fixed === "" ? "/" : fixed;
  const inBase =
    root.startsWith("/") || root === "~" || root.startsWith("~/")
      ? root
      : `${base.replace(/\/+$/, "")}/${root}`;
  calls.push({ kind: "file_read", path: inBase });
  return calls;
}
