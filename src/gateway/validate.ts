// Validation seam (DESIGN.md §8): what a reviewer sees beside a chunk. Pure. This minimal version
// checks merge and schema and notes the obvious risks; the advisor's full analysis (capability
// diff, bypass binaries, ceiling) replaces the body of `validateChunk` without changing its shape.
import { alwaysBlockedHost } from "../policy/engine.ts";
import { parseHostPattern } from "../policy/host.ts";
import { parseIp } from "../policy/ip.ts";
import { endpointPorts } from "../policy/render.ts";
import type { NetworkRule, Policy } from "../policy/schema.ts";
import { planMerge } from "./merge-plan.ts";
import type { Finding } from "./types.ts";

export interface ChunkValidation {
  validation_result: "valid" | "invalid";
  findings: Finding[];
  security_notes: string[];
  summary: string;
}

export interface ChunkUnderReview {
  rule_name: string;
  proposed_rule: NetworkRule;
}

const DATABASE_PORTS = new Set([1433, 1521, 3306, 5432, 6379, 9042, 11211, 27017]);

export function validateChunk(current: Policy, chunk: ChunkUnderReview): ChunkValidation {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const rule = chunk.proposed_rule;
  const merged = planMerge(current, chunk.rule_name, rule);
  if (!merged.ok) findings.push({ kind: "merge_error", severity: "high", message: merged.error });
  for (const ep of rule.endpoints) {
    const blocked = alwaysBlockedHost(ep.host);
    if (blocked)
      findings.push({
        kind: "always_blocked",
        severity: "high",
        message: `${blocked}; the rule can never take effect.`,
      });
    const pattern = parseHostPattern(ep.host);
    if (!("error" in pattern) && pattern.kind !== "exact")
      notes.push(`wildcard host ${ep.host} reaches every matching subdomain`);
    if (parseIp(ep.host)) notes.push(`IP literal ${ep.host} bypasses name-based review`);
    if (ep.allowed_ips?.length)
      notes.push(`allowed_ips ${ep.allowed_ips.join(", ")} opens private address space`);
    for (const port of endpointPorts(ep)) {
      if (DATABASE_PORTS.has(port)) notes.push(`port ${port} is a database port`);
    }
    if (ep.protocol === "rest" && ep.access === "full")
      notes.push(`access=full allows every method on ${ep.host}`);
  }
  for (const b of rule.binaries)
    if (/[*?]/.test(b.path)) notes.push(`binary glob ${b.path} matches many executables`);
  const invalid = findings.some((f) => f.kind === "merge_error" || f.kind === "always_blocked");
  return {
    validation_result: invalid ? "invalid" : "valid",
    findings,
    security_notes: notes,
    summary: summarize(rule),
  };
}

function summarize(rule: NetworkRule): string {
  const who = rule.binaries.map((b) => b.path).join(", ") || "no binary";
  const what = rule.endpoints.map((ep) => {
    const target = `${ep.host}:${endpointPorts(ep).join(",")}`;
    if (ep.protocol !== "rest") return `connect to ${target}`;
    const parts = [
      ...(ep.access ? [`${ep.access} requests`] : []),
      ...(ep.rules ?? []).map((r) => `${r.allow.method.toUpperCase()} ${r.allow.path}`),
    ];
    return `${parts.join(", ")} on ${target}`;
  });
  return `Allows ${who} to ${what.join("; ")}.`;
}

/** Security-flagged chunks are skipped by approve-all unless the operator includes them. */
export function securityFlagged(v: Pick<ChunkValidation, "findings" | "security_notes">): boolean {
  return (
    v.security_notes.length > 0 || v.findings.some((f) => f.severity === "high" || f.severity === "medium")
  );
}
