// `POST http://policy.local/v1/gate/hook/{agent}`: the gate's answer for one tool call of an agent
// that runs inside this sandbox, where bin/airlock-hook has neither the gateway nor its token.
// The supervisor forwards the payload to the gateway's hook route as this sandbox (its own
// session token: the ask in the inbox names the sandbox, and a sandbox token can approve
// nothing), with the sandbox's workdir. The sandbox chooses neither the gate policy nor the
// workdir: only `wait` is taken from its request. Every failure is an error body naming the
// reason, which the hook turns into a denial; the answer comes within the hook's own deadline.
import type { GatewayLink } from "./gateway-link.ts";

/** A policy.local answer: an `{error, detail}` body, or the agent's own answer sent as it is. */
export interface GateHookAnswer {
  status: number;
  body: unknown;
  raw?: string;
}

/** What the policy.local router asks of the gateway session for the gate route. */
export interface GateHookHandler {
  decide(
    agent: string,
    payload: string,
    rawWait: string | null,
    signal: AbortSignal,
  ): Promise<GateHookAnswer>;
}

const AGENTS = ["claude-code", "codex"];
/** The gateway's own body limit: a larger payload could not be decided there either. */
export const GATE_HOOK_MAX_BODY = 1024 * 1024;
const DEFAULT_WAIT_SECONDS = 50;
const MAX_WAIT_SECONDS = 300;
/** The hook gives itself wait + 5 s; the supervisor answers 3 s after the wait, whatever happens. */
const ANSWER_MARGIN_MS = 3000;

function failure(status: number, error: string, detail: string): GateHookAnswer {
  return { status, body: { error, detail } };
}

export const NO_GATEWAY: GateHookAnswer = failure(
  503,
  "gateway_unavailable",
  "this sandbox runs without a gateway (airlock run --no-gateway), so nothing can decide the agent's tool calls",
);

/** `wait` seconds: default 50, at most 300; null when it is not a number of seconds. */
export function hookWaitSeconds(raw: string | null): number | null {
  if (raw === null) return DEFAULT_WAIT_SECONDS;
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(raw)) return null;
  return Math.min(MAX_WAIT_SECONDS, Number(raw));
}

/** An answer the agent can read: empty (Codex's allow) or one JSON object. */
function agentReadable(text: string): boolean {
  if (text.trim() === "") return true;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function gatewayDetail(text: string): string {
  try {
    const value = JSON.parse(text) as { error?: unknown; detail?: unknown };
    if (typeof value.detail === "string") return `${String(value.error ?? "error")}: ${value.detail}`;
  } catch {
    // not JSON: say so rather than pass it on
  }
  return "an answer that is not JSON";
}

export function gateHookHandler(link: GatewayLink, workdir: string): GateHookHandler {
  return {
    async decide(agent, payload, rawWait, signal) {
      if (!AGENTS.includes(agent))
        return failure(404, "unknown_agent", `no gate hook for ${agent}; use ${AGENTS.join(" or ")}`);
      const wait = hookWaitSeconds(rawWait);
      if (wait === null) return failure(400, "invalid_request", "wait must be a number of seconds");
      let client: ReturnType<GatewayLink["client"]>;
      try {
        client = link.client();
      } catch {
        return failure(503, "gateway_unavailable", "the sandbox is not registered with the gateway yet");
      }
      const limitMs = wait * 1000 + ANSWER_MARGIN_MS;
      let answer: { status: number; text: string };
      const deadline = AbortSignal.timeout(limitMs);
      try {
        answer = await client.hookAnswer(
          agent,
          payload,
          { wait, workdir },
          AbortSignal.any([signal, deadline]),
        );
      } catch {
        // Unreachable, too slow, or anything else on the way: the hook denies with this reason.
        if (signal.aborted) return failure(499, "client_closed", "the hook went away");
        const why = deadline.aborted
          ? `the gateway did not answer within ${limitMs / 1000}s`
          : "the gateway is not reachable";
        return failure(503, "gateway_unavailable", `${why}; denied`);
      }
      if (answer.status !== 200)
        return failure(
          502,
          "gateway_error",
          `the gateway answered ${answer.status} (${gatewayDetail(answer.text)})`,
        );
      if (!agentReadable(answer.text))
        return failure(502, "gateway_error", "the gateway's answer is not the agent's format");
      return { status: 200, body: null, raw: answer.text };
    },
  };
}
