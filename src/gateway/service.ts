// The chunk lifecycle's use cases (docs/design.md §7): each one a store transaction around the pure
// lifecycle (lifecycle.ts, merge-plan.ts). Every decision checks the head policy hash it read.
import { randomUUID } from "node:crypto";
import { withinCeiling } from "../policy/capabilities.ts";
import type { ReviewFacts } from "../policy/findings.ts";
import { MergeOperationSchema } from "../policy/merge.ts";
import { type NetworkRule, NetworkRuleSchema } from "../policy/schema.ts";
import { formatZodIssues } from "../policy/zod-issues.ts";
import type { Ask } from "../protocol/ask-types.ts";
import {
  type Chunk,
  type Provenance,
  type Revision,
  type SubmitBody,
  SubmitBodySchema,
  type SubmitResult,
} from "../protocol/types.ts";
import { hostInterfaceAddresses } from "../proxy/host-addresses.ts";
import { AskService } from "./asks.ts";
import { type Rejection, recordRejection, rejectBySystem } from "./chunk-rejection.ts";
import { GatewayError } from "./gateway-error.ts";
import {
  checkApprove,
  coveredBy,
  dedupTarget,
  type Head,
  newChunk,
  review,
  supersededBy,
} from "./lifecycle.ts";
import { planMerge, planRevert } from "./merge-plan.ts";
import { coveredDenies } from "./observed.ts";
import { type PendingRefusal, pendingLimit, pendingRefusal } from "./pending-limits.ts";
import { SandboxService } from "./sandbox-service.ts";
import { effective, sandboxScope } from "./settings.ts";
import type { AskFilter, Repo } from "./store/repo.ts";
import { securityFlagged } from "./validate.ts";

export class GatewayService extends SandboxService {
  /** Read from this host at each review: a rule naming one of its addresses gets a finding. */
  private reviewFacts(): ReviewFacts {
    return { hostAddresses: hostInterfaceAddresses() };
  }

  /** Gate asks (asks.ts): decide, create, wait, allow, deny, expire. */
  readonly asks: AskService = new AskService(this.store, this.clock, this.options.audit);

  /** Gate asks, oldest first (`?status=pending` for the inbox). */
  listAsks(filter: AskFilter = {}): Promise<Ask[]> {
    return this.asks.listAsks(filter);
  }

  // ---- chunks ----------------------------------------------------------------------------

