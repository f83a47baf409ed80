// PostgreSQL backend (pg): for several gateway replicas. Writers take one transaction-scoped
// advisory lock, so decisions are serialised across replicas and event ids are commit-ordered;
// NOTIFY (sent at commit) tells every replica to pump the new events to its listeners.
import pg from "pg";
import { EventPump } from "./event-pump.ts";
import { MIGRATIONS, migrationSql } from "./migrations.ts";
import { Repo, type Sql } from "./repo.ts";
import type { EventListener, Store } from "./store.ts";

const WRITE_LOCK = 7_411_001;
const MIGRATE_LOCK = 7_411_002;
const CHANNEL = "airlock_events";

function toPg(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

function sqlOver(client: pg.Pool | pg.PoolClient): Sql {
  return {
    all: async <T>(text: string, params: unknown[] = []) =>
      (await client.query(toPg(text), params)).rows as T[],
    run: async (text: string, params: unknown[] = []) =>
      (await client.query(toPg(text), params)).rowCount ?? 0,
  };
}

function searchPath(schema: string | null): { options?: string } {
  return schema ? { options: `-c search_path=${schema}` } : {};
}

export class PostgresStore implements Store {
  readonly kind = "postgres";
  private readonly pool: pg.Pool;
  private readonly repo: Repo;
  private readonly pump: EventPump;
  private listener: pg.Client | null = null;
  private closed = false;

  private constructor(
    url: string,
    private readonly schema: string | null,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 10, ...searchPath(schema) });
    this.pool.on("error", () => undefined);
    this.repo = new Repo(sqlOver(this.pool));
    this.pump = new EventPump(() => this.repo);
  }

  /** `?schema=NAME` in the URL keeps the tables in their own schema (tests, shared servers). */
  static async open(rawUrl: string): Promise<PostgresStore> {
    const parsed = new URL(rawUrl);
    const schema = parsed.searchParams.get("schema");
    if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw new Error(`invalid schema name "${schema}"`);
    parsed.searchParams.delete("schema");
    const url = parsed.toString();
    if (schema) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        await admin.end();
      }
    }
    const store = new PostgresStore(url, schema);
    try {
      await store.migrate();
      await store.pump.start();
      await store.listen(url);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.locked(MIGRATE_LOCK, async (client) => {
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
      );
      const done = new Set(
        (await client.query("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const stmt of migrationSql(m, "BIGSERIAL PRIMARY KEY")) await client.query(stmt);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
          m.version,
          new Date().toISOString(),
        ]);
      }
    });
  }

  /** One transaction holding an advisory lock: replicas take turns; any error rolls back. */
  private async locked<T>(lock: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [lock]);
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, ...searchPath(this.schema) });
    client.on("error", () => {
      // connection lost: reconnect so replicas keep hearing each other
      this.listener = null;
      if (!this.closed) setTimeout(() => this.listen(url).catch(() => undefined), 500);
    });
    client.on("notification", () => void this.pump.pump());
    await client.connect();
    await client.query(`LISTEN ${this.channel}`);
    this.listener = client;
    void this.pump.pump();
  }

  private get channel(): string {
    return this.schema ? `${CHANNEL}_${this.schema}` : CHANNEL;
  }

  async write<T>(fn: (tx: Repo) => Promise<T>): Promise<T> {
    const result = await this.locked(WRITE_LOCK, async (client) => {
      const value = await fn(new Repo(sqlOver(client)));
      await client.query(`NOTIFY ${this.channel}`);
      return value;
    });
    await this.pump.pump();
    return result;
  }

  read<T>(fn: (repo: Repo) => Promise<T>): Promise<T> {
    return fn(this.repo);
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
