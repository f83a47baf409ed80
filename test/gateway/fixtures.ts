// Shared test fixtures: the stores under contract (SQLite always, PostgreSQL when
// AIRLOCK_TEST_POSTGRES is set, as CI does), a base policy, and proposal rules.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { PostgresStore } from "../../src/gateway/store/postgres.ts";
import { SqliteStore } from "../../src/gateway/store/sqlite.ts";
import type { Store } from "../../src/gateway/store/store.ts";

export interface StoreCase {
  name: "sqlite" | "postgres";
  skip: string | false;
  /** A fresh, empty store; `reopen` opens the same data again. */
  fresh(): Promise<{ store: Store; reopen(): Promise<Store>; dispose(): Promise<void> }>;
}

export const PG_URL = process.env.AIRLOCK_TEST_POSTGRES;

export function storeCases(): StoreCase[] {
  return [
    {
      name: "sqlite",
      skip: false,
      async fresh() {
        const dir = mkdtempSync(join(tmpdir(), "airlock-store-"));
        const path = join(dir, "gateway.db");
        return {
          store: await SqliteStore.open(path),
          reopen: () => SqliteStore.open(path),
          dispose: async () => rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: "postgres",
      skip: PG_URL ? false : "AIRLOCK_TEST_POSTGRES not set",
      async fresh() {
        const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
        const url = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
        return {
          store: await PostgresStore.open(url),
          reopen: () => PostgresStore.open(url),
          dispose: async () => {
            const admin = new pg.Client({ connectionString: PG_URL });
            await admin.connect();
            await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            await admin.end();
          },
        };
      },
    },
  ];
}

export const BASE_POLICY = {
  version: 1,
  network_policies: {
    github_api: {
      endpoints: [{ host: "api.github.com", port: 443, protocol: "rest", access: "read-only" }],
      binaries: [{ path: "/usr/bin/curl" }],
    },
    pypi: {
      endpoints: [{ host: "pypi.org", port: 443 }],
      binaries: [{ path: "/usr/bin/pip" }],
    },
  },
};

export function putRule(path = "/repos/o/r/contents/x.md") {
  return {
    endpoints: [
      { host: "api.github.com", port: 443, protocol: "rest", rules: [{ allow: { method: "PUT", path } }] },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  };
}

export function l4Rule(host: string, port = 443, binary = "/usr/bin/curl") {
  return { endpoints: [{ host, port }], binaries: [{ path: binary }] };
}

export function addRule(ruleName: string, rule: unknown) {
  return { addRule: { ruleName, rule } };
}

/** Resolves when `predicate` holds, polling a bounded number of times (tests only). */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  what: string,
  ms = 5000,
): Promise<Exclude<T, null | undefined | false | 0 | "">> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value as Exclude<T, null | undefined | false | 0 | "">;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
