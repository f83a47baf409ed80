// The supervisor's gateway session (docs/design.md §1, §5, §8): registers the sandbox, applies pushed
// revisions, serves the policy.local proposal routes, turns L4 denials into mechanistic chunks
// and reports every denial as an observed deny. If the gateway is away, the sandbox keeps
// enforcing its last loaded policy and nothing here throws into the proxy.

import { buildDecisionEvent, type OcsfEvent } from "../audit/ocsf.ts";
import { compilePolicy } from "../policy/engine.ts";
import type { Policy } from "../policy/schema.ts";
import { GatewayRequestError } from "../protocol/client.ts";
import type { Finding, GatewayEvent } from "../protocol/types.ts";
import type { DenialEvent, ProcessIdentity } from "../proxy/proxy.ts";
import { DenialAggregator } from "./aggregator.ts";
import { type GateHookHandler, gateHookHandler } from "./gate-hook.ts";
import { GatewayLink } from "./gateway-link.ts";
import { type DenialGroup, proposalFor } from "./mapper.ts";
import type { ProposalsHandler } from "./policy-local-server.ts";
import { getProposal, submitProposal, waitProposal } from "./proposals.ts";

export interface SessionOptions {
  gateway: string;
  operatorToken: string;
  sandbox: string;
  policy: Policy;
  log: (line: string) => void;
  /** Log the gateway link's connection progress too. */
  verbose?: boolean;
  /** How often denials are flushed to the gateway (docs/design.md §8.1: 2 s). */
  flushMs?: number;
}

/** What the session needs from the running sandbox: the policy swap and its audit log. */
export interface PolicyTarget {
  setPolicy(next: Policy, version: number): void;
  record(event: OcsfEvent): void;
}

interface ObservedDeny {
  binary: string;
  host: string;
  port: number;
  layer: "l4" | "l7";
  method?: string;
  path?: string;
  reason: string;
  count: number;
}

function observedKey(
  binary: string,
  host: string,
  port: number,
  layer: string,
  method?: string,
  path?: string,
): string {
  return [binary, host, port, layer, method ?? "", path ?? ""].join("|");
}

