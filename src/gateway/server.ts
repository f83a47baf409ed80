// The gateway process's shell: operator token file, store, audit log, HTTP listener, timed-grant
// and ask expiry.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { AuditLog } from "../audit/writer.ts";
import type { Policy } from "../policy/schema.ts";
import type { GateDecider } from "../protocol/gate-decider.ts";
import { homePaths } from "../protocol/home.ts";
import { buildApi } from "./api.ts";
import type { InboxSessions } from "./inbox-sessions.ts";
import { GatewayService } from "./service.ts";
import { defaultDbUrl, openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";

const EVENTS_KEPT = 100_000;

export interface GatewayOptions {
  home: string;
  /** 0 = let the OS choose. */
  port?: number;
  host?: string;
  db?: string;
  /** Use this store instead of opening one (tests, in-process benches). */
  store?: Store;
  heartbeatMs?: number;
  /** Web inbox logins (tests pass one with their own clock). */
  inboxSessions?: InboxSessions;
  /** The operator's ceiling for approval_mode=auto. */
  ceiling?: Policy;
  /** Runs the gate cascade for POST /v1/gate/decide (src/gate/decider.ts); absent = 503 there. */
  gate?: GateDecider;
}

export interface RunningGateway {
  url: string;
  port: number;
  operatorToken: string;
  service: GatewayService;
  close(): Promise<void>;
}

/** The operator token, created 0600 under $AIRLOCK_HOME on first start. */
export function ensureOperatorToken(home: string): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = homePaths(home).operatorToken;
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token) return token;
  }
  const token = `alk_op_${randomBytes(32).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "w" });
  chmodSync(file, 0o600);
  return token;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const operatorToken = ensureOperatorToken(opts.home);
  const store = opts.store ?? (await openStore(opts.db ?? defaultDbUrl(opts.home)));
  const audit = new AuditLog(homePaths(opts.home).gatewayAudit, (error) =>
    process.stderr.write(`airlock gateway: cannot write its audit log: ${error.message}\n`),
  );
  const service = new GatewayService(store, undefined, { ceiling: opts.ceiling, audit });
  if (opts.gate) service.asks.decider = opts.gate;
  await store.write((tx) => tx.pruneEvents(EVENTS_KEPT));
  const { app } = buildApi({
    service,
    operatorToken,
    heartbeatMs: opts.heartbeatMs,
    inboxSessions: opts.inboxSessions,
    home: opts.home,
  });
  const host = opts.host ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s));
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;

  // Timed grants: sleep until the next expiry (re-armed after every decision event), revoke, repeat.
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const arm = async () => {
    if (closed) return;
    const next = await service.expireDue().catch(() => null);
    if (timer) clearTimeout(timer);
    if (next && !closed) {
      const wait = new Date(next).getTime() - Date.now();
      // Still due after a sweep means it failed (store trouble): retry, but do not spin.
      const delay = Math.min(wait > 0 ? wait + 50 : 5000, 2 ** 31 - 1);
      timer = setTimeout(() => void arm(), delay);
    }
  };
  // Asks: the same, for pending asks reaching their expiry (ask.decided "expired" wakes waiters).
  let askTimer: NodeJS.Timeout | null = null;
  const armAsks = async () => {
    if (closed) return;
    const next = await service.asks.expireDue().catch(() => null);
    if (askTimer) clearTimeout(askTimer);
    if (next && !closed) {
      const wait = new Date(next).getTime() - Date.now();
      askTimer = setTimeout(() => void armAsks(), Math.min(wait > 0 ? wait + 20 : 5000, 2 ** 31 - 1));
    }
  };
  const unsubscribe = store.subscribe((e) => {
    if (e.type === "chunk.decided" && e.data.expires_at) void arm();
    if (e.type === "ask.created") void armAsks();
  });
  await arm();
  await armAsks();

  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    operatorToken,
    service,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (askTimer) clearTimeout(askTimer);
      unsubscribe();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      if (!opts.store) await store.close();
      audit.close();
    },
  };
}
