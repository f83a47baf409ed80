// The hook configuration `airlock agent setup` writes and `airlock agent doctor` checks, for
// Claude Code (settings.json) and Codex (hooks.json), as values. Pure: files and the agents'
// own answers (Codex's trust) are read and written at the edge (src/cli/agent-setup.ts).
import type { AgentFlavor } from "../../protocol/hook-wire.ts";
import { shellQuote } from "../../sandbox/shell-quote.ts";

/** How long an ask waits for the developer, on the gateway (default). */
export const HOOK_WAIT_SECONDS = 50;
/** The margin each deadline keeps over the one inside it. */
const MARGIN_SECONDS = 5;
/** The hook's own deadline (bin/airlock-hook --max-time): the wait plus a margin for the decision. */
export const hookMaxTime = (wait: number) => wait + MARGIN_SECONDS;

export interface HookCommandOptions {
  script: string;
  policy: string;
  /** Set when it is not the default ~/.airlock, so the hook finds the gateway the developer uses. */
  home?: string;
  /** Seconds an ask waits for the developer (default HOOK_WAIT_SECONDS). */
  wait?: number;
}

export function hookCommand(agent: AgentFlavor, o: HookCommandOptions): string {
  return [
    o.script,
    agent,
    "--policy",
    o.policy,
    "--wait",
    String(o.wait ?? HOOK_WAIT_SECONDS),
    "--max-time",
    String(hookMaxTime(o.wait ?? HOOK_WAIT_SECONDS)),
    ...(o.home ? ["--home", o.home] : []),
  ]
    .map(shellQuote)
    .join(" ");
}

/** One hook handler as the agent's file holds it. */
export interface HookHandler {
  type: "command";
  command: string;
  timeout: number;
  onFailure?: "block";
}

export function hookHandler(agent: AgentFlavor, command: string): HookHandler {
  const timeout = hookDeadlineSeconds(command) + MARGIN_SECONDS;
  // Codex has no onFailure (a failing hook lets the call through there: the hook itself denies).
  return agent === "claude-code"
    ? { type: "command", command, timeout, onFailure: "block" }
    : { type: "command", command, timeout };
}

/** An Airlock hook, whichever way it was installed (this one, or `airlock hook AGENT`). */
export function isAirlockHook(command: unknown, agent: AgentFlavor): boolean {
  if (typeof command !== "string") return false;
  return new RegExp(`airlock-hook'? '?${agent}\\b|\\bairlock(\\.js)?'? hook '?${agent}\\b`).test(command);
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A handler of Airlock's: its command hook, or an http hook someone pointed at the gateway's hook route. */
function isAirlockHandler(h: unknown, agent: AgentFlavor): boolean {
  if (!isRecord(h)) return false;
  if (isAirlockHook(h["command"], agent)) return true;
  return (
    h["type"] === "http" &&
    typeof h["url"] === "string" &&
    new RegExp(`/v1/gate/hook/${agent}(?:[?#]|$)`).test(h["url"])
  );
}

/**
 * The agent's config with exactly one Airlock PreToolUse hook (ours, matching every tool), every
 * other hook kept as it was. Claude Code and Codex share this layout: hooks.PreToolUse[] of
 * {matcher, hooks: [handler]}.
 */
export function withAirlockHook(
  config: Json,
  agent: AgentFlavor,
  handler: HookHandler,
): { config: Json; change: "added" | "updated" | "unchanged" } {
  const hooks = isRecord(config["hooks"]) ? config["hooks"] : {};
  const groups = Array.isArray(hooks["PreToolUse"]) ? (hooks["PreToolUse"] as unknown[]) : [];
  const ours = { matcher: "*", hooks: [handler] };
  let found = false;
  const others: unknown[] = [];
  for (const group of groups) {
    if (!isRecord(group) || !Array.isArray(group["hooks"])) {
      others.push(group);
      continue;
    }
    const kept = (group["hooks"] as unknown[]).filter((h) => !isAirlockHandler(h, agent));
    if (kept.length !== group["hooks"].length) found = true;
    if (kept.length > 0) others.push({ ...group, hooks: kept });
  }
  const next = { ...config, hooks: { ...hooks, PreToolUse: [...others, ours] } };
  const change = JSON.stringify(next) === JSON.stringify(config) ? "unchanged" : found ? "updated" : "added";
  return { config: next, change };
}

/** An Airlock hook found in a config file, with where it is. */
export interface FoundHook {
  matcher: unknown;
  handler: Json;
  group: number;
  index: number;
}

export function findAirlockHooks(config: Json, agent: AgentFlavor): FoundHook[] {
  const hooks = isRecord(config["hooks"]) ? config["hooks"] : {};
  const groups = Array.isArray(hooks["PreToolUse"]) ? (hooks["PreToolUse"] as unknown[]) : [];
  const out: FoundHook[] = [];
  for (const [g, group] of groups.entries()) {
    if (!isRecord(group) || !Array.isArray(group["hooks"])) continue;
    for (const [i, h] of (group["hooks"] as unknown[]).entries())
      if (isRecord(h) && isAirlockHandler(h, agent))
        out.push({ matcher: group["matcher"], handler: h, group: g, index: i });
  }
  return out;
}

/** The deadline a hook command gives itself (`--max-time S`; bin/airlock-hook's default otherwise). */
export function hookDeadlineSeconds(command: string): number {
  const m = /--max-time'? '?(\d+(?:\.\d+)?)/.exec(command);
  return m ? Number(m[1]) : hookMaxTime(HOOK_WAIT_SECONDS);
}

export interface Problem {
  problem: string;
  fix: string;
}

/** What is wrong with one Airlock hook as the file holds it (Codex's trust is checked apart). */
export function hookProblems(agent: AgentFlavor, found: FoundHook, setup: string): Problem[] {
  const out: Problem[] = [];
  const { handler, matcher } = found;
  if (handler["type"] === "http")
    return [
      {
        problem:
          "an http hook to the gateway: Claude Code runs the call when the answer is a 2xx without a decision (an empty body, {}), onFailure or not, and the token its header reads from the environment is visible to the agent's tools; the command hook accepts only the gateway's exact answer",
        fix: setup,
      },
    ];
  if (matcher !== "*" && matcher !== undefined && matcher !== "")
    out.push({ problem: `its matcher ${JSON.stringify(matcher)} does not cover every tool`, fix: setup });
  if (handler["type"] !== "command")
    out.push({ problem: `its type is ${JSON.stringify(handler["type"])}, not "command"`, fix: setup });
  const deadline = hookDeadlineSeconds(String(handler["command"]));
  const timeout = handler["timeout"];
  if (typeof timeout !== "number" || timeout <= deadline)
    out.push({
      problem: `timeout too short: ${timeout === undefined ? "none set" : JSON.stringify(timeout)}, but the hook may take ${deadline}s; the agent would cut it off and ${agent === "codex" ? "run the call" : "treat it as a failure"}`,
      fix: setup,
    });
  if (agent === "claude-code" && handler["onFailure"] !== "block")
    out.push({
      problem: 'onFailure is not "block": a hook that crashes or cannot start lets the call run',
      fix: setup,
    });
  return out;
}