export class GatewaySession {
  readonly link: GatewayLink;
  private target: PolicyTarget | undefined;
  private waitingForTarget: Array<() => void> = [];
  private current: Policy;
  private readonly aggregator: DenialAggregator;
  private observed = new Map<string, ObservedDeny>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SessionOptions) {
    this.current = opts.policy;
    this.link = new GatewayLink({
      gateway: opts.gateway,
      operatorToken: opts.operatorToken,
      sandbox: opts.sandbox,
      policy: opts.policy,
      applyPolicy: (policy, version) => this.apply(policy, version),
      log: opts.log,
      verbose: opts.verbose,
    });
    this.aggregator = new DenialAggregator((groups) => this.submitMechanistic(groups));
    this.link.on("event", (event: GatewayEvent) => {
      if (event.type === "chunk.decided" && event.sandbox === opts.sandbox) void this.recordDecision(event);
    });
  }

  /** Connects (bounded wait); the session keeps reconnecting in the background either way. */
  async start(timeoutMs = 5000): Promise<boolean> {
    const connected = this.link.start().then(() => true);
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.opts.flushMs ?? 2000);
    this.timer.unref();
    return Promise.race([connected, timeout]);
  }

  /** The running sandbox; revisions that arrived before it was up are applied now. */
  attach(target: PolicyTarget): void {
    this.target = target;
    for (const wake of this.waitingForTarget.splice(0)) wake();
  }

  private async apply(policy: Policy, version: number): Promise<"loaded" | "failed"> {
    if (!this.target) await new Promise<void>((resolve) => this.waitingForTarget.push(resolve));
    try {
      this.target?.setPolicy(policy, version);
      this.current = policy;
      return "loaded";
    } catch (error) {
      this.opts.log(`airlock: revision ${version} failed to load: ${(error as Error).message}`);
      return "failed";
    }
  }

  /** Every decision on this sandbox's chunks goes to its audit log (auto-approvals marked auto:true). */
  private async recordDecision(event: GatewayEvent): Promise<void> {
    try {
      const chunk = await this.link.client().getChunk(String(event.data.id));
      if (chunk.status === "pending") return;
      this.target?.record(
        buildDecisionEvent({
          time: Date.now(),
          status: chunk.status,
          ruleName: chunk.rule_name,
          chunkId: chunk.id,
          by: chunk.decided_by ?? "unknown",
          auto: chunk.decided_by === "auto",
          revision: chunk.revision,
          reason: chunk.rejection_reason,
          ...securityFindingOf(chunk.findings),
          sandbox: this.opts.sandbox,
        }),
      );
    } catch (error) {
      this.opts.log(`airlock: could not record a decision: ${(error as Error).message}`);
    }
  }

  /** The live flag: pushed by the gateway; off until the gateway says otherwise. */
  proposalsEnabled(): boolean {
    return this.link.settings?.agent_policy_proposals_enabled === true;
  }

  proposals(): ProposalsHandler {
    return {
      // Denies are reported first, so the gateway can link the proposal to the ones it answers.
      submit: async (body: unknown, _identity: ProcessIdentity | null) => {
        await this.reportObserved().catch(() => undefined);
        return submitProposal(this.link, body);
      },
      get: (id: string) => getProposal(this.link, id),
      wait: (id: string, timeoutSeconds: number, signal: AbortSignal) =>
        waitProposal(this.link, id, String(timeoutSeconds), signal),
    };
  }

  /** The gate route for an agent's hook inside the sandbox, deciding as this sandbox. */
  gateHook(workdir: string): GateHookHandler {
    return gateHookHandler(this.link, workdir);
  }

  /** Every denial from the proxy: observed by the developer; L4 ones also feed the mapper. */
  onDenial(event: DenialEvent): void {
    const method = event.layer === "l7" ? event.method : undefined;
    const path = event.layer === "l7" ? (event.path ?? undefined) : undefined;
    const key = observedKey(event.binary, event.host, event.port, event.layer, method, path);
    const seen = this.observed.get(key);
    if (seen) seen.count++;
    else {
      this.observed.set(key, {
        binary: event.binary,
        host: event.host,
        port: event.port,
        layer: event.layer,
        ...(method !== undefined ? { method } : {}),
        ...(path !== undefined ? { path } : {}),
        reason: event.reason,
        count: 1,
      });
    }
    if (event.layer === "l4" && event.engine === "l4" && event.ruleMissing) {
      this.aggregator.add({
        host: event.host,
        port: event.port,
        binary: event.binary,
        time: new Date(event.time).toISOString(),
      });
    }
  }

  /** Mechanistic chunks for the L4 groups; on failure the aggregator keeps them for the next flush. */
  private async submitMechanistic(groups: DenialGroup[]): Promise<void> {
    if (!this.link.connected) throw new Error("gateway not connected");
    const client = this.link.client();
    const cp = compilePolicy(this.current);
    for (const group of groups) {
      const proposal = proposalFor(group, cp);
      if (!proposal) continue;
      try {
        await client.submit(this.opts.sandbox, {
          source: "mechanistic",
          hit_count: proposal.hitCount,
          confidence: proposal.confidence,
          rationale: proposal.rationale,
          operations: [proposal.operation],
        });
      } catch (error) {
        // The sandbox has as many proposals pending as it may: retrying would only be refused
        // again. The denials still reach the developer as observed denies.
        if (error instanceof GatewayRequestError && error.code === "too_many_pending_proposals") continue;
        throw error;
      }
    }
  }

  /** Observed denies go to the gateway; kept for the next flush when it is away (no silent loss). */
  private async reportObserved(): Promise<void> {
    if (this.observed.size === 0) return;
    if (!this.link.connected) throw new Error("gateway not connected");
    const denials = [...this.observed.values()];
    this.observed.clear();
    try {
      await this.link.client().reportDenials(this.opts.sandbox, denials);
    } catch (error) {
      for (const d of denials) {
        const key = observedKey(d.binary, d.host, d.port, d.layer, d.method, d.path);
        const newer = this.observed.get(key);
        this.observed.set(key, newer ? { ...d, count: d.count + newer.count } : d);
      }
      throw error;
    }
  }

  async flush(): Promise<void> {
    const results = await Promise.allSettled([this.aggregator.flush(), this.reportObserved()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
    await this.link.stop();
  }
}

const FINDING_RANK = ["low", "medium", "high", "critical"] as const;

/** The most severe security note a chunk carried at review, for its decision event's severity. */
function securityFindingOf(findings: readonly Finding[]): {
  securityFinding?: (typeof FINDING_RANK)[number];
} {
  let worst = -1;
  for (const finding of findings)
    if (finding.security) worst = Math.max(worst, FINDING_RANK.indexOf(finding.severity as never), 0);
  return worst < 0 ? {} : { securityFinding: FINDING_RANK[worst] };
}