  async submit(sandbox: string, bodyInput: SubmitBody, actor: string): Promise<SubmitResult> {
    const parsed = SubmitBodySchema.safeParse(bodyInput);
    if (!parsed.success) {
      throw new GatewayError(400, "invalid_proposal", formatZodIssues(parsed.error.issues, "(body)"));
    }
    const body = parsed.data;
    const now = this.now();
    const submissionId = randomUUID();
    const outcome = await this.store.write(async (tx) => {
      const sb = await this.mustSandbox(tx, sandbox);
      const settings = effective(await tx.getSettings("global"), await tx.getSettings(sandboxScope(sandbox)));
      if (body.source === "agent_authored") {
        if (!settings.agent_policy_proposals_enabled)
          throw new GatewayError(
            404,
            "feature_disabled",
            "agent policy proposals are disabled (agent_policy_proposals_enabled is false)",
          );
      }
      const head = await this.headOf(tx, sb);
      const ids: string[] = [];
      const reasons: string[] = [];
      const chunks: Chunk[] = [];
      const limit = await pendingLimit(tx, "proposals", sandbox);
      let pending = await tx.countPendingChunks(sandbox);
      let refusal: PendingRefusal | null = null;
      for (const [index, raw] of body.operations.entries()) {
        const op = MergeOperationSchema.safeParse(raw);
        if (!op.success || !("addRule" in op.data)) {
          reasons.push(
            `operations[${index}]: ${op.success ? "only addRule operations can be proposed" : formatZodIssues(op.error.issues, "")}`,
          );
          continue;
        }
        const { ruleName, rule } = op.data.addRule;
        const input = {
          id: randomUUID(),
          sandbox,
          submissionId,
          ruleName,
          rule: rule as NetworkRule,
          source: body.source,
          rationale: body.rationale ?? null,
          intentSummary: body.intent_summary ?? null,
          confidence: body.confidence ?? null,
          hitCount: body.hit_count ?? 1,
          now,
        };
        let chunk = newChunk(head, input, this.reviewFacts());
        if (chunk.source === "agent_authored") {
          chunk = {
            ...chunk,
            covers_denies: coveredDenies(ruleName, chunk.proposed_rule, await tx.listDenies(sandbox, 200)),
          };
        }
        if (chunk.dedup_key) {
          const repeat = dedupTarget(await tx.findByDedupKey(sandbox, chunk.dedup_key));
          if (repeat) {
            const raised = { ...repeat, hit_count: repeat.hit_count + input.hitCount, last_seen: now };
            await tx.updateChunk(raised);
            ids.push(raised.id);
            chunks.push(raised);
            continue;
          }
        }
        if (coveredBy(head.policy, ruleName, chunk.proposed_rule)) {
          const reason = `covered by active policy revision ${head.version}`;
          reasons.push(`operations[${index}]: ${reason}`);
          chunks.push(await rejectBySystem(tx, chunk, reason, now, "insert"));
          continue;
        }
        const superseded = supersededBy(chunk, await tx.listChunks({ sandbox, status: "pending" }));
        // A chunk that replaces pending ones adds nothing to wait for; any other needs room.
        if (superseded.length === 0 && pending >= limit) {
          refusal = pendingRefusal("proposals", sandbox, pending, limit, Date.parse(now));
          reasons.push(`operations[${index}]: ${refusal.error.message}`);
          continue;
        }
        pending += 1 - superseded.length;
        for (const old of superseded) await rejectBySystem(tx, old, `superseded by chunk ${chunk.id}`, now);
        await tx.insertChunk(chunk);
        await tx.insertDecision({ sandbox, chunk_id: chunk.id, action: "submit", actor, at: now });
        await tx.appendEvent(
          "chunk.created",
          sandbox,
          { id: chunk.id, rule_name: ruleName, source: chunk.source },
          now,
        );
        ids.push(chunk.id);
        if (settings.approval_mode === "auto" && this.autoApprovable(head, chunk)) {
          const { chunk: approved } = await this.approveIn(tx, chunk.id, chunk.review_token, "auto");
          if (approved.status !== "pending") pending--;
          chunks.push(approved);
        } else chunks.push(chunk);
      }
      const result: SubmitResult = {
        status: "submitted" as const,
        accepted_chunks: ids.length,
        rejected_chunks: reasons.length,
        rejection_reasons: reasons,
        accepted_chunk_ids: ids,
        chunks,
      };
      return { result, refusal };
    });
    if (outcome.refusal) this.options.audit?.write(outcome.refusal.event);
    // Nothing taken and the bound the reason: the submission as a whole is refused (429).
    if (outcome.refusal && outcome.result.accepted_chunks === 0) throw outcome.refusal.error;
    return outcome.result;
  }

  async getChunk(id: string): Promise<Chunk> {
    return this.store.read(async (r) => {
      const chunk = await r.getChunk(id);
      if (!chunk) throw unknownChunk(id);
      return (await this.freshen(r, [chunk]))[0] as Chunk;
    });
  }

  async listChunks(filter: { sandbox?: string; status?: Chunk["status"] }): Promise<Chunk[]> {
    return this.store.read(async (r) => this.freshen(r, await r.listChunks(filter)));
  }

  /**
   * Pending chunks are reviewed against the live head whenever it has moved since they were
   * stored: validation, candidate hash and review token always describe today's policy.
   */
  private async freshen(repo: Repo, chunks: Chunk[]): Promise<Chunk[]> {
    const heads = new Map<string, Head | null>();
    const out: Chunk[] = [];
    for (const c of chunks) {
      if (c.status !== "pending") {
        out.push(c);
        continue;
      }
      if (!heads.has(c.sandbox)) {
        const sb = await repo.getSandbox(c.sandbox);
        heads.set(c.sandbox, sb ? await this.headOf(repo, sb) : null);
      }
      const head = heads.get(c.sandbox);
      out.push(
        head && head.hash !== c.current_policy_hash
          ? { ...c, ...review(head, c.rule_name, c.proposed_rule, this.reviewFacts()) }
          : c,
      );
    }
    return out;
  }

  private async mustChunk(tx: Repo, id: string): Promise<Chunk> {
    const chunk = await tx.getChunk(id);
    if (!chunk) throw unknownChunk(id);
    return chunk;
  }

  /**
   * Auto-approval (docs/design.md §7): only with an operator ceiling, only for a valid chunk with no
   * security note, and only when the whole candidate policy stays inside the ceiling.
   */
  private autoApprovable(head: Head, chunk: Chunk): boolean {
    const ceiling = this.options.ceiling;
    if (!ceiling || chunk.validation_result !== "valid" || securityFlagged(chunk)) return false;
    const plan = planMerge(head.policy, chunk.rule_name, chunk.proposed_rule);
    return plan.ok && withinCeiling(plan.policy, ceiling).ok;
  }

