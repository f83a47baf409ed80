// The gateway's port for a server-side gate decider: what `POST /v1/gate/decide` and the hook
// route ask of it, and what it answers. The gate implements it (src/gate/decider.ts) and
// `airlock gateway start` injects it, so neither the gateway nor the gate imports the other.

/** What the gate's cascade answers for one input. */
export type GateVerdict =
  | {
      ok: true;
      decision: "allow" | "deny" | "ask" | "contain";
      tier: number;
      step: string;
      rule: string | null;
      reason: string;
      hint?: string;
      capabilities: string[];
      latency_ms: number;
      /** What an ask records about the call. */
      tool: string;
      input_digest: string;
      summary: string;
      session?: string;
    }
  | { ok: false; status: 400 | 503; code: string; detail: string };

/** Runs the cascade server-side; injected at gateway start so the gateway does not load the gate itself. */
export interface GateDecider {
  decide(
    input: Record<string, unknown>,
    opts: { policy?: string; cwd?: string; workdir?: string },
  ): Promise<GateVerdict>;
}
