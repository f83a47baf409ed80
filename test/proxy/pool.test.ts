// The upstream keep-alive pool (src/proxy/pool.ts) behind L7 requests: reuse across requests and
// tunnels, a stale socket retried for safe requests, idle sockets closed after the idle timeout.
import assert from "node:assert/strict";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { createSandboxCA, LeafCache, type SandboxCA } from "../../src/proxy/ca.ts";
import {
  connectTunnel,
  policyFrom,
  requestOn,
  startProxy,
  type TestProxy,
  tlsOverTunnel,
} from "./helpers.ts";

const POLICY = policyFrom(`
version: 1
network_policies:
  api:
    endpoints:
      - { host: api.example.com, port: 443, protocol: rest, access: full }
    binaries:
      - path: /usr/bin/curl
`);

let ca: SandboxCA;
let server: Server;
let port = 0;
/** Upstream TCP connections accepted, and those closed (by either side). */
let accepted = 0;
let closed = 0;
/** Upstream connections that resumed an earlier TLS session. */
let resumed = 0;
/** When set, the upstream drops the connection right after each response (no Connection: close). */
let dropAfterResponse = false;

before(async () => {
  ca = await createSandboxCA("pool-upstream");
  const { cert, key } = await new LeafCache(ca).mintPem("api.example.com", []);
  server = createHttpsServer({ cert, key }, (req, res) => {
    const body = JSON.stringify({ url: req.url });
    res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
    res.end(body);
    if (dropAfterResponse) res.once("finish", () => req.socket.destroy());
  });
  server.keepAliveTimeout = 60_000;
  server.on("secureConnection", (s: Socket) => {
    accepted++;
    if ((s as import("node:tls").TLSSocket).isSessionReused()) resumed++;
    s.once("close", () => closed++);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function withProxy(idleTimeoutMs: number, fn: (p: TestProxy) => Promise<void>): Promise<void> {
  const p = await startProxy(POLICY, {
    connectTo: [`api.example.com:443:127.0.0.1:${port}`],
    upstreamCAs: [ca.certPem],
    limits: { idleTimeoutMs },
  });
  try {
    await fn(p);
  } finally {
    await p.close();
  }
}

async function tunnel(p: TestProxy) {
  const t = await connectTunnel(p.port, "api.example.com:443");
  assert.equal(t.status, 200);
  return tlsOverTunnel(t.socket, "api.example.com", p.ca.certPem);
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: api.example.com\r\n\r\n`;

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("one upstream connection serves sequential requests, across client tunnels too", async () => {
  await withProxy(60_000, async (p) => {
    const before = accepted;
    const a = await tunnel(p);
    for (const path of ["/1", "/2", "/3"]) {
      const r = await requestOn(a, get(path));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).url, path);
    }
    a.destroy();
    const b = await tunnel(p);
    assert.equal((await requestOn(b, get("/4"))).status, 200);
    b.destroy();
    assert.equal(accepted - before, 1, "the pooled upstream connection was reused");
  });
});

test("a safe request on a socket the upstream dropped is retried on a fresh one (resuming TLS)", async () => {
  dropAfterResponse = true;
  try {
    await withProxy(60_000, async (p) => {
      const resumedBefore = resumed;
      const t = await tunnel(p);
      for (const path of ["/a", "/b", "/c", "/d"]) {
        const r = await requestOn(t, get(path));
        assert.equal(r.status, 200, r.body);
        assert.equal(JSON.parse(r.body).url, path);
      }
      t.destroy();
      assert.ok(resumed > resumedBefore, "new upstream connections resume the TLS session");
    });
  } finally {
    dropAfterResponse = false;
  }
});

test("idle upstream connections are closed after the idle timeout; close() ends the rest", async () => {
  await withProxy(1500, async (p) => {
    const t = await tunnel(p);
    const open = accepted - closed;
    assert.equal((await requestOn(t, get("/idle"))).status, 200);
    assert.equal(accepted - closed, open + 1);
    // Keep the client tunnel busy-free but open: only the pooled upstream socket idles out.
    await until("the idle upstream socket to close", () => accepted - closed === open);
    t.destroy();
  });
  await withProxy(60_000, async (p) => {
    const t = await tunnel(p);
    const open = accepted - closed;
    assert.equal((await requestOn(t, get("/kept"))).status, 200);
    assert.equal(accepted - closed, open + 1);
    t.destroy();
    await p.close();
    await until("close() to end the pooled socket", () => accepted - closed === open);
  });
});
