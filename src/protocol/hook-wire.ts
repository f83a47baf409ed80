// What each agent reads from a PreToolUse hook, as the installed clients accept it. Pure.
// Claude Code: a JSON permissionDecision (allow, deny or ask: its own prompt).
// Codex (0.169): allow is an empty answer with exit 0 (it rejects permissionDecision "allow"
// and "ask" as unsupported, and updatedInput); deny needs a non-empty reason; it cannot ask the
// user, so an ask is a denial whose reason says approval is needed.

export type AgentFlavor = "claude-code" | "codex";
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

/** The hook's stdout for `flavor` (exit status 0 in every case). */
export function agentAnswer(
  flavor: AgentFlavor,
  verdict: HookVerdict,
  reason: string,
  updatedInput?: Record<string, unknown>,
): string {
  if (flavor === "claude-code") return `${JSON.stringify(hookOutput(verdict, reason, updatedInput))}\n`;
  if (verdict === "allow" && !updatedInput) return "";
  const text = verdict === "ask" ? `needs approval (ask): ${reason}` : reason;
  return `${JSON.stringify(hookOutput("deny", text.trim() || "airlock gate: denied"))}\n`;
}

/** One line for the agent and the developer: decision, tier, step and rule, reason. */
export function describeDecision(d: {
  decision: string;
  tier: number;
  step: string;
  rule: string | null;
  reason: string;
}): string {
  const where = d.rule ? ` [${d.step} ${d.rule}]` : ` [${d.step}]`;
  return `airlock gate: ${d.decision} (tier ${d.tier})${where}: ${d.reason}`;
}

/** The note an ask gets when the hook that asked gives up waiting. */
export const WITHDRAWN_NOTE = "withdrawn: the agent's hook ran out of time waiting, and refused the call";

/** The developer's answer to ask `id` as a verdict and its reason; null while undecided or expired. */
export function developerAnswer(
  ask: { status: string; decided_by?: string | null; decision_reason?: string | null },
  id: string,
): { verdict: "allow" | "deny"; reason: string } | null {
  const by = ask.decided_by ?? "operator";
  if (ask.status === "allowed")
    return {
      verdict: "allow",
      reason: `airlock gate: allowed by ${by} (ask ${id})${ask.decision_reason ? `: ${ask.decision_reason}` : ""}`,
    };
  if (ask.status === "denied")
    return {
      verdict: "deny",
      reason: `airlock gate: denied by ${by} (ask ${id}): ${ask.decision_reason ?? "no reason given"}`,
    };
  return null;
}
