// What an ask records about a call: its receipts label, input digest and one redacted line the
// developer reads in the inbox (never env values, tokens or query strings). Pure.

import { createHash } from "node:crypto";
import { redactSecretsIn } from "../audit/secrets.ts";
import { stableJson } from "../policy/canonical.ts";
import { callDigest, type ToolCall, toolLabel } from "./call.ts";

function urlWithoutSecrets(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?[redacted]" : ""}`;
  } catch {
    return raw;
  }
}

const keys = (o: Record<string, unknown>) => Object.keys(o).sort().join(", ");

/** Longer string values are cut, with a mark saying how much is not shown. */
const SHOWN_CHARS = 160;

function cutValues(value: unknown, depth = 0): unknown {
  if (typeof value === "string")
    return value.length > SHOWN_CHARS
      ? `${value.slice(0, SHOWN_CHARS)}…[+${value.length - SHOWN_CHARS} chars]`
      : value;
  if (depth > 8 || value === null || typeof value !== "object") return depth > 8 ? "…" : value;
  if (Array.isArray(value)) return value.map((v) => cutValues(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutValues(v, depth + 1)]));
}

/**
 * An MCP call's arguments as the developer must see them to decide: the values (the agent
 * chooses the names too), secrets redacted, long values cut with a visible mark.
 */
function argumentValues(args: Record<string, unknown>): string {
  if (Object.keys(args).length === 0) return "(no arguments)";
  return redactSecretsIn(stableJson(cutValues(args)), 1500);
}

/** One line per call: values that could carry secrets are left out or redacted. */
export function summarizeCall(call: ToolCall): string {
  switch (call.kind) {
    case "shell":
      return redactSecretsIn(call.command);
    case "fetch":
      return redactSecretsIn(`${call.method.toUpperCase()} ${urlWithoutSecrets(call.url)}`);
    case "file_read":
      return redactSecretsIn(`read ${call.path}`);
    case "file_write":
      return redactSecretsIn(`write ${call.path}`);
    case "mcp":
      return redactSecretsIn(`mcp ${call.server}/${call.tool} ${argumentValues(call.arguments)}`, 1800);
    // Other tools' input is free-form: its names only.
    case "tool":
      return redactSecretsIn(`tool ${call.name} (${keys(call.input) || "no input"})`);
  }
}

export interface AskDraft {
  tool: string;
  input_digest: string;
  summary: string;
}

/** The ask for one tool use (several calls when a patch touches several files). */
export function askDraft(calls: ToolCall[]): AskDraft {
  if (calls.length === 1) {
    const call = calls[0] as ToolCall;
    return { tool: toolLabel(call), input_digest: callDigest(call), summary: summarizeCall(call) };
  }
  return {
    tool: [...new Set(calls.map(toolLabel))].join(","),
    input_digest: `sha256:${createHash("sha256").update(stableJson(calls)).digest("hex")}`,
    summary: redactSecretsIn(calls.map(summarizeCall).join("; ")),
  };
}
