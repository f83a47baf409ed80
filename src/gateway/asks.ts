// Gate asks (docs/design.md §10, tier 3): a tool call waiting for the developer. Created by
// `POST /v1/gate/decide` (the gateway ran the cascade) or by an adapter that ran it itself;
// decided by the operator (allow/deny) or expired. Every change is one transaction plus an
// event (`ask.created`, `ask.decided`); `/wait` sleeps on those events: no polling.
import { randomUUID } from "node:crypto";
import { redactSecretsIn } from "../audit/secrets.ts";
import type { AuditSink } from "../audit/writer.ts";
import { formatZodIssues } from "../policy/zod-issues.ts";
import {
  type Ask,
  type AskStatus,
  type CreateAskBody,
  CreateAskBodySchema,
  type GateDecideBody,
  type GateDecideResult,
} from "../protocol/ask-types.ts";
import type { GateDecider } from "../protocol/gate-decider.ts";
import { GatewayError } from "./gateway-error.ts";
import { pendingLimit, pendingRefusal } from "./pending-limits.ts";
import type { Clock } from "./sandbox-service.ts";
import type { AskFilter, Repo } from "./store/repo.ts";
import type { Store } from "./store/store.ts";

export const DEFAULT_ASK_SECONDS = 600;
export const MAX_WAIT_SECONDS = 300;

function unknownAsk(id: string): GatewayError {
  return new GatewayError(404, "unknown_ask", `no ask with id ${id}; list them with \`airlock gate asks\``);
}

/** A pending ask past its expiry reads as expired even before the sweep has marked it. */
export function presentAsk(ask: Ask, now: string): Ask {
  if (ask.status !== "pending" || ask.expires_at > now) return ask;
  return {
    ...ask,
    status: "expired",
    decided_by: "system",
    decision_reason: EXPIRED,
    decided_at: ask.expires_at,
  };
}

const EXPIRED = "no decision before it expired";

