// Opens the store a `--db` URL names: `sqlite:PATH` (default under $AIRLOCK_HOME) or `postgres://...`.
// Each driver is loaded only when its URL is used, so commands that never open a store stay quick.
import { homePaths } from "../../protocol/home.ts";
import type { Store } from "./store.ts";

export function defaultDbUrl(home: string): string {
  return `sqlite:${homePaths(home).gatewayDb}`;
}

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresStore } = await import("./postgres.ts");
    return PostgresStore.open(url);
  }
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") throw new Error("--db sqlite: needs a path, e.g. sqlite:/var/lib/airlock/gateway.db");
    const { SqliteStore } = await import("./sqlite.ts");
    return SqliteStore.open(path);
  }
  throw new Error(`--db must be sqlite:PATH or postgres://..., got "${url}"`);
}

/** Where the store URL is shown: never with a password. */
export function redactDbUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
