// `POST /v1/gate/hook/:agent`: the agent's PreToolUse payload in, the agent's own answer out
// (src/protocol/hook-wire.ts), in one request: the cascade, and for an ask the wait for the
// developer, all on the long-lived gateway, so the hook itself is a tiny command (bin/airlock-hook).
// Every outcome is a 200 with a safe answer: bad input is an ask (Codex: a denial), a policy that
// fails to load a denial, and an ask nobody answers within `wait` a denial, withdrawn from the inbox.
import {
  type AgentFlavor,
  agentAnswer,
  describeDecision,
  developerAnswer,
  type HookVerdict,
  WITHDRAWN_NOTE,
} from "../protocol/hook-wire.ts";
import type { ApiRouter } from "./api-route.ts";
import { MAX_WAIT_SECONDS } from "./asks.ts";
import { GatewayError } from "./gateway-error.ts";
import type { GatewayService } from "./service.ts";

const FLAVORS: readonly AgentFlavor[] = ["claude-code", "codex"];
const DEFAULT_WAIT_SECONDS = 50;

export function registerHookRoute(router: ApiRouter, service: GatewayService): void {
  const asks = service.asks;
  router.route(
    {
      method: "post",
      path: "/v1/gate/hook/:agent",
      summary:
        "a PreToolUse hook payload (claude-code | codex) → the agent's answer (?policy= operator only, ?workdir=, ?wait=S for an ask)",
      auth: "any",
      query: { policy: "absolute path", workdir: "absolute path", wait: "seconds an ask waits" },
    },
    async (c, { sandbox, principal, actor, param }) => {
      const agent = param("agent") as AgentFlavor;
      if (!FLAVORS.includes(agent))
        throw new GatewayError(404, "unknown_agent", `no hook for ${agent}; use ${FLAVORS.join(" or ")}`);
      const answer = (verdict: HookVerdict, reason: string) =>
        c.body(agentAnswer(agent, verdict, reason), 200, { "content-type": "application/json" });
      const rawWait = c.req.query("wait");
      if (rawWait !== undefined && !/^\d+(\.\d+)?$/.test(rawWait))
        return answer("deny", "airlock gate: the hook's wait is not a number of seconds; denied");
      const wait = Math.min(MAX_WAIT_SECONDS, rawWait === undefined ? DEFAULT_WAIT_SECONDS : Number(rawWait));
      let payload: unknown;
      try {
        payload = JSON.parse(await c.req.text());
      } catch {
        return answer("ask", "airlock gate: the hook payload is not JSON; asking instead");
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload))
        return answer("ask", "airlock gate: the hook payload is not a JSON object; asking instead");
      // The agent's payload carries the call; where to decide it comes from the hook's own URL.
      const {
        policy: _p,
        sandbox: _s,
        workdir: _w,
        ask_expires_in_seconds: _e,
        ...input
      } = payload as Record<string, unknown>;
      const policy = c.req.query("policy");
      const workdir = c.req.query("workdir");
      let result: Awaited<ReturnType<typeof asks.decide>>;
      try {
        result = await asks.decide(
          {
            ...input,
            ...(policy ? { policy } : {}),
            ...(workdir ? { workdir } : {}),
            ask_expires_in_seconds: Math.max(1, Math.ceil(wait)),
          },
          sandbox ?? null,
          principal.kind === "operator",
        );
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        // Input the gate cannot read is a question for a person; anything else on our side, a refusal.
        if (error.code === "invalid_input" || error.code === "invalid_request")
          return answer("ask", `airlock gate: ${error.message}; asking instead`);
        return answer("deny", `airlock gate: cannot decide (${error.code}: ${error.message}); denied`);
      }
      if (result.decision !== "ask" || !result.ask_id)
        return answer(result.decision === "contain" ? "ask" : result.decision, describeDecision(result));
      const id = result.ask_id;
      const signal = c.req.raw.signal;
      let ask = await asks.waitAsk(id, wait * 1000, signal);
      if (ask.status === "pending" || ask.status === "expired")
        ask = await asks.withdraw(id, actor, WITHDRAWN_NOTE);
      const answered = developerAnswer(ask, id);
      if (answered) return answer(answered.verdict, answered.reason);
      return answer(
        "deny",
        `${describeDecision(result)} (no decision on ask ${id} within ${wait}s; denied, and the ask is withdrawn)`,
      );
    },
  );
}
