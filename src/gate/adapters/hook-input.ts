// Claude Code / Codex PreToolUse payloads → the calls the gate decides. Pure.
import { shellQuote } from "../../sandbox/shell-quote.ts";
import { searchReads, type ToolCall } from "../call.ts";
import type { GateDecision } from "../cascade.ts";
import { mcpNameReadings } from "../mcp/names.ts";

export interface HookPayload {
  tool_name: string;
  tool_input: Record<string, unknown>;
  cwd?: string;
  session_id?: string;
  hook_event_name?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A hook payload, or why it is not one (a missing or wrong-typed field is never read as empty). */
export function parseHookPayload(text: string): HookPayload | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "stdin is not JSON" };
  }
  if (!isRecord(value)) return { error: "stdin JSON is not an object" };
  if (typeof value["tool_name"] !== "string" || value["tool_name"] === "")
    return { error: "stdin JSON has no tool_name (a non-empty string)" };
  if (!isRecord(value["tool_input"]))
    return {
      error: `tool_input is ${value["tool_input"] === undefined ? "missing" : "not an object"} (tool ${value["tool_name"]})`,
    };
  for (const key of ["cwd", "session_id"] as const)
    if (value[key] !== undefined && typeof value[key] !== "string")
      return { error: `${key} is not a string` };
  return {
    tool_name: value["tool_name"],
    tool_input: value["tool_input"],
    ...(typeof value["cwd"] === "string" ? { cwd: value["cwd"] } : {}),
    ...(typeof value["session_id"] === "string" ? { session_id: value["session_id"] } : {}),
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Paths an apply_patch body touches (`*** Add File: x`, `*** Update File:`, `*** Delete File:`,
 * `*** Move to:`). Codex reads a header with the blanks around the line trimmed (an indented
 * `  *** Add File: ../x` is a header to it), so every line is matched trimmed: a header Codex
 * obeys is never one the gate skipped.
 */
export function patchPaths(patch: string): string[] {
  const out: string[] = [];
  for (const line of patch.split("\n")) {
    const m = /^\*\*\* (?:(?:Add|Update|Delete) File|Move to): (.+)$/.exec(line.trim());
    if (m?.[1]) out.push(m[1].trim());
  }
  return out;
}

type Calls = ToolCall[] | { error: string };

/** `tool_input[key]` as a string; absent is allowed only when `optional`. */
function field(
  name: string,
  input: Record<string, unknown>,
  key: string,
  optional = false,
): string | undefined | { error: string } {
  const v = input[key];
  if (typeof v === "string") return v;
  if (v === undefined && optional) return undefined;
  return {
    error: `${name}: tool_input.${key} is ${v === undefined ? "missing" : `${kindOf(v)}, not a string`}`,
  };
}

/** What a value is, for an error message: "null", "an array", "an object", "a number". */
const kindOf = (v: unknown) => {
  const kind = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
  return kind === "null" ? kind : /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
};
const failed = (v: unknown): v is { error: string } => typeof v === "object" && v !== null;

/** A shell command: a string, or (Codex) an argv array of strings, quoted so the line means exactly that argv. */
function shellCommand(name: string, input: Record<string, unknown>, key: string): Calls {
  const command = input[key];
  if (Array.isArray(command) && command.length > 0 && command.every((w) => typeof w === "string"))
    return [{ kind: "shell", command: command.map((w) => shellQuote(w)).join(" ") }];
  const text = field(name, input, key);
  if (failed(text))
    return Array.isArray(command) ? { error: `${name}: tool_input.${key} is not a list of strings` } : text;
  return [{ kind: "shell", command: text as string }];
}

/** One tool use → the calls that must all pass (apply_patch touches several files), or why it cannot be read. */
export function callsFromHook(p: HookPayload, cwd: string): Calls {
  const name = p.tool_name;
  const input = p.tool_input;
  if (name.startsWith("mcp__")) {
    // A name that splits several ways is every one of them (the most severe decision stands).
    const readings = mcpNameReadings(name);
    if (readings.length > 0) return readings.map((r) => ({ kind: "mcp", ...r, arguments: input }));
    return [{ kind: "tool", name, input }];
  }
  const one = (kind: "file_read" | "file_write", key: string, optional = false, fallback = cwd): Calls => {
    const path = field(name, input, key, optional);
    return failed(path) ? path : [{ kind, path: path ?? fallback }];
  };
  switch (name) {
    case "Bash":
    case "shell":
    case "local_shell":
      return shellCommand(name, input, "command");
    case "exec_command":
      // Codex 0.169: {cmd: "..."}; older builds sent {command: [...]}.
      return shellCommand(
        name,
        input,
        input["cmd"] === undefined && input["command"] !== undefined ? "command" : "cmd",
      );
    case "Read":
    case "Write":
    case "Edit":
    case "MultiEdit":
      return one(name === "Read" ? "file_read" : "file_write", "file_path");
    case "NotebookRead":
    case "NotebookEdit":
      return one(name === "NotebookRead" ? "file_read" : "file_write", "notebook_path");
    case "Glob":
    case "Grep": {
      // What a search reads: its path, and the fixed directory its file glob starts from (Glob's
      // pattern, Grep's glob; Grep's own pattern is a regex over contents, not a path).
      const path = field(name, input, "path", true);
      if (failed(path)) return path;
      const glob = field(name, input, name === "Glob" ? "pattern" : "glob", name === "Grep");
      if (failed(glob)) return glob;
      return searchReads(path, glob, cwd);
    }
    case "LS":
      return one("file_read", "path", true);
    case "apply_patch": {
      const command = input["command"];
      const fromArgv = Array.isArray(command)
        ? command.find((w): w is string => typeof w === "string" && w.includes("*** Begin Patch"))
        : undefined;
      const patch = str(input["patch"]) ?? str(input["input"]) ?? str(command) ?? fromArgv;
      if (patch === undefined)
        return { error: "apply_patch: no patch text (tool_input.patch, .input or .command)" };
      const paths = patchPaths(patch);
      return paths.length > 0
        ? paths.map((path) => ({ kind: "file_write" as const, path }))
        : [{ kind: "tool", name, input }];
    }
    case "WebFetch": {
      const url = field(name, input, "url");
      return failed(url) ? url : [{ kind: "fetch", method: "GET", url: url as string }];
    }
    default:
      return [{ kind: "tool", name, input }];
  }
}

/** Each call kind's fields and their types ("object": a JSON object; `?`: may be absent). */
const CALL_FIELDS: Record<ToolCall["kind"], Record<string, "string" | "object" | "object?">> = {
  shell: { command: "string" },
  mcp: { server: "string", tool: "string", arguments: "object?" },
  fetch: { method: "string", url: "string" },
  file_read: { path: "string" },
  file_write: { path: "string" },
  tool: { name: "string", input: "object?" },
};

function checkCall(call: Record<string, unknown>, kind: ToolCall["kind"]): string | null {
  for (const [key, type] of Object.entries(CALL_FIELDS[kind])) {
    const v = call[key];
    if (type === "object?" && v === undefined) continue;
    const ok = type === "string" ? typeof v === "string" : isRecord(v);
    if (!ok)
      return `${kind}: ${key} is ${v === undefined ? "missing" : kindOf(v)}, not ${type === "string" ? "a string" : "an object"}`;
  }
  return null;
}

/**
 * The input `gate check --input` and `POST /v1/gate/decide` take: a call (`{"kind":"shell",...}`)
 * or a hook payload (`{"tool_name":...}`).
 */
export function callsFromValue(
  value: unknown,
  cwd: string,
): { calls: ToolCall[]; session?: string } | { error: string } {
  const v = value as { kind?: unknown; tool_name?: unknown } | null;
  if (v && typeof v === "object" && typeof v.kind === "string" && Object.hasOwn(CALL_FIELDS, v.kind)) {
    const wrong = checkCall(value as Record<string, unknown>, v.kind as ToolCall["kind"]);
    if (wrong) return { error: wrong };
    const call = { ...(value as Record<string, unknown>) } as ToolCall;
    if (call.kind === "mcp") call.arguments ??= {};
    if (call.kind === "tool") call.input ??= {};
    return { calls: [call] };
  }
  const payload = parseHookPayload(JSON.stringify(value ?? null));
  if ("error" in payload) return { error: `${payload.error} and no "kind"` };
  const calls = callsFromHook(payload, payload.cwd ?? cwd);
  if ("error" in calls) return calls;
  return {
    calls,
    ...(payload.session_id ? { session: payload.session_id } : {}),
  };
}

const SEVERITY: Record<GateDecision["decision"], number> = { deny: 3, ask: 2, contain: 1, allow: 0 };

/** Several parts of one tool use: the most severe decision stands. */
export function worstDecision<T extends GateDecision>(decisions: T[]): T {
  return decisions.reduce((worst, d) => (SEVERITY[d.decision] > SEVERITY[worst.decision] ? d : worst));
}

export { describeDecision } from "../../protocol/hook-wire.ts";
