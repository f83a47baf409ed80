// Opens the store a `--db` URL names: `sqlite:PATH` (default under $AIRLOCK_HOME) or `postgres://...`.
import { join } from "node:path";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

export function defaultDbUrl(home: string): string {
  return `sqlite:${join(home, "gateway.db")}`;
}

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return PostgresStore.open(url);
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") throw new Error("--db sqlite: needs a path, e.g. sqlite:/var/lib/airlock/gateway.db");
    return SqliteStore.open(path);
  }
  throw new Error(`--db must be sqlite:PATH or postgres://..., got "${url}"`);
}

/** Where the store URL is shown: never with a password. */
export function redactDbUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
