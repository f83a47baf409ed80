// The one SQL implementation of every resource the store holds (docs/design.md §6). The two
// backends (sqlite.ts, postgres.ts) differ only in how they run SQL, serialise writers and carry
// events; both speak the portable SQL below (`?` placeholders, ON CONFLICT, RETURNING).
import type { Ask, AskStatus } from "../../protocol/ask-types.ts";
import type {
  Chunk,
  Decision,
  Deny,
  EventType,
  GatewayEvent,
  Revision,
  Sandbox,
  SettingKey,
  Settings,
} from "../../protocol/types.ts";

export interface Sql {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

export interface SandboxRow extends Sandbox {
  token_hash: string;
}

export interface ChunkFilter {
  sandbox?: string;
  status?: Chunk["status"];
}

export interface AskFilter {
  status?: AskStatus;
  sandbox?: string;
}

export interface DenyInput {
  sandbox: string;
  binary: string;
  host: string;
  port: number;
  layer: "l4" | "l7";
  method: string | null;
  path: string | null;
  reason: string | null;
  count: number;
  at: string;
}

/** Everything a transaction (or a plain read) can do. */
export class Repo {
  constructor(private readonly sql: Sql) {}

  async getSandbox(name: string): Promise<SandboxRow | null> {
    const [row] = await this.sql.all<Record<string, unknown>>("SELECT * FROM sandboxes WHERE name = ?", [
      name,
    ]);
    return row ? sandboxRow(row) : null;
  }
  async listSandboxes(): Promise<SandboxRow[]> {
    const rows = await this.sql.all("SELECT * FROM sandboxes ORDER BY seq DESC");
    return rows.map(sandboxRow);
  }
  async insertSandbox(s: SandboxRow): Promise<void> {
    await this.sql.run(
      `INSERT INTO sandboxes (name, token_hash, head_version, head_hash, loaded_version, created_at, registered_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sandboxes))`,
      [s.name, s.token_hash, s.head_version, s.head_hash, s.loaded_version, s.created_at, s.registered_at],
    );
  }
  async reRegisterSandbox(name: string, tokenHash: string, at: string): Promise<void> {
    await this.sql.run(
      `UPDATE sandboxes SET token_hash = ?, registered_at = ?,
         seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM sandboxes) WHERE name = ?`,
      [tokenHash, at, name],
    );
  }
  /** The optimistic check: moves the head only if it is still the one the caller read. */
  async advanceHead(name: string, expectHash: string, version: number, hash: string): Promise<boolean> {
    const changed = await this.sql.run(
      "UPDATE sandboxes SET head_version = ?, head_hash = ? WHERE name = ? AND head_hash = ? AND head_version < ?",
      [version, hash, name, expectHash, version],
    );
    return changed === 1;
  }
  async setLoaded(name: string, version: number): Promise<void> {
    await this.sql.run(
      "UPDATE sandboxes SET loaded_version = ? WHERE name = ? AND (loaded_version IS NULL OR loaded_version < ?)",
      [version, name, version],
    );
  }

