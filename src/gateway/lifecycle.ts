// The chunk lifecycle's decisions as pure functions over values (docs/design.md §7): building a chunk,
// its review token, coverage by the live policy, dedup and supersede keys, approval checks.
import { createHash } from "node:crypto";
import { canonicalRule, policyHash, stableJson } from "../policy/canonical.ts";
import { compilePolicy, decideConnect, decideRequest } from "../policy/engine.ts";
import type { ReviewFacts } from "../policy/findings.ts";
import { normalizeHost } from "../policy/host.ts";
import { endpointPorts } from "../policy/render.ts";
import type { NetworkRule, Policy } from "../policy/schema.ts";
import type { Chunk } from "../protocol/types.ts";
import { planMerge } from "./merge-plan.ts";
import { validateChunk } from "./validate.ts";

export interface Head {
  policy: Policy;
  hash: string;
  version: number;
}

export function reviewToken(
  ruleName: string,
  rule: NetworkRule,
  currentHash: string,
  candidateHash: string | null,
): string {
  return createHash("sha256")
    .update(stableJson([ruleName, canonicalRule(ruleName, rule), currentHash, candidateHash]))
    .digest("hex")
    .slice(0, 32);
}

/** Every host|port|binary the rule grants: the keys of dedup and supersede. */
export function ruleTriples(rule: NetworkRule): string[] {
  const out: string[] = [];
  for (const ep of rule.endpoints)
    for (const port of endpointPorts(ep))
      for (const b of rule.binaries) out.push(`${normalizeHost(ep.host)}|${port}|${b.path}`);
  return [...new Set(out)].sort();
}

export function layerOf(rule: NetworkRule): Chunk["layer"] {
  return rule.endpoints.some((ep) => ep.protocol === "rest") ? "l7_rest" : "l4";
}

const GLOB = /[*?]/;

/**
 * True when the policy already allows everything the rule grants. Checked with the decision
 * function on concrete probes; anything it cannot probe exactly (wildcard hosts, binary globs,
 * path globs, access presets) counts as not covered unless an identical rule exists.
 */
export function coveredBy(policy: Policy, ruleName: string, rule: NetworkRule): boolean {
  const canonical = stableJson(canonicalRule(ruleName, rule).endpoints);
  for (const [key, existing] of Object.entries(policy.network_policies)) {
    if (stableJson(canonicalRule(key, existing).endpoints) !== canonical) continue;
    const have = new Set(existing.binaries.map((b) => b.path));
    if (rule.binaries.every((b) => have.has(b.path))) return true;
  }
  if (rule.binaries.length === 0 || rule.binaries.some((b) => GLOB.test(b.path))) return false;
  const cp = compilePolicy(policy);
  for (const ep of rule.endpoints) {
    if (GLOB.test(ep.host) || ep.allowed_ips?.length) return false;
    for (const port of endpointPorts(ep)) {
      for (const b of rule.binaries) {
        const connect = decideConnect(cp, ep.host, port, { binary: b.path });
        if (connect.decision !== "allow") return false;
        if (ep.protocol !== "rest") {
          if (connect.inspect) return false;
          continue;
        }
        if (ep.access || ep.deny_rules?.length) return false;
        for (const r of ep.rules ?? []) {
          if (r.allow.method === "*" || GLOB.test(r.allow.path) || r.allow.query) return false;
          const d = decideRequest(cp, {
            host: ep.host,
            port,
            binary: b.path,
            method: r.allow.method,
            path: r.allow.path,
          });
          if (d.decision !== "allow" || d.auditViolation) return false;
        }
      }
    }
  }
  return true;
}

/** The review fields of a chunk against the current head: validation, hashes, token. */
export function review(
  head: Head,
  ruleName: string,
  rule: NetworkRule,
  facts: ReviewFacts = {},
): Pick<
  Chunk,
  | "validation_result"
  | "findings"
  | "security_notes"
  | "summary"
  | "application_error"
  | "current_policy_hash"
  | "candidate_policy_hash"
  | "review_token"
> {
  const v = validateChunk(head.policy, { rule_name: ruleName, proposed_rule: rule }, facts);
  const merged = planMerge(head.policy, ruleName, rule);
  const candidate = merged.ok ? policyHash(merged.policy) : null;
  return {
    ...v,
    application_error: merged.ok ? null : merged.error,
    current_policy_hash: head.hash,
    candidate_policy_hash: candidate,
    review_token: reviewToken(ruleName, rule, head.hash, candidate),
  };
}

