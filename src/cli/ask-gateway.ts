// An adapter's ask put to the developer through the gateway: create the ask, wait (pushed, not
// polled) within the adapter's own time budget, and turn the outcome into a verdict. Fails
// closed: a timeout, an expiry or any gateway trouble is "ask" (the agent's own prompt), never allow.
import type { AskDraft } from "../gate/ask-summary.ts";
import type { GateDecision } from "../gate/cascade.ts";
import { appendReceipt } from "../gate/receipt-store.ts";
import { GatewayClient } from "../gateway/client.ts";

export interface AskOutcome {
  verdict: "allow" | "deny" | "ask";
  reason: string;
  ask_id: string | null;
  /** allow/deny: the full reason for the agent; ask: why the gateway did not decide (adapters append it). */
  step: "operator" | "ask_timeout" | "ask_unavailable";
}

export interface AskRequest extends AskDraft {
  decision: GateDecision;
  session?: string;
  sandbox?: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Waits at most `budgetMs` in all (connection, creation, wait). */
export async function askThroughGateway(
  req: AskRequest,
  budgetMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AskOutcome> {
  const deadline = Date.now() + budgetMs;
  const fallback = (step: AskOutcome["step"], why: string, id: string | null = null): AskOutcome => ({
    verdict: "ask",
    reason: why,
    ask_id: id,
    step,
  });
  if (budgetMs < 1000) return fallback("ask_unavailable", "no time left to wait for the gateway");
  let client: GatewayClient;
  try {
    client = GatewayClient.fromEnv(env);
  } catch (error) {
    return fallback("ask_unavailable", `no gateway (${message(error)})`);
  }
  const waitSeconds = Math.floor(budgetMs / 100) / 10;
  let id: string | null = null;
  try {
    const ask = await client.request<{ id: string }>(
      "POST",
      "/v1/gate/asks",
      {
        tool: req.tool,
        input_digest: req.input_digest,
        summary: req.summary,
        tier: req.decision.tier,
        step: req.decision.step,
        rule: req.decision.rule,
        reason: req.decision.reason,
        ...(req.session ? { session: req.session } : {}),
        ...(req.sandbox ? { sandbox: req.sandbox } : {}),
        // Nobody waits for it after this hook gives up: it expires with the wait.
        expires_in_seconds: Math.max(1, Math.ceil(waitSeconds)),
      },
      undefined,
      Math.min(3000, budgetMs),
    );
    id = ask.id;
    const left = (deadline - Date.now()) / 1000;
    if (left <= 0.2) return fallback("ask_timeout", `no decision on ask ${id} in time`, id);
    // The gateway answers at its timeout; the request itself may outlive it by a second (the
    // adapter keeps that much margin inside its own limit).
    const decided = await client.waitAsk(id, Math.floor(left * 10) / 10, left * 1000 + 1000);
    const by = decided.decided_by ?? "operator";
    if (decided.status === "allowed")
      return {
        verdict: "allow",
        reason: `airlock gate: allowed by ${by} (ask ${id})${decided.decision_reason ? `: ${decided.decision_reason}` : ""}`,
        ask_id: id,
        step: "operator",
      };
    if (decided.status === "denied")
      return {
        verdict: "deny",
        reason: `airlock gate: denied by ${by} (ask ${id}): ${decided.decision_reason ?? "no reason given"}`,
        ask_id: id,
        step: "operator",
      };
    return fallback("ask_timeout", `no decision on ask ${id} within ${waitSeconds}s`, id);
  } catch (error) {
    if (id && Date.now() >= deadline)
      return fallback("ask_timeout", `no decision on ask ${id} within ${waitSeconds}s`, id);
    return fallback("ask_unavailable", `gateway trouble (${message(error)})`, id);
  }
}

/** The receipt of the final answer. Without it an allow stands unrecorded: then it is an ask. */
export function recordOutcome(
  receipts: string,
  req: AskRequest,
  outcome: AskOutcome,
  latencyMs: number,
): AskOutcome {
  try {
    appendReceipt(receipts, {
      time: new Date().toISOString(),
      tool: req.tool,
      input_digest: req.input_digest,
      decision: outcome.verdict,
      tier: 3,
      step: outcome.step,
      rule: outcome.ask_id ? `ask:${outcome.ask_id}` : req.decision.rule,
      reason: outcome.reason,
      latency_ms: Math.round(latencyMs),
      ...(req.session ? { session: req.session } : {}),
    });
    return outcome;
  } catch (error) {
    if (outcome.verdict !== "allow") return outcome;
    return {
      ...outcome,
      verdict: "ask",
      reason: `could not write the receipt (${message(error)})`,
    };
  }
}
