// Sandboxes, policy revisions, settings and observed denies: the part of the gateway's use cases
// that chunks build on. Each is one store transaction; revisions move the head only if its hash
// is still the one read (the optimistic check).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AuditSink } from "../audit/writer.ts";
import { policyHash } from "../policy/canonical.ts";
import { formatProblemsInline, loadPolicyValue } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import type { Deny, Provenance, Revision, Sandbox, SettingsView } from "../protocol/types.ts";
import { rejectBySystem } from "./chunk-rejection.ts";
import { GatewayError } from "./gateway-error.ts";
import { type Head, runEndedNote } from "./lifecycle.ts";
import { effective, parseSetting, sandboxScope } from "./settings.ts";
import type { Repo, SandboxRow } from "./store/repo.ts";
import type { Store } from "./store/store.ts";

export type Clock = () => Date;

/**
 * Observed denies kept per sandbox, the most recently seen: a sandbox that asks for a new path
 * each time cannot grow the store without end (the inbox shows the newest; older ones go).
 */
export const OBSERVED_DENIES_KEPT = 1000;

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function publicSandbox(row: SandboxRow): Sandbox {
  const { token_hash: _t, ...rest } = row;
  return rest;
}

export function parsePolicyInput(value: unknown): Policy {
  const loaded = loadPolicyValue(value);
  if (!loaded.ok) throw new GatewayError(400, "invalid_policy", formatProblemsInline(loaded.errors));
  return loaded.value;
}

export interface ServiceOptions {
  /** The most `approval_mode: auto` may ever grant; without one nothing is approved automatically. */
  ceiling?: Policy;
  /** Where refusals of what a sandbox may create go (pending-limits.ts); none: not recorded. */
  audit?: AuditSink;
}

export class SandboxService {
  constructor(
    readonly store: Store,
    protected readonly clock: Clock = () => new Date(),
    protected readonly options: ServiceOptions = {},
  ) {}

  protected now(): string {
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
      await this.expireEarlierRun(tx, name, now);
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

  /**
   * A new run of a name supersedes what the earlier run left pending: its agent is gone, and
   * approving its proposal now would merge into the new run's policy a rule nobody running asked
   * for. Each such chunk ends rejected by the system (as other lapses do), with a note that says
   * why, so it is never merged unseen and the new run's agent proposes afresh.
   */
  private async expireEarlierRun(tx: Repo, name: string, now: string): Promise<void> {
    const reason = runEndedNote(name, now);
    for (const chunk of await tx.listChunks({ sandbox: name, status: "pending" }))
      await rejectBySystem(tx, chunk, reason, now);
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

  protected async mustSandbox(repo: Repo, name: string): Promise<SandboxRow> {
    const row = await repo.getSandbox(name);
    if (!row) throw new GatewayError(404, "unknown_sandbox", `no sandbox named "${name}" is registered`);
    return row;
  }

  protected async headOf(repo: Repo, sb: SandboxRow): Promise<Head & { revision: Revision }> {
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
  protected async commitRevision(
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
        action: "policy_set",
        actor: by,
        revision: rev.version,
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
    const parsed = parseSetting(key, value);
    const now = this.now();
    await this.store.write(async (tx) => {
      if (sandbox) await this.mustSandbox(tx, sandbox);
      const scope = sandbox ? sandboxScope(sandbox) : "global";
      if (parsed.value === null) await tx.deleteSetting(scope, parsed.key);
      else await tx.setSetting(scope, parsed.key, parsed.value, now);
      await tx.insertDecision({
        sandbox: sandbox ?? "*",
        chunk_id: null,
        action: "setting",
        actor: by,
        revision: null,
        reason: `${key}=${JSON.stringify(parsed.value)}`,
        at: now,
      });
      await tx.appendEvent("settings.changed", sandbox ?? null, { key, value: parsed.value, scope }, now);
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
      if (denials.length > 0) {
        await tx.keepNewestDenies(sandbox, OBSERVED_DENIES_KEPT);
        await tx.appendEvent("deny.observed", sandbox, { reports: denials.length }, now);
      }
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
