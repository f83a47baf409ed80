// The mechanistic mapper (docs/design.md §8.2): repeated L4 denials become narrow L4 proposals.
// L7 denials are never generalised here; they go to the agent and to "observed denies". Pure.
import { alwaysBlockedHost, type CompiledPolicy, endpointsFor } from "../policy/engine.ts";
import { parseIp } from "../policy/ip.ts";
import type { MergeOperation } from "../policy/merge.ts";

export interface DenialGroup {
  host: string;
  port: number;
  binary: string;
  hits: number;
  firstSeen: string;
  lastSeen: string;
}

export interface MechanisticProposal {
  ruleName: string;
  operation: MergeOperation;
  host: string;
  port: number;
  binary: string;
  layer: "l4";
  hitCount: number;
  firstSeen: string;
  lastSeen: string;
  confidence: number;
  rationale: string;
}

export function mechanisticRuleName(host: string, port: number): string {
  return `allow_${host.toLowerCase().replace(/[.\-:]/g, "_")}_${port}`.slice(0, 128);
}

/** More hits and well-known ports raise confidence; high ports lower it. Range 0.1..0.95. */
export function mechanisticConfidence(hits: number, port: number): number {
  const base = 0.4 + Math.min(hits, 10) * 0.05;
  const portAdjust = port === 443 ? 0.05 : port === 80 ? 0 : port >= 1024 ? -0.2 : -0.1;
  return Math.round(Math.min(0.95, Math.max(0.1, base + portAdjust)) * 100) / 100;
}

/**
 * One proposal per (host, port, binary) group, or null when the destination can never be
 * opened (always blocked, or an IP literal, which would need allowed_ips the mapper never adds).
 * A host:port the policy already inspects at L7 becomes a binary addition to that rule, never
 * a raw L4 grant that would bypass inspection.
 */
export function proposalFor(group: DenialGroup, cp: CompiledPolicy): MechanisticProposal | null {
  if (alwaysBlockedHost(group.host) || parseIp(group.host)) return null;
  const inspected = endpointsFor(cp, group.host, group.port).find((ep) => ep.inspect);
  const common = {
    host: group.host,
    port: group.port,
    binary: group.binary,
    layer: "l4" as const,
    hitCount: group.hits,
    firstSeen: group.firstSeen,
    lastSeen: group.lastSeen,
    confidence: mechanisticConfidence(group.hits, group.port),
  };
  const inspectedRule = inspected ? cp.policy.network_policies[inspected.ruleKey] : undefined;
  if (inspected && inspectedRule) {
    // The same rule name and endpoints with one more binary: the gateway merges it as a binary addition.
    return {
      ...common,
      ruleName: inspected.ruleKey,
      operation: {
        addRule: {
          ruleName: inspected.ruleKey,
          rule: { endpoints: inspectedRule.endpoints, binaries: [{ path: group.binary }] },
        },
      },
      rationale: `${group.binary} was denied ${group.hits}× connecting to ${group.host}:${group.port}, which rule ${inspected.ruleKey} inspects at L7; proposing to add the binary to that rule (inspection stays on).`,
    };
  }
  const ruleName = mechanisticRuleName(group.host, group.port);
  return {
    ...common,
    ruleName,
    operation: {
      addRule: {
        ruleName,
        rule: { endpoints: [{ host: group.host, port: group.port }], binaries: [{ path: group.binary }] },
      },
    },
    rationale: `${group.binary} was denied ${group.hits}× connecting to ${group.host}:${group.port}.`,
  };
}
