// The gateway's use cases: each one a store transaction around the pure lifecycle (lifecycle.ts,
// merge-plan.ts). Every decision checks the head policy hash it read before moving the head.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { policyHash } from "../policy/canonical.ts";
import { validatePolicyValue } from "../policy/load.ts";
import { MergeOperationSchema } from "../policy/merge.ts";
import { type NetworkRule, NetworkRuleSchema, type Policy } from "../policy/schema.ts";
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
import type { Repo, SandboxRow, Store } from "./store/store.ts";
import {
  type Chunk,
  type Deny,
  type Provenance,
  type Revision,
  type Sandbox,
  SETTING_DEFAULTS,
  SETTINGS,
  type SettingKey,
  type Settings,
  type SettingsView,
  type SubmitBody,
  SubmitBodySchema,
  type SubmitResult,
} from "./types.ts";
import { securityFlagged } from "./validate.ts";

export class GatewayError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 503,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

export type Clock = () => Date;

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function publicSandbox(row: SandboxRow): Sandbox {
  const { token_hash: _t, ...rest } = row;
  return rest;
}

function issues(errors: string[]): string {
  return errors.join("; ");
}

export function parsePolicyInput(value: unknown): Policy {
  const checked = validatePolicyValue(value);
  if (!checked.ok) throw new GatewayError(400, "invalid_policy", issues(checked.errors));
  return checked.value;
}

export class GatewayService {
  constructor(
    readonly store: Store,
    private readonly clock: Clock = () => new Date(),
  ) {}

  private now(): string {
    return this.clock().toISOString();
  }

  // ---- sandboxes and revisions ---------------------------------------------------------

  async register(
    name: string,
    policyInput: unknown,
  ): Promise<{ sandbox: Sandbox; token: string; revision: Revision }> {
    const policy = parsePolicyInput(policyInput);
    const secret = randomBytes(24).toString("base64url");
    const token = `alk_sb_${name}.${secret}`;
    const now = this.now();
    return this.store.write(async (tx) => {
      const existing = await tx.getSandbox(name);
      if (!existing) {
        const hash = policyHash(policy);
        await tx.insertSandbox({
          name,
          token_hash: hashToken(token),
          head_version: 1,
          head_hash: hash,
          loaded_version: null,
          created_at: now,
          registered_at: now,
        });
        const revision: Revision = {
          sandbox: name,
          version: 1,
          hash,
          status: "pending",
          policy,
          provenance: { by: "operator", action: "register", chunk_id: null },
          detail: null,
          created_at: now,
          status_at: null,
        };
        await tx.insertRevision(revision);
        await tx.appendEvent(
          "policy.revision",
          name,
          { version: 1, hash, provenance: revision.provenance },
          now,
        );
        return { sandbox: publicSandbox((await tx.getSandbox(name))!), token, revision };
      }
      await tx.reRegisterSandbox(name, hashToken(token), now);
      const head = await this.headOf(tx, existing);
      const revision =
        policyHash(policy) === head.hash
          ? head.revision
          : await this.commitRevision(tx, existing, head, policy, {
              by: "operator",
              action: "register",
              chunk_id: null,
            });
      return { sandbox: publicSandbox((await tx.getSandbox(name))!), token, revision };
    });
  }

