// An adapter's ask put to the developer through the gateway: create the ask, wait (pushed, not
// polled) within the adapter's own time budget, and turn the outcome into a verdict. Fails
// closed: no decision in time is "deny" and the ask is withdrawn from the inbox with a note; an
// ask the gateway refuses (too many pending) is "deny"; gateway trouble is "ask" (the agent's own
// prompt, which Codex turns into a denial); never allow.

import type { AskDraft } from "../gate/ask-summary.ts";
import type { GateDecision } from "../gate/cascade.ts";
import { appendReceipt } from "../gate/receipt-store.ts";
import { GatewayClient, GatewayRequestError } from "../protocol/client.ts";
import { developerAnswer, WITHDRAWN_NOTE } from "../protocol/hook-wire.ts";

export interface AskOutcome {
  verdict: "allow" | "deny" | "ask";
  reason: string;
  ask_id: string | null;
  /** allow/deny: the full reason for the agent; ask: why the gateway did not decide (adapters append it). */
  step: "operator" | "ask_timeout" | "ask_unavailable" | "ask_refused";
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
    if (left <= 0.2) return await withdraw(client, id, waitSeconds);
    // The gateway answers at its timeout; the request itself may outlive it by a second (the
    // adapter keeps that much margin inside its own limit).
    const decided = await client.waitAsk(id, Math.floor(left * 10) / 10, left * 1000 + 1000);
    const answered = answerOf(decided, id);
    if (answered) return answered;
    return await withdraw(client, id, waitSeconds);
  } catch (error) {
    if (error instanceof GatewayRequestError && error.code === "too_many_pending_asks")
      return { verdict: "deny", reason: `airlock gate: ${error.detail}`, ask_id: null, step: "ask_refused" };
    if (id && Date.now() >= deadline) return await withdraw(client, id, waitSeconds);
    return fallback("ask_unavailable", `gateway trouble (${message(error)})`, id);
  }
}

type AskState = Parameters<typeof developerAnswer>[0];

function answerOf(ask: AskState, id: string): AskOutcome | null {
  const answer = developerAnswer(ask, id);
  return answer ? { ...answer, ask_id: id, step: "operator" } : null;
}

/**
 * Nobody answered within the wait: the call is refused, and the ask leaves the inbox with a note
 * (an approval after this moment would approve nothing). An answer that beat the withdrawal stands.
 */
async function withdraw(client: GatewayClient, id: string, waitSeconds: number): Promise<AskOutcome> {
  const refused: AskOutcome = {
    verdict: "deny",
    reason: `airlock gate: no decision on ask ${id} within ${waitSeconds}s; denied (the ask is withdrawn)`,
    ask_id: id,
    step: "ask_timeout",
  };
  try {
    const ask = await client.request<AskState>(
      "POST",
      `/v1/gate/asks/${encodeURIComponent(id)}/withdraw`,
      { reason: WITHDRAWN_NOTE },
      undefined,
      1500,
    );
    const answered = answerOf(ask, id);
    if (answered) return answered;
  } catch {
    // The ask still expires on its own at the end of the wait.
  }
  return refused;
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