export class AskService {
  /** Set by startGateway when a gate policy is configured; without it /v1/gate/decide answers 503. */
  decider: GateDecider | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock = () => new Date(),
    private readonly audit?: AuditSink,
  ) {}

  private now(): string {
    return this.clock().toISOString();
  }

  /** The cascade on the gateway; an ask result is stored and its id returned. */
  async decide(
    body: GateDecideBody,
    sandbox: string | null,
    allowPolicyRef: boolean,
    canContain = false,
  ): Promise<GateDecideResult> {
    if (!this.decider)
      throw new GatewayError(
        503,
        "gate_not_configured",
        "this gateway has no gate policy: start it with `airlock gateway start --gate-policy FILE` (or put one at $AIRLOCK_HOME/gate.yaml)",
      );
    const { policy, sandbox: _s, cwd, workdir, ask_expires_in_seconds, ...input } = body;
    if (policy !== undefined && !allowPolicyRef)
      throw new GatewayError(403, "forbidden", "only the operator token may name a gate policy file");
    const v = await this.decider.decide(input, {
      ...(policy ? { policy } : {}),
      ...(cwd ? { cwd } : {}),
      ...(workdir ? { workdir } : {}),
      ...(canContain ? { canContain } : {}),
    });
    if (!v.ok) throw new GatewayError(v.status, v.code, v.detail);
    const result: GateDecideResult = {
      decision: v.decision,
      tier: v.tier,
      step: v.step,
      rule: v.rule,
      reason: v.reason,
      ...(v.hint ? { hint: v.hint } : {}),
      capabilities: v.capabilities,
      latency_ms: v.latency_ms,
      ...(v.contained_command ? { contained_command: v.contained_command } : {}),
    };
    if (v.decision !== "ask") return result;
    const ask = await this.create(
      {
        tool: v.tool,
        input_digest: v.input_digest,
        summary: v.summary,
        tier: v.tier,
        step: v.step,
        rule: v.rule,
        reason: v.reason,
        ...(v.session ? { session: v.session } : {}),
        ...(ask_expires_in_seconds ? { expires_in_seconds: ask_expires_in_seconds } : {}),
      },
      sandbox,
    );
    return { ...result, ask_id: ask.id, ask };
  }

  /**
   * A new pending ask. `sandbox` is the caller's own (a sandbox token) or the body's (operator).
   * One past the sandbox's `max_pending_asks` is refused (429 too_many_pending_asks): the caller
   * denies the call, and the developer's log records the refusal.
   */
  async create(bodyInput: CreateAskBody, sandbox: string | null): Promise<Ask> {
    const parsed = CreateAskBodySchema.safeParse(bodyInput);
    if (!parsed.success)
      throw new GatewayError(400, "invalid_request", formatZodIssues(parsed.error.issues, "(body)"));
    const b = parsed.data;
    const now = this.clock();
    const ask: Ask = {
      id: randomUUID(),
      sandbox: sandbox ?? b.sandbox ?? null,
      session: b.session ?? null,
      tool: redactSecretsIn(b.tool, 200),
      input_digest: b.input_digest,
      // The adapter redacts already; the gateway does it again so no client can store a secret.
      summary: redactSecretsIn(b.summary),
      tier: b.tier,
      step: b.step,
      rule: b.rule ?? null,
      reason: redactSecretsIn(b.reason, 1000),
      status: "pending",
      decided_by: null,
      decision_reason: null,
      created_at: now.toISOString(),
      decided_at: null,
      expires_at: new Date(
        now.getTime() + (b.expires_in_seconds ?? DEFAULT_ASK_SECONDS) * 1000,
      ).toISOString(),
    };
    const refused = await this.store.write(async (tx) => {
      const limit = await pendingLimit(tx, "asks", ask.sandbox);
      const open = await tx.countOpenAsks(ask.sandbox, ask.created_at);
      if (open >= limit) return pendingRefusal("asks", ask.sandbox, open, limit, now.getTime());
      await tx.insertAsk(ask);
      await tx.appendEvent("ask.created", ask.sandbox, { ...ask }, ask.created_at);
      return null;
    });
    if (refused) {
      this.audit?.write(refused.event);
      throw refused.error;
    }
    return ask;
  }

  async getAsk(id: string): Promise<Ask> {
    const ask = await this.store.read((r) => r.getAsk(id));
    if (!ask) throw unknownAsk(id);
    return presentAsk(ask, this.now());
  }

  /** Asks, oldest first (the web inbox and `airlock gate asks` read this). */
  async listAsks(filter: AskFilter = {}): Promise<Ask[]> {
    const now = this.now();
    const asks = await this.store.read((r) =>
      // Expired-but-unswept asks are still 'pending' in the table.
      r.listAsks(filter.status === "expired" ? { ...filter, status: undefined } : filter),
    );
    return asks
      .map((a) => presentAsk(a, now))
      .filter((a) => filter.status === undefined || a.status === filter.status);
  }

  /**
   * The ask once decided, or as it is after `timeoutMs` (still pending). Sleeps on the store's
   * events (a decision on any replica wakes it) and on the ask's own expiry.
   */
  async waitAsk(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Ask> {
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const unsubscribe = this.store.subscribe((e) => {
      if (e.type === "ask.decided" && e.data.id === id) wake();
    });
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => wake();
    try {
      // Read after subscribing: a decision between the two cannot be missed.
      const first = await this.getAsk(id);
      if (first.status !== "pending") return first;
      const untilExpiry = new Date(first.expires_at).getTime() - this.clock().getTime();
      timer = setTimeout(() => wake(), Math.max(0, Math.min(timeoutMs, untilExpiry + 10)));
      signal?.addEventListener("abort", onAbort, { once: true });
      await woken;
      return await this.getAsk(id);
    } finally {
      unsubscribe();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  allow(id: string, by: string, reason: string | null): Promise<Ask> {
    return this.decideAsk(id, "allowed", by, reason);
  }

  deny(id: string, by: string, reason: string | null): Promise<Ask> {
    return this.decideAsk(id, "denied", by, reason);
  }

  /**
   * The asker gives up (its agent's deadline): a pending ask ends as expired with `note`, so the
   * inbox stops offering it. Returns the ask as it ends up: one decided a moment earlier stays so.
   */
  async withdraw(id: string, by: string, note: string): Promise<Ask> {
    const now = this.now();
    return this.store.write(async (tx) => {
      const ask = await tx.getAsk(id);
      if (!ask) throw unknownAsk(id);
      if (ask.status !== "pending") return ask;
      return this.finish(tx, ask, "expired", by, note, now);
    });
  }

  private async decideAsk(
    id: string,
    status: "allowed" | "denied",
    by: string,
    reason: string | null,
  ): Promise<Ask> {
    const now = this.now();
    const outcome = await this.store.write(async (tx) => {
      const ask = await tx.getAsk(id);
      if (!ask) return { error: unknownAsk(id) };
      if (ask.status !== "pending") return { error: alreadyDecided(ask) };
      if (ask.expires_at <= now) {
        // Too late: record the expiry (committed), then refuse.
        const expired = await this.finish(tx, ask, "expired", "system", EXPIRED, now);
        return { error: alreadyDecided(expired) };
      }
      return { ask: await this.finish(tx, ask, status, by, reason, now) };
    });
    if ("error" in outcome) throw outcome.error;
    return outcome.ask;
  }

  private async finish(
    tx: Repo,
    ask: Ask,
    status: Exclude<AskStatus, "pending">,
    by: string,
    reason: string | null,
    now: string,
  ): Promise<Ask> {
    if (!(await tx.decideAsk(ask.id, status, by, reason, now))) return (await tx.getAsk(ask.id)) ?? ask;
    const decided: Ask = { ...ask, status, decided_by: by, decision_reason: reason, decided_at: now };
    await tx.appendEvent("ask.decided", ask.sandbox, { ...decided }, now);
    return decided;
  }

  /** Marks pending asks past their expiry as expired; returns the next expiry to sleep until. */
  async expireDue(): Promise<string | null> {
    const now = this.now();
    await this.store.write(async (tx) => {
      for (const ask of await tx.listDueAsks(now))
        await this.finish(tx, ask, "expired", "system", EXPIRED, now);
    });
    return this.store.read((r) => r.nextAskExpiry());
  }
}

function alreadyDecided(ask: Ask): GatewayError {
  const who = ask.decided_by ? ` by ${ask.decided_by}` : "";
  const when = ask.decided_at ? ` at ${ask.decided_at}` : "";
  return new GatewayError(409, "already_decided", `ask ${ask.id} is already ${ask.status}${who}${when}`);
}
