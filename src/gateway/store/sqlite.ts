// SQLite backend (better-sqlite3, WAL): the embedded default. One connection; writers are
// serialised in-process by a queue and across processes by BEGIN IMMEDIATE + busy_timeout.
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { EventPump } from "./event-pump.ts";
import { MIGRATIONS, migrationSql } from "./migrations.ts";
import { Repo, type Sql } from "./repo.ts";
import type { EventListener, Store } from "./store.ts";

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  private readonly db: Database.Database;
  private readonly repo: Repo;
  private readonly pump: EventPump;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // Holds token hashes and the whole review history: readable by its owner only.
    if (path !== ":memory:") chmodSync(path, 0o600);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 10000");
    this.db.pragma("foreign_keys = ON");
    const db = this.db;
    const sql: Sql = {
      all: async <T>(text: string, params: unknown[] = []) => db.prepare(text).all(...params) as T[],
      run: async (text: string, params: unknown[] = []) => db.prepare(text).run(...params).changes,
    };
    this.repo = new Repo(sql);
    this.pump = new EventPump(() => this.repo);
  }

  static async open(path: string): Promise<SqliteStore> {
    const store = new SqliteStore(path);
    store.migrate();
    await store.pump.start();
    return store;
  }

  private migrate(): void {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    );
    const apply = this.db.transaction(() => {
      const done = new Set(
        (this.db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map(
          (r) => r.version,
        ),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const stmt of migrationSql(m, "INTEGER PRIMARY KEY AUTOINCREMENT")) this.db.exec(stmt);
        this.db
          .prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .run(m.version, new Date().toISOString());
      }
    });
    apply.immediate();
  }

  write<T>(fn: (tx: Repo) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.db.exec("BEGIN IMMEDIATE");
      let result: T;
      try {
        result = await fn(this.repo);
        this.db.exec("COMMIT");
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw error;
      }
      await this.pump.pump();
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Reads wait for the writer in flight: one connection must not show uncommitted rows. */
  read<T>(fn: (repo: Repo) => Promise<T>): Promise<T> {
    const run = () => fn(this.repo);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}
