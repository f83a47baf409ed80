// Validation before approval (docs/design.md §8.3): what a reviewer sees beside a chunk. Pure: the
// merge plan, then the policy core's analysis (security notes, capability diff, summary).
import { analyzeRule, type ReviewFacts } from "../policy/findings.ts";
import type { NetworkRule, Policy } from "../policy/schema.ts";
import type { Finding } from "../protocol/types.ts";
import { planMerge } from "./merge-plan.ts";

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

export function validateChunk(
  current: Policy,
  chunk: ChunkUnderReview,
  facts: ReviewFacts = {},
): ChunkValidation {
  const merged = planMerge(current, chunk.rule_name, chunk.proposed_rule);
  if (!merged.ok) {
    return {
      validation_result: "invalid",
      findings: [{ kind: "merge_error", severity: "high", message: merged.error, security: false }],
      security_notes: [],
      summary: `Cannot be merged: ${merged.error}`,
    };
  }
  const analysis = analyzeRule(chunk.rule_name, chunk.proposed_rule, current, merged.policy, facts);
  const findings = analysis.findings.map((f) => ({
    kind: f.kind,
    severity: f.severity,
    message: f.sentence,
    security: f.security,
  }));
  return {
    validation_result: findings.some((f) => f.kind === "always_blocked") ? "invalid" : "valid",
    findings,
    security_notes: analysis.findings.filter((f) => f.security).map((f) => f.sentence),
    summary: analysis.summary,
  };
}

/** Chunks with security notes are skipped by approve-all unless the operator includes them. */
export function securityFlagged(v: Pick<ChunkValidation, "findings" | "security_notes">): boolean {
  return v.security_notes.length > 0 || v.findings.some((f) => f.security);
}