  async insertRevision(r: Revision): Promise<void> {
    await this.sql.run(
      `INSERT INTO revisions (sandbox, version, hash, status, policy, provenance, detail, created_at, status_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.sandbox,
        r.version,
        r.hash,
        r.status,
        JSON.stringify(r.policy),
        JSON.stringify(r.provenance),
        r.detail,
        r.created_at,
        r.status_at,
      ],
    );
  }
  async getRevision(sandbox: string, version: number): Promise<Revision | null> {
    const [row] = await this.sql.all("SELECT * FROM revisions WHERE sandbox = ? AND version = ?", [
      sandbox,
      version,
    ]);
    return row ? revisionRow(row) : null;
  }
  async listRevisions(sandbox: string): Promise<Revision[]> {
    const rows = await this.sql.all("SELECT * FROM revisions WHERE sandbox = ? ORDER BY version DESC", [
      sandbox,
    ]);
    return rows.map(revisionRow);
  }
  async setRevisionStatus(
    sandbox: string,
    version: number,
    status: Revision["status"],
    detail: string | null,
    at: string,
  ): Promise<void> {
    await this.sql.run(
      "UPDATE revisions SET status = ?, detail = ?, status_at = ? WHERE sandbox = ? AND version = ?",
      [status, detail, at, sandbox, version],
    );
  }
  /** Pending revisions older than `version` will never load: mark them superseded. */
  async supersedeBelow(sandbox: string, version: number, at: string): Promise<number> {
    return this.sql.run(
      "UPDATE revisions SET status = 'superseded', status_at = ? WHERE sandbox = ? AND version < ? AND status = 'pending'",
      [at, sandbox, version],
    );
  }

  async insertChunk(c: Chunk, seqHint = 0): Promise<void> {
    await this.sql.run(
      `INSERT INTO chunks (id, sandbox, status, dedup_key, expires_at, seq, data)
       VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 + ? FROM chunks), ?)`,
      [c.id, c.sandbox, c.status, c.dedup_key, c.expires_at, seqHint, JSON.stringify(c)],
    );
  }
  async updateChunk(c: Chunk): Promise<void> {
    await this.sql.run("UPDATE chunks SET status = ?, dedup_key = ?, expires_at = ?, data = ? WHERE id = ?", [
      c.status,
      c.dedup_key,
      c.expires_at,
      JSON.stringify(c),
      c.id,
    ]);
  }
  async getChunk(id: string): Promise<Chunk | null> {
    const [row] = await this.sql.all<{ data: string }>("SELECT data FROM chunks WHERE id = ?", [id]);
    return row ? (JSON.parse(row.data) as Chunk) : null;
  }
  async listChunks(filter: ChunkFilter = {}): Promise<Chunk[]> {
    const where = whereEqual({ sandbox: filter.sandbox, status: filter.status });
    const rows = await this.sql.all<{ data: string }>(
      `SELECT data FROM chunks ${where.sql} ORDER BY seq`,
      where.params,
    );
    return rows.map((r) => JSON.parse(r.data) as Chunk);
  }
  /** How many chunks of the sandbox wait for the developer (max_pending_proposals). */
  async countPendingChunks(sandbox: string): Promise<number> {
    const [row] = await this.sql.all<{ n: unknown }>(
      "SELECT COUNT(*) AS n FROM chunks WHERE sandbox = ? AND status = 'pending'",
      [sandbox],
    );
    return Number(row?.n ?? 0);
  }
  async findByDedupKey(sandbox: string, key: string): Promise<Chunk[]> {
    const rows = await this.sql.all<{ data: string }>(
      "SELECT data FROM chunks WHERE sandbox = ? AND dedup_key = ? ORDER BY seq DESC",
      [sandbox, key],
    );
    return rows.map((r) => JSON.parse(r.data) as Chunk);
  }
  async listExpired(now: string): Promise<Chunk[]> {
    const rows = await this.sql.all<{ data: string }>(
      "SELECT data FROM chunks WHERE status = 'approved' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at",
      [now],
    );
    return rows.map((r) => JSON.parse(r.data) as Chunk);
  }
  async nextExpiry(): Promise<string | null> {
    const [row] = await this.sql.all<{ e: string | null }>(
      "SELECT MIN(expires_at) AS e FROM chunks WHERE status = 'approved' AND expires_at IS NOT NULL",
    );
    return row?.e ?? null;
  }

  async insertDecision(
    d: Pick<Decision, "sandbox" | "action" | "actor" | "at"> &
      Partial<Pick<Decision, "chunk_id" | "revision" | "reason">>,
  ): Promise<void> {
    await this.sql.run(
      "INSERT INTO decisions (sandbox, chunk_id, action, actor, revision, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [d.sandbox, d.chunk_id ?? null, d.action, d.actor, d.revision ?? null, d.reason ?? null, d.at],
    );
  }
  async listDecisions(filter: { sandbox?: string; chunk_id?: string }): Promise<Decision[]> {
    const where = whereEqual({ sandbox: filter.sandbox, chunk_id: filter.chunk_id });
    const rows = await this.sql.all(`SELECT * FROM decisions ${where.sql} ORDER BY id`, where.params);
    return rows.map((r) => ({
      ...(r as unknown as Decision),
      id: Number(r.id),
      revision: numOrNull(r.revision),
    }));
  }

  async recordDeny(d: DenyInput): Promise<void> {
    const key = [d.binary, d.host, d.port, d.layer, d.method ?? "", d.path ?? ""].join("|");
    await this.sql.run(
      `INSERT INTO denies (sandbox, key, exe, host, port, layer, method, path, reason, count, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sandbox, key) DO UPDATE SET count = denies.count + excluded.count,
         last_seen = excluded.last_seen, reason = excluded.reason`,
      [d.sandbox, key, d.binary, d.host, d.port, d.layer, d.method, d.path, d.reason, d.count, d.at, d.at],
    );
  }
  /** Forgets all but the `keep` most recently seen observed denies of a sandbox. */
  async keepNewestDenies(sandbox: string, keep: number): Promise<void> {
    await this.sql.run(
      `DELETE FROM denies WHERE sandbox = ? AND key NOT IN
         (SELECT key FROM denies WHERE sandbox = ? ORDER BY last_seen DESC, key LIMIT ?)`,
      [sandbox, sandbox, keep],
    );
  }
  async listDenies(sandbox: string, last: number): Promise<Deny[]> {
    const rows = await this.sql.all(
      `SELECT sandbox, exe AS "binary", host, port, layer, method, path, reason, count, first_seen, last_seen
       FROM denies WHERE sandbox = ? ORDER BY last_seen DESC, key LIMIT ?`,
      [sandbox, last],
    );
    return rows.map((r) => ({ ...(r as unknown as Deny), port: Number(r.port), count: Number(r.count) }));
  }

  async getSettings(scope: string): Promise<Partial<Settings>> {
    const rows = await this.sql.all<{ key: string; value: string }>(
      "SELECT key, value FROM settings WHERE scope = ?",
      [scope],
    );
    const out: Record<string, unknown> = {};
    for (const r of rows) out[r.key] = JSON.parse(r.value);
    return out as Partial<Settings>;
  }
  async setSetting(scope: string, key: SettingKey, value: unknown, at: string): Promise<void> {
    await this.sql.run(
      `INSERT INTO settings (scope, key, value, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [scope, key, JSON.stringify(value), at],
    );
  }
  async deleteSetting(scope: string, key: SettingKey): Promise<void> {
    await this.sql.run("DELETE FROM settings WHERE scope = ? AND key = ?", [scope, key]);
  }