  async approve(
    id: string,
    token: string,
    by: string,
    expiresInSeconds?: number,
  ): Promise<{ chunk: Chunk; revision: Revision }> {
    return this.store.write((tx) => this.approveIn(tx, id, token, by, expiresInSeconds));
  }

  private async approveIn(tx: Repo, id: string, token: string, by: string, expiresInSeconds?: number) {
    const now = this.now();
    const chunk = await this.mustChunk(tx, id);
    const sb = await this.mustSandbox(tx, chunk.sandbox);
    const head = await this.headOf(tx, sb);
    const fresh = review(head, chunk.rule_name, chunk.proposed_rule, this.reviewFacts());
    const check = checkApprove(chunk, fresh, token);
    if (!check.ok) throw new GatewayError(409, check.code, check.detail);
    const plan = planMerge(head.policy, chunk.rule_name, chunk.proposed_rule);
    if (!plan.ok) throw new GatewayError(409, "merge_conflict", plan.error);
    const revision = plan.changed
      ? await this.commitRevision(tx, sb, head, plan.policy, { by, action: "approve", chunk_id: id })
      : head.revision;
    const expires = expiresInSeconds
      ? new Date(this.clock().getTime() + expiresInSeconds * 1000).toISOString()
      : null;
    const approved: Chunk = {
      ...chunk,
      ...fresh,
      status: "approved",
      rejection_reason: null,
      rejection_hint: null,
      decided_at: now,
      decided_by: by,
      expires_at: expires,
      revision: revision.version,
      applied_operations: plan.operations,
    };
    await tx.updateChunk(approved);
    await tx.insertDecision({
      sandbox: sb.name,
      chunk_id: id,
      action: "approve",
      actor: by,
      revision: revision.version,
      reason: expires ? `expires ${expires}` : null,
      at: now,
    });
    await tx.appendEvent(
      "chunk.decided",
      sb.name,
      {
        id,
        status: "approved",
        revision: revision.version,
        expires_at: expires,
        decided_by: by,
        auto: by === "auto",
      },
      now,
    );
    return { chunk: approved, revision };
  }

  /** Reject a pending chunk, or revoke an approved one (removing exactly what it added). */
  async reject(
    id: string,
    reason: string | null,
    hint: Chunk["rejection_hint"],
    by: string,
    action: "reject" | "expire" = "reject",
  ): Promise<{ chunk: Chunk; revision: Revision | null }> {
    const now = this.now();
    return this.store.write(async (tx) => {
      const chunk = await this.mustChunk(tx, id);
      if (chunk.status === "rejected")
        throw new GatewayError(409, "conflict", `chunk ${id} is already rejected`);
      // An approved chunk is revoked (or expires): what its approval added comes out first.
      const decided = chunk.status === "approved" ? (action === "expire" ? "expire" : "revoke") : "reject";
      const revision = decided === "reject" ? null : await this.revert(tx, chunk, by, decided);
      const rejection: Rejection = {
        reason,
        hint,
        by,
        action: decided,
        revision: revision?.version ?? null,
        at: now,
      };
      return { chunk: await recordRejection(tx, chunk, rejection), revision };
    });
  }

  private async revert(
    tx: Repo,
    chunk: Chunk,
    by: string,
    action: Provenance["action"],
  ): Promise<Revision | null> {
    const sb = await this.mustSandbox(tx, chunk.sandbox);
    const head = await this.headOf(tx, sb);
    // An expiring grant is removed even if later changes built on its rule: fail closed.
    const plan = planRevert(head.policy, chunk.applied_operations, action === "expire");
    if (!plan.ok) throw new GatewayError(409, "conflict", plan.error);
    if (!plan.changed) return null;
    return this.commitRevision(tx, sb, head, plan.policy, { by, action, chunk_id: chunk.id });
  }