export interface NewChunkInput {
  id: string;
  sandbox: string;
  submissionId: string;
  ruleName: string;
  rule: NetworkRule;
  source: Chunk["source"];
  rationale: string | null;
  intentSummary: string | null;
  confidence: number | null;
  hitCount: number;
  now: string;
}

export function newChunk(head: Head, input: NewChunkInput, facts: ReviewFacts = {}): Chunk {
  const triples = ruleTriples(input.rule);
  return {
    id: input.id,
    sandbox: input.sandbox,
    status: "pending",
    rule_name: input.ruleName,
    proposed_rule: input.rule,
    source: input.source,
    rationale: input.rationale,
    intent_summary: input.intentSummary,
    binary: input.rule.binaries[0]?.path ?? null,
    layer: layerOf(input.rule),
    confidence: input.confidence,
    hit_count: input.hitCount,
    first_seen: input.now,
    last_seen: input.now,
    ...review(head, input.ruleName, input.rule, facts),
    rejection_reason: null,
    rejection_hint: null,
    created_at: input.now,
    decided_at: null,
    decided_by: null,
    expires_at: null,
    revision: null,
    applied_operations: [],
    // Only mechanistic chunks dedup; their key is the (single) host|port|binary they grant.
    dedup_key: input.source === "mechanistic" ? triples.join(",") : null,
    submission_id: input.submissionId,
    covers_denies: [],
  };
}

/** A repeat of a mechanistic chunk: the existing one, unless a human never saw it or it lapsed. */
export function dedupTarget(candidates: readonly Chunk[]): Chunk | null {
  return (
    candidates.find(
      (c) => c.status === "pending" || (c.status === "rejected" && c.decided_by !== "system"),
    ) ?? null
  );
}

/**
 * Older pending chunks the new one supersedes: same host|port|binary, from another submission;
 * a mechanistic chunk never supersedes an agent's (the agent's is the narrower refinement).
 */
export function supersededBy(fresh: Chunk, pending: readonly Chunk[]): Chunk[] {
  const mine = new Set(ruleTriples(fresh.proposed_rule));
  return pending.filter(
    (c) =>
      c.id !== fresh.id &&
      c.status === "pending" &&
      c.submission_id !== fresh.submission_id &&
      !(fresh.source === "mechanistic" && c.source === "agent_authored") &&
      ruleTriples(c.proposed_rule).some((t) => mine.has(t)),
  );
}

export type ApproveCheck = { ok: true } | { ok: false; code: string; detail: string };

const RUN_ENDED = "expired: a new run of sandbox ";

/** The note on a chunk that a new run of its sandbox expired (src/gateway/sandbox-service.ts). */
export function runEndedNote(sandbox: string, at: string): string {
  return `${RUN_ENDED}${sandbox} started at ${at}; the run that proposed this has ended`;
}

/** Expired by a new run: its agent is gone, so no one may approve it into the new run's policy. */
function expiredByNewRun(chunk: Chunk): boolean {
  return (
    chunk.status === "rejected" &&
    chunk.decided_by === "system" &&
    !!chunk.rejection_reason?.startsWith(RUN_ENDED)
  );
}

export function checkApprove(chunk: Chunk, fresh: ReturnType<typeof review>, token: string): ApproveCheck {
  if (chunk.status === "approved")
    return { ok: false, code: "conflict", detail: `chunk ${chunk.id} is already approved` };
  if (expiredByNewRun(chunk))
    return {
      ok: false,
      code: "conflict",
      detail: `chunk ${chunk.id} expired when a new run of sandbox ${chunk.sandbox} started; the agent that proposed it is gone (the running one can propose it again)`,
    };
  if (fresh.review_token !== token)
    return {
      ok: false,
      code: "stale_review_token",
      detail: `the policy or the chunk changed since you reviewed chunk ${chunk.id}; refetch with \`airlock rule get\` and review it again`,
    };
  if (fresh.application_error)
    return {
      ok: false,
      code: "merge_conflict",
      detail: `${fresh.application_error} (edit the chunk with \`airlock rule edit\`)`,
    };
  if (fresh.validation_result === "invalid")
    return {
      ok: false,
      code: "invalid_chunk",
      detail: fresh.findings.map((f) => f.message).join("; ") || "validation failed",
    };
  return { ok: true };
}