  async insertAsk(a: Ask): Promise<void> {
    await this.sql.run(
      `INSERT INTO asks (id, sandbox, session, tool, input_digest, summary, tier, step, rule, reason, status,
         decided_by, decision_reason, created_at, decided_at, expires_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM asks))`,
      [
        a.id,
        a.sandbox,
        a.session,
        a.tool,
        a.input_digest,
        a.summary,
        a.tier,
        a.step,
        a.rule,
        a.reason,
        a.status,
        a.decided_by,
        a.decision_reason,
        a.created_at,
        a.decided_at,
        a.expires_at,
      ],
    );
  }
  async getAsk(id: string): Promise<Ask | null> {
    const [row] = await this.sql.all("SELECT * FROM asks WHERE id = ?", [id]);
    return row ? askRow(row) : null;
  }
  /** Oldest first. */
  async listAsks(filter: AskFilter = {}): Promise<Ask[]> {
    const where = whereEqual({ status: filter.status, sandbox: filter.sandbox });
    const rows = await this.sql.all(`SELECT * FROM asks ${where.sql} ORDER BY seq`, where.params);
    return rows.map(askRow);
  }
  /** Asks of one sandbox (null: asks made for no sandbox) still open at `now` (max_pending_asks). */
  async countOpenAsks(sandbox: string | null, now: string): Promise<number> {
    const [row] = await this.sql.all<{ n: unknown }>(
      `SELECT COUNT(*) AS n FROM asks WHERE status = 'pending' AND expires_at > ? AND ${sandbox === null ? "sandbox IS NULL" : "sandbox = ?"}`,
      sandbox === null ? [now] : [now, sandbox],
    );
    return Number(row?.n ?? 0);
  }
  /** pending → status, only if still pending: true when this call decided it. */
  async decideAsk(
    id: string,
    status: Exclude<AskStatus, "pending">,
    by: string,
    reason: string | null,
    at: string,
  ): Promise<boolean> {
    const changed = await this.sql.run(
      "UPDATE asks SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? WHERE id = ? AND status = 'pending'",
      [status, by, reason, at, id],
    );
    return changed === 1;
  }
  async listDueAsks(now: string): Promise<Ask[]> {
    const rows = await this.sql.all(
      "SELECT * FROM asks WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at",
      [now],
    );
    return rows.map(askRow);
  }
  async nextAskExpiry(): Promise<string | null> {
    const [row] = await this.sql.all<{ e: string | null }>(
      "SELECT MIN(expires_at) AS e FROM asks WHERE status = 'pending'",
    );
    return row?.e ?? null;
  }

