// In-process gateway for tests: temp AIRLOCK_HOME, SQLite, port 0.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InboxSessions } from "../../src/gateway/inbox-sessions.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/server.ts";
import { GatewayClient } from "../../src/protocol/client.ts";

export interface Harness {
  home: string;
  gw: RunningGateway;
  op: GatewayClient;
  restart(port?: number): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startHarness(
  opts: { heartbeatMs?: number; inboxSessions?: InboxSessions } = {},
): Promise<Harness> {
  const home = mkdtempSync(join(tmpdir(), "airlock-gw-"));
  const db = `sqlite:${join(home, "gateway.db")}`;
  let gw = await startGateway({
    home,
    port: 0,
    db,
    heartbeatMs: opts.heartbeatMs,
    inboxSessions: opts.inboxSessions,
  });
  let running = true;
  const h: Harness = {
    home,
    gw,
    op: new GatewayClient({ url: gw.url, token: gw.operatorToken }),
    async stop() {
      if (running) await h.gw.close();
      running = false;
    },
    async restart(port = gw.port) {
      await h.stop();
      gw = await startGateway({
        home,
        port,
        db,
        heartbeatMs: opts.heartbeatMs,
        inboxSessions: opts.inboxSessions,
      });
      h.gw = gw;
      running = true;
    },
    async dispose() {
      await h.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return h;
}