  /** The sandbox a token belongs to, or null. Tokens are `alk_sb_<name>.<secret>`; only hashes are stored. */
  async sandboxForToken(token: string): Promise<string | null> {
    const m = /^alk_sb_([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.[A-Za-z0-9_-]+$/.exec(token);
    if (!m) return null;
    const name = m[1] as string;
    const row = await this.store.read((r) => r.getSandbox(name));
    if (!row) return null;
    const a = Buffer.from(row.token_hash, "hex");
    const b = Buffer.from(hashToken(token), "hex");
    return a.length === b.length && timingSafeEqual(a, b) ? name : null;
  }

  async listSandboxes(): Promise<Sandbox[]> {
    return (await this.store.read((r) => r.listSandboxes())).map(publicSandbox);
  }

  async getSandbox(name: string): Promise<Sandbox> {
    return publicSandbox(await this.store.read((r) => this.mustSandbox(r, name)));
  }

  private async mustSandbox(repo: Repo, name: string): Promise<SandboxRow> {
    const row = await repo.getSandbox(name);
    if (!row) throw new GatewayError(404, "unknown_sandbox", `no sandbox named "${name}" is registered`);
    return row;
  }

  private async headOf(repo: Repo, sb: SandboxRow): Promise<Head & { revision: Revision }> {
    const revision = await repo.getRevision(sb.name, sb.head_version);
    if (!revision) throw new Error(`sandbox ${sb.name} has no revision ${sb.head_version}`);
    return { policy: revision.policy, hash: revision.hash, version: revision.version, revision };
  }

  async getRevision(sandbox: string, version?: number): Promise<Revision> {
    return this.store.read(async (r) => {
      const sb = await this.mustSandbox(r, sandbox);
      const rev = await r.getRevision(sandbox, version ?? sb.head_version);
      if (!rev)
        throw new GatewayError(404, "unknown_revision", `sandbox ${sandbox} has no revision ${version}`);
      return rev;
    });
  }

  async listRevisions(sandbox: string): Promise<Revision[]> {
    return this.store.read(async (r) => {
      await this.mustSandbox(r, sandbox);
      return r.listRevisions(sandbox);
    });
  }

  /** New head revision; the optimistic check refuses if someone else moved the head meanwhile. */
  private async commitRevision(
    tx: Repo,
    sb: SandboxRow,
    head: Head,
    policy: Policy,
    provenance: Provenance,
  ): Promise<Revision> {
    const now = this.now();
    const hash = policyHash(policy);
    const version = head.version + 1;
    if (!(await tx.advanceHead(sb.name, head.hash, version, hash))) {
      throw new GatewayError(
        409,
        "conflict",
        "the policy changed while deciding; refetch with `airlock rule get`",
      );
    }
    const revision: Revision = {
      sandbox: sb.name,
      version,
      hash,
      status: "pending",
      policy,
      provenance,
      detail: null,
      created_at: now,
      status_at: null,
    };
    await tx.insertRevision(revision);
    await tx.appendEvent("policy.revision", sb.name, { version, hash, provenance, policy }, now);
    return revision;
  }

  async setPolicy(
    sandbox: string,
    policyInput: unknown,
    by: string,
    expectedHash?: string,
  ): Promise<Revision> {
    const policy = parsePolicyInput(policyInput);
    return this.store.write(async (tx) => {
      const sb = await this.mustSandbox(tx, sandbox);
      const head = await this.headOf(tx, sb);
      if (expectedHash !== undefined && expectedHash !== head.hash) {
        throw new GatewayError(
          409,
          "conflict",
          `policy of ${sandbox} is at revision ${head.version}, not the one you read`,
        );
      }
      if (policyHash(policy) === head.hash) return head.revision;
      const rev = await this.commitRevision(tx, sb, head, policy, { by, action: "set", chunk_id: null });
      await tx.insertDecision({
        sandbox,
        chunk_id: null,
        action: "policy_set",
        actor: by,
        revision: rev.version,
        reason: null,
        at: this.now(),
      });
      return rev;
    });
  }

  async reportRevision(
    sandbox: string,
    version: number,
    status: "loaded" | "failed",
    detail: string | null,
  ): Promise<Revision> {
    const now = this.now();
    return this.store.write(async (tx) => {
      const rev = await tx.getRevision(sandbox, version);
      if (!rev)
        throw new GatewayError(404, "unknown_revision", `sandbox ${sandbox} has no revision ${version}`);
      await tx.setRevisionStatus(sandbox, version, status, detail, now);
      if (status === "loaded") {
        await tx.setLoaded(sandbox, version);
        await tx.supersedeBelow(sandbox, version, now);
      }
      await tx.appendEvent("policy.loaded", sandbox, { version, hash: rev.hash, status, detail }, now);
      return { ...rev, status, detail, status_at: now };
    });
  }

  // ---- chunks ----------------------------------------------------------------------------

  async submit(sandbox: string, bodyInput: SubmitBody, actor: string): Promise<SubmitResult> {
    const parsed = SubmitBodySchema.safeParse(bodyInput);
    if (!parsed.success) {
      throw new GatewayError(
        400,
        "invalid_proposal",
        parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; "),
      );
    }
    const body = parsed.data;
    const now = this.now();
    const submissionId = randomUUID();
    return this.store.write(async (tx) => {
      const sb = await this.mustSandbox(tx, sandbox);
      if (body.source === "agent_authored") {
        const settings = effective(
          await tx.getSettings("global"),
          await tx.getSettings(sandboxScope(sandbox)),
        );
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
      for (const [index, raw] of body.operations.entries()) {
        const op = MergeOperationSchema.safeParse(raw);
        if (!op.success || !("addRule" in op.data)) {
          reasons.push(
            `operations[${index}]: ${op.success ? "only addRule operations can be proposed" : op.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
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
        let chunk = newChunk(head, input);
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
          chunk = {
            ...chunk,
            status: "rejected",
            rejection_reason: `covered by active policy revision ${head.version}`,
            decided_at: now,
            decided_by: "system",
          };
          reasons.push(`operations[${index}]: ${chunk.rejection_reason}`);
          await tx.insertChunk(chunk);
          await tx.insertDecision({
            sandbox,
            chunk_id: chunk.id,
            action: "reject",
            actor: "system",
            revision: null,
            reason: chunk.rejection_reason,
            at: now,
          });
          chunks.push(chunk);
          continue;
        }
        for (const old of supersededBy(chunk, await tx.listChunks({ sandbox, status: "pending" }))) {
          const reason = `superseded by chunk ${chunk.id}`;
          await tx.updateChunk({
            ...old,
            status: "rejected",
            rejection_reason: reason,
            decided_at: now,
            decided_by: "system",
          });
          await tx.insertDecision({
            sandbox,
            chunk_id: old.id,
            action: "reject",
            actor: "system",
            revision: null,
            reason,
            at: now,
          });
          await tx.appendEvent(
            "chunk.decided",
            sandbox,
            { id: old.id, status: "rejected", rejection_reason: reason, rejection_hint: null },
            now,
          );
        }
        await tx.insertChunk(chunk);
        await tx.insertDecision({
          sandbox,
          chunk_id: chunk.id,
          action: "submit",
          actor,
          revision: null,
          reason: null,
          at: now,
        });
        await tx.appendEvent(
          "chunk.created",
          sandbox,
          { id: chunk.id, rule_name: ruleName, source: chunk.source },
          now,
        );
        ids.push(chunk.id);
        chunks.push(chunk);
      }
      return {
        status: "submitted" as const,
        accepted_chunks: ids.length,
        rejected_chunks: reasons.length,
        rejection_reasons: reasons,
        accepted_chunk_ids: ids,
        chunks,
      };
    });
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
          ? { ...c, ...review(head, c.rule_name, c.proposed_rule) }
          : c,
      );
    }
    return out;
  }

  private async mustChunk(tx: Repo, id: string): Promise<Chunk> {
    const chunk = await tx.getChunk(id);
    if (!chunk)
      throw new GatewayError(
        404,
        "unknown_chunk",
        `no chunk with id ${id}; list them with \`airlock rule get\``,
      );
    return chunk;
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
    const fresh = review(head, chunk.rule_name, chunk.proposed_rule);
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
      { id, status: "approved", revision: revision.version, expires_at: expires },
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
      let revision: Revision | null = null;
      if (chunk.status === "approved")
        revision = await this.revert(tx, chunk, by, action === "expire" ? "expire" : "revoke");
      const rejected: Chunk = {
        ...chunk,
        status: "rejected",
        rejection_reason: reason,
        rejection_hint: hint,
        decided_at: now,
        decided_by: by,
        expires_at: null,
        revision: null,
        applied_operations: [],
      };
      await tx.updateChunk(rejected);
      await tx.insertDecision({
        sandbox: chunk.sandbox,
        chunk_id: id,
        action: chunk.status === "approved" ? (action === "expire" ? "expire" : "revoke") : "reject",
        actor: by,
        revision: revision?.version ?? null,
        reason,
        at: now,
      });
      await tx.appendEvent(
        "chunk.decided",
        chunk.sandbox,
        { id, status: "rejected", rejection_reason: reason, rejection_hint: hint },
        now,
      );
      return { chunk: rejected, revision };
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
        ...review(head, chunk.rule_name, chunk.proposed_rule),
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
        reason: null,
        at: now,
      });
      await tx.appendEvent("chunk.updated", chunk.sandbox, { id, status: "pending" }, now);
      return { chunk: pending, revision };
    });
  }

  async edit(id: string, ruleName: string | undefined, ruleInput: unknown, by: string): Promise<Chunk> {
    const parsed = NetworkRuleSchema.safeParse(ruleInput);
    if (!parsed.success)
      throw new GatewayError(
        400,
        "invalid_rule",
        parsed.error.issues.map((i) => `${i.path.join(".") || "(rule)"}: ${i.message}`).join("; "),
      );
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
      const edited = newChunk(head, {
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
      });
      const updated: Chunk = {
        ...edited,
        first_seen: chunk.first_seen,
        last_seen: chunk.last_seen,
        dedup_key: chunk.dedup_key,
      };
      await tx.updateChunk(updated);
      await tx.insertDecision({
        sandbox: chunk.sandbox,
        chunk_id: id,
        action: "edit",
        actor: by,
        revision: null,
        reason: null,
        at: now,
      });
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
          const token = review(head, current.rule_name, current.proposed_rule).review_token;
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

  // ---- settings and denies ---------------------------------------------------------------

  async settings(sandbox?: string): Promise<SettingsView> {
    return this.store.read(async (r) => {
      const global = await r.getSettings("global");
      const local = sandbox ? await r.getSettings(sandboxScope(sandbox)) : {};
      return { effective: effective(global, local), global, sandbox: local };
    });
  }

  async setSetting(
    key: string,
    value: unknown,
    sandbox: string | undefined,
    by: string,
  ): Promise<SettingsView> {
    if (!(key in SETTINGS))
      throw new GatewayError(
        400,
        "unknown_setting",
        `unknown setting "${key}"; known: ${Object.keys(SETTINGS).join(", ")}`,
      );
    const k = key as SettingKey;
    const parsed =
      value === null ? { success: true as const, data: null } : SETTINGS[k].safeParse(coerce(value));
    if (!parsed.success)
      throw new GatewayError(
        400,
        "invalid_setting",
        `${key} must be ${SETTING_VALUES[k]}, got ${JSON.stringify(value)}`,
      );
    const now = this.now();
    await this.store.write(async (tx) => {
      if (sandbox) await this.mustSandbox(tx, sandbox);
      const scope = sandbox ? sandboxScope(sandbox) : "global";
      if (parsed.data === null) await tx.deleteSetting(scope, k);
      else await tx.setSetting(scope, k, parsed.data, now);
      await tx.insertDecision({
        sandbox: sandbox ?? "*",
        chunk_id: null,
        action: "setting",
        actor: by,
        revision: null,
        reason: `${key}=${JSON.stringify(parsed.data)}`,
        at: now,
      });
      await tx.appendEvent("settings.changed", sandbox ?? null, { key, value: parsed.data, scope }, now);
    });
    return this.settings(sandbox);
  }

  async reportDenies(
    sandbox: string,
    denials: Array<
      Omit<Deny, "sandbox" | "first_seen" | "last_seen" | "method" | "path" | "reason"> & {
        method?: string;
        path?: string;
        reason?: string;
      }
    >,
  ): Promise<number> {
    const now = this.now();
    await this.store.write(async (tx) => {
      await this.mustSandbox(tx, sandbox);
      for (const d of denials)
        await tx.recordDeny({
          sandbox,
          binary: d.binary,
          host: d.host,
          port: d.port,
          layer: d.layer,
          method: d.method ?? null,
          path: d.path ?? null,
          reason: d.reason ?? null,
          count: d.count,
          at: now,
        });
    });
    return denials.length;
  }

  async listDenies(sandbox: string, last: number): Promise<Deny[]> {
    return this.store.read(async (r) => {
      await this.mustSandbox(r, sandbox);
      return r.listDenies(sandbox, last);
    });
  }
}

const SETTING_VALUES: Record<SettingKey, string> = {
  agent_policy_proposals_enabled: "true or false",
  approval_mode: "manual or auto",
};

function sandboxScope(name: string): string {
  return `sandbox:${name}`;
}

/** Global settings override the sandbox's own (DESIGN.md §6). */
function unknownChunk(id: string): GatewayError {
  return new GatewayError(
    404,
    "unknown_chunk",
    `no chunk with id ${id}; list them with \`airlock rule get\``,
  );
}

export function effective(global: Partial<Settings>, local: Partial<Settings>): Settings {
  return { ...SETTING_DEFAULTS, ...local, ...global };
}

function coerce(value: unknown): unknown {
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}