  async appendEvent(
    type: EventType,
    sandbox: string | null,
    data: Record<string, unknown>,
    at: string,
  ): Promise<number> {
    const [row] = await this.sql.all<{ id: number | string }>(
      "INSERT INTO events (type, sandbox, data, at) VALUES (?, ?, ?, ?) RETURNING id",
      [type, sandbox, JSON.stringify(data), at],
    );
    return Number(row?.id);
  }
  async eventsAfter(id: number, limit = 1000): Promise<GatewayEvent[]> {
    const rows = await this.sql.all("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [id, limit]);
    return rows.map((r) => ({
      id: Number(r.id),
      type: r.type as EventType,
      sandbox: (r.sandbox as string | null) ?? null,
      data: JSON.parse(r.data as string),
      at: r.at as string,
    }));
  }
  /** Keeps the newest `keep` events (SSE resume reaches back that far; catch-up covers the rest). */
  async pruneEvents(keep: number): Promise<number> {
    return this.sql.run("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", [keep]);
  }
  async lastEventId(): Promise<number> {
    const [row] = await this.sql.all<{ id: number | string | null }>("SELECT MAX(id) AS id FROM events");
    return Number(row?.id ?? 0);
  }
}

/**
 * `WHERE a = ? AND b = ?` over the columns given a value (undefined: not filtered). The column
 * names are the literal keys each caller writes, never input.
 */
function whereEqual(columns: Record<string, string | undefined>): { sql: string; params: string[] } {
  const set = Object.entries(columns).filter((e): e is [string, string] => e[1] !== undefined);
  return {
    sql: set.length ? `WHERE ${set.map(([column]) => `${column} = ?`).join(" AND ")}` : "",
    params: set.map(([, value]) => value),
  };
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function sandboxRow(r: Record<string, unknown>): SandboxRow {
  return {
    name: r.name as string,
    token_hash: r.token_hash as string,
    head_version: Number(r.head_version),
    head_hash: r.head_hash as string,
    loaded_version: numOrNull(r.loaded_version),
    created_at: r.created_at as string,
    registered_at: r.registered_at as string,
  };
}

function revisionRow(r: Record<string, unknown>): Revision {
  return {
    sandbox: r.sandbox as string,
    version: Number(r.version),
    hash: r.hash as string,
    status: r.status as Revision["status"],
    policy: JSON.parse(r.policy as string),
    provenance: JSON.parse(r.provenance as string),
    detail: (r.detail as string | null) ?? null,
    created_at: r.created_at as string,
    status_at: (r.status_at as string | null) ?? null,
  };
}

function askRow(r: Record<string, unknown>): Ask {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(r.id),
    sandbox: text(r.sandbox),
    session: text(r.session),
    tool: String(r.tool),
    input_digest: String(r.input_digest),
    summary: String(r.summary),
    tier: Number(r.tier),
    step: String(r.step),
    rule: text(r.rule),
    reason: String(r.reason),
    status: r.status as AskStatus,
    decided_by: text(r.decided_by),
    decision_reason: text(r.decision_reason),
    created_at: String(r.created_at),
    decided_at: text(r.decided_at),
    expires_at: String(r.expires_at),
  };
}