  async undo(id: string, by: string): Promise<{ chunk: Chunk; revision: Revision | null }> {
    const now = this.now();
    return this.store.write(async (tx) => {
      const chunk = await this.mustChunk(tx, id);
      if (chunk.status !== "approved")
        throw new GatewayError(
          409,
          "conflict",
          `chunk ${id} is ${chunk.status}; only an approved chunk can be undone`,
        );
      const revision = await this.revert(tx, chunk, by, "undo");
      const sb = await this.mustSandbox(tx, chunk.sandbox);
      const head = await this.headOf(tx, sb);
      const pending: Chunk = {
        ...chunk,
        ...review(head, chunk.rule_name, chunk.proposed_rule, this.reviewFacts()),
        status: "pending",
        decided_at: null,
        decided_by: null,
        expires_at: null,
        revision: null,
        applied_operations: [],
      };
      await tx.updateChunk(pending);
      await tx.insertDecision({
        sandbox: chunk.sandbox,
        chunk_id: id,
        action: "undo",
        actor: by,
        revision: revision?.version ?? null,
        at: now,
      });
      await tx.appendEvent("chunk.updated", chunk.sandbox, { id, status: "pending" }, now);
      return { chunk: pending, revision };
    });
  }

  async edit(id: string, ruleName: string | undefined, ruleInput: unknown, by: string): Promise<Chunk> {
    const parsed = NetworkRuleSchema.safeParse(ruleInput);
    if (!parsed.success)
      throw new GatewayError(400, "invalid_rule", formatZodIssues(parsed.error.issues, "(rule)"));
    const now = this.now();
    return this.store.write(async (tx) => {
      const chunk = await this.mustChunk(tx, id);
      if (chunk.status !== "pending")
        throw new GatewayError(
          409,
          "conflict",
          `chunk ${id} is ${chunk.status}; only a pending chunk can be edited`,
        );
      const head = await this.headOf(tx, await this.mustSandbox(tx, chunk.sandbox));
      const name = ruleName ?? chunk.rule_name;
      const edited = newChunk(
        head,
        {
          id,
          sandbox: chunk.sandbox,
          submissionId: chunk.submission_id,
          ruleName: name,
          rule: parsed.data,
          source: chunk.source,
          rationale: chunk.rationale,
          intentSummary: chunk.intent_summary,
          confidence: chunk.confidence,
          hitCount: chunk.hit_count,
          now: chunk.created_at,
        },
        this.reviewFacts(),
      );
      const updated: Chunk = {
        ...edited,
        first_seen: chunk.first_seen,
        last_seen: chunk.last_seen,
        dedup_key: chunk.dedup_key,
      };
      await tx.updateChunk(updated);
      await tx.insertDecision({ sandbox: chunk.sandbox, chunk_id: id, action: "edit", actor: by, at: now });
      await tx.appendEvent("chunk.updated", chunk.sandbox, { id, status: "pending" }, now);
      return updated;
    });
  }

  async approveAll(
    sandbox: string,
    includeFlagged: boolean,
    by: string,
  ): Promise<{ approved: string[]; skipped: { id: string; reason: string }[] }> {
    const approved: string[] = [];
    const skipped: { id: string; reason: string }[] = [];
    for (const chunk of await this.listChunks({ sandbox, status: "pending" })) {
      if (!includeFlagged && securityFlagged(chunk)) {
        skipped.push({ id: chunk.id, reason: "security-flagged (use --include-security-flagged)" });
        continue;
      }
      try {
        await this.store.write(async (tx) => {
          const current = await this.mustChunk(tx, chunk.id);
          if (current.status !== "pending")
            throw new GatewayError(409, "conflict", `chunk is ${current.status}`);
          const head = await this.headOf(tx, await this.mustSandbox(tx, sandbox));
          const token = review(
            head,
            current.rule_name,
            current.proposed_rule,
            this.reviewFacts(),
          ).review_token;
          return this.approveIn(tx, chunk.id, token, by);
        });
        approved.push(chunk.id);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        skipped.push({ id: chunk.id, reason: error.message });
      }
    }
    return { approved, skipped };
  }

  async history(filter: { sandbox?: string; chunk_id?: string }) {
    return this.store.read((r) => r.listDecisions(filter));
  }

  /** Revokes every timed grant whose time is up; returns the next expiry (or null). */
  async expireDue(): Promise<string | null> {
    const due = await this.store.read((r) => r.listExpired(this.now()));
    for (const chunk of due) {
      await this.reject(
        chunk.id,
        `timed grant expired at ${chunk.expires_at}`,
        null,
        "system",
        "expire",
      ).catch(() => undefined);
    }
    return this.store.read((r) => r.nextExpiry());
  }
}

function unknownChunk(id: string): GatewayError {
  return new GatewayError(
    404,
    "unknown_chunk",
    `no chunk with id ${id}; list them with \`airlock rule get\``,
  );
}
