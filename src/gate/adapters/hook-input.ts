// Claude Code / Codex PreToolUse payloads → the calls the gate decides. Pure.
import { shellQuote } from "../../sandbox/shell-quote.ts";
import type { ToolCall } from "../call.ts";
import type { GateDecision } from "../cascade.ts";
import { mcpNameReadings } from "../mcp/names.ts";

export interface HookPayload {
  tool_name: string;
  tool_input: Record<string, unknown>;
  cwd?: string;
  session_id?: string;
  hook_event_name?: string;
}

export function parseHookPayload(text: string): HookPayload | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "stdin is not JSON" };
  }
  const v = value as Partial<HookPayload>;
  if (!v || typeof v !== "object" || typeof v.tool_name !== "string" || v.tool_name === "") {
    return { error: "stdin JSON has no tool_name" };
  }
  const input = v.tool_input && typeof v.tool_input === "object" ? v.tool_input : {};
  return {
    tool_name: v.tool_name,
    tool_input: input as Record<string, unknown>,
    ...(typeof v.cwd === "string" ? { cwd: v.cwd } : {}),
    ...(typeof v.session_id === "string" ? { session_id: v.session_id } : {}),
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Paths an apply_patch body touches (`*** Add File: x`, `*** Update File:`, `*** Delete File:`, `*** Move to:`). */
export function patchPaths(patch: string): string[] {
  const out: string[] = [];
  for (const m of patch.matchAll(/^\*\*\* (?:Add|Update|Delete) File: (.+)$|^\*\*\* Move to: (.+)$/gm)) {
    out.push((m[1] ?? m[2] ?? "").trim());
  }
  return out;
}

/** One tool use → the calls that must all pass (apply_patch touches several files). */
export function callsFromHook(p: HookPayload, cwd: string): ToolCall[] {
  const name = p.tool_name;
  const input = p.tool_input;
  if (name.startsWith("mcp__")) {
    // A name that splits several ways is every one of them (the most severe decision stands).
    const readings = mcpNameReadings(name);
    if (readings.length > 0) return readings.map((r) => ({ kind: "mcp", ...r, arguments: input }));
    return [{ kind: "tool", name, input }];
  }
  switch (name) {
    case "Bash":
    case "shell":
    case "exec_command":
    case "local_shell": {
      // Codex may send an argv array: quote each word so the line means exactly that argv.
      const command = input["command"];
      const text = Array.isArray(command)
        ? command.map((w) => shellQuote(String(w))).join(" ")
        : str(command);
      return [{ kind: "shell", command: text ?? "" }];
    }
    case "Read":
    case "NotebookRead":
      return [{ kind: "file_read", path: str(input["file_path"]) ?? str(input["notebook_path"]) ?? "" }];
    case "Glob":
    case "Grep":
    case "LS":
      return [{ kind: "file_read", path: str(input["path"]) ?? cwd }];
    case "Write":
    case "Edit":
    case "MultiEdit":
    case "NotebookEdit":
      return [{ kind: "file_write", path: str(input["file_path"]) ?? str(input["notebook_path"]) ?? "" }];
    case "apply_patch": {
      const command = input["command"];
      const fromArgv = Array.isArray(command)
        ? command.map(String).find((w) => w.includes("*** Begin Patch"))
        : undefined;
      const patch = str(input["patch"]) ?? str(input["input"]) ?? str(command) ?? fromArgv ?? "";
      const paths = patchPaths(patch);
      return paths.length > 0
        ? paths.map((path) => ({ kind: "file_write" as const, path }))
        : [{ kind: "tool", name, input }];
    }
    case "WebFetch":
      return [{ kind: "fetch", method: "GET", url: str(input["url"]) ?? "" }];
    default:
      return [{ kind: "tool", name, input }];
  }
}

const CALL_KINDS = new Set(["shell", "mcp", "fetch", "file_read", "file_write", "tool"]);

/**
 * The input `gate check --input` and `POST /v1/gate/decide` take: a call (`{"kind":"shell",...}`)
 * or a hook payload (`{"tool_name":...}`).
 */
export function callsFromValue(
  value: unknown,
  cwd: string,
): { calls: ToolCall[]; session?: string } | { error: string } {
  const v = value as { kind?: unknown; tool_name?: unknown } | null;
  if (v && typeof v === "object" && typeof v.kind === "string" && CALL_KINDS.has(v.kind)) {
    const call = { ...(value as Record<string, unknown>) } as ToolCall;
    if (call.kind === "mcp") call.arguments ??= {};
    if (call.kind === "tool") call.input ??= {};
    return { calls: [call] };
  }
  const payload = parseHookPayload(JSON.stringify(value ?? null));
  if ("error" in payload) return { error: `${payload.error} and no "kind"` };
  return {
    calls: callsFromHook(payload, payload.cwd ?? cwd),
    ...(payload.session_id ? { session: payload.session_id } : {}),
  };
}

const SEVERITY: Record<GateDecision["decision"], number> = { deny: 3, ask: 2, contain: 1, allow: 0 };

/** Several parts of one tool use: the most severe decision stands. */
export function worstDecision<T extends GateDecision>(decisions: T[]): T {
  return decisions.reduce((worst, d) => (SEVERITY[d.decision] > SEVERITY[worst.decision] ? d : worst));
}

export type HookVerdict = "allow" | "deny" | "ask";

export interface HookOutput {
  hookSpecificOutput: {
    hookEventName: "PreToolUse";
    permissionDecision: HookVerdict;
    permissionDecisionReason: string;
    updatedInput?: Record<string, unknown>;
  };
}

export function hookOutput(
  verdict: HookVerdict,
  reason: string,
  updatedInput?: Record<string, unknown>,
): HookOutput {
  return {
    hookSpecificOutput: {
      hookEventName: "PreToolUse",
      permissionDecision: verdict,
      permissionDecisionReason: reason,
      ...(updatedInput ? { updatedInput } : {}),
    },
  };
}

export function describeDecision(d: GateDecision): string {
  const where = d.rule ? ` [${d.step} ${d.rule}]` : ` [${d.step}]`;
  return `airlock gate: ${d.decision} (tier ${d.tier})${where}: ${d.reason}`;
}
