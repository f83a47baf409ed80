// The upgrade mechanism (src/proxy/upgrade.ts) on real sockets, with an allowed upgrade decision
// passed in: the upstream gets the request head and not one byte more until it answered 101;
// any other answer is relayed and both connections close; a 101 that does not switch to
// websocket is a 502. And the verdict: only `websocket`, only GET, never on a rest endpoint.
import assert from "node:assert/strict";
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import {
  exchangeUpgrade,
  type UpgradeOutcome,
  upgradeRefusal,
  upgradeRequestHead,
} from "../../src/proxy/upgrade.ts";

/** A loopback upstream that records every byte and answers the head with `answer` (then echoes, if it switched). */
async function recordingUpstream(
  answer: string,
): Promise<{ server: Server; port: number; bytes: () => string }> {
  let received = Buffer.alloc(0);
  const server = createServer((socket) => {
    let answered = false;
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (!answered && received.includes("\r\n\r\n")) {
        answered = true;
        socket.write(answer);
        if (!answer.startsWith("HTTP/1.1 101")) socket.end();
        const after = received.subarray(received.indexOf("\r\n\r\n") + 4);
        if (after.length > 0) socket.write(after);
      } else if (answered && answer.startsWith("HTTP/1.1 101")) socket.write(d);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, bytes: () => received.toString("latin1") };
}

/** A connected client/proxy-side socket pair over loopback. */
async function socketPair(): Promise<{ client: Socket; proxySide: Socket; close: () => void }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  const client = netConnect((server.address() as AddressInfo).port, "127.0.0.1");
  const proxySide = await accepted;
  return { client, proxySide, close: () => server.close() };
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

const HEAD = upgradeRequestHead("GET", "/ws", "ws.example.com", [
  "Host",
  "ws.example.com",
  "Sec-WebSocket-Key",
  "k",
]);

async function run(answer: string, clientHead: string, later?: string) {
  const up = await recordingUpstream(answer);
  const pair = await socketPair();
  const upstream = await connected(up.port);
  let reply = "";
  pair.client.on("data", (d: Buffer) => {
    reply += d.toString("latin1");
  });
  const outcome = new Promise<UpgradeOutcome>((resolve) =>
    exchangeUpgrade({
      client: pair.proxySide,
      upstream,
      requestHead: HEAD,
      clientHead: Buffer.from(clientHead),
      maxHeadBytes: 32 * 1024,
      idleMs: 10_000,
      upstreamName: "ws.example.com:80",
      onEnd: resolve,
    }),
  );
  if (later) setTimeout(() => pair.client.write(later), 50);
  return { up, pair, outcome, reply: () => reply };
}

describe("upgrade mechanism", () => {
  test("a 200 is relayed, the connection closes, and the pipelined bytes never reach the upstream", async () => {
    const r = await run(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "DELETE /repos/o/r HTTP/1.1\r\nHost: ws.example.com\r\n\r\n",
      "PUT /more HTTP/1.1\r\n\r\n",
    );
    const outcome = await r.outcome;
    await new Promise((res) => r.pair.client.once("close", res));
    assert.deepEqual(outcome, {
      switched: false,
      status: 200,
      detail: "the upstream answered 200, not 101: not switched",
    });
    assert.match(r.reply(), /^HTTP\/1.1 200 OK\r\n/);
    assert.match(r.reply(), /Connection: close\r\n\r\nhello$/);
    assert.equal(r.up.bytes(), HEAD, "the upstream received the head and nothing else");
    r.up.server.close();
    r.pair.close();
  });

  test("after a 101 to websocket, held-back and later bytes flow both ways and are counted", async () => {
    const r = await run(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      "early-frame",
      "late-frame",
    );
    await new Promise<void>((res) => {
      const check = () => (r.reply().includes("late-frame") ? res() : setTimeout(check, 20));
      check();
    });
    assert.match(r.reply(), /^HTTP\/1.1 101 Switching Protocols\r\n/);
    assert.ok(
      r.reply().indexOf("early-frame") > r.reply().indexOf("\r\n\r\n"),
      "early bytes only after the 101",
    );
    assert.equal(r.up.bytes(), `${HEAD}early-framelate-frame`);
    r.pair.client.destroy();
    const outcome = await r.outcome;
    assert.deepEqual(outcome, { switched: true, bytesUp: 21, bytesDown: 21 });
    r.up.server.close();
    r.pair.close();
  });

  test("a 101 that switches to something else is a 502, and nothing more is forwarded", async () => {
    const r = await run(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
      "PRI * x",
    );
    const outcome = await r.outcome;
    await new Promise((res) => r.pair.client.once("close", res));
    assert.equal(outcome.switched, false);
    assert.match(r.reply(), /^HTTP\/1.1 502 /);
    assert.equal(r.up.bytes(), HEAD);
    r.up.server.close();
    r.pair.close();
  });
});

describe("upgrade verdict", () => {
  const l4 = { layer: "l4" as const };
  const l7 = { layer: "l7" as const };
  const ws = ["Host", "h", "Connection", "Upgrade", "Upgrade", "websocket"];
  test("websocket on an L4 endpoint is allowed; on a rest endpoint it is refused and says why", () => {
    assert.equal(upgradeRefusal("GET", ws, l4), null);
    assert.match(upgradeRefusal("GET", ws, l7) ?? "", /protocol: rest endpoint does not grant it/);
  });
  test("h2c, other tokens, several tokens, non-GET and bodies are refused", () => {
    const up = (v: string) => ["Host", "h", "Upgrade", v];
    assert.match(upgradeRefusal("GET", up("h2c"), l4) ?? "", /"h2c" refused/);
    assert.match(upgradeRefusal("GET", up("websocket, h2c"), l4) ?? "", /only a WebSocket upgrade/);
    assert.match(upgradeRefusal("GET", [...up("websocket"), "Upgrade", "h2c"], l4) ?? "", /only/);
    assert.match(upgradeRefusal("GET", up("TLS/1.0"), l4) ?? "", /"tls\/1.0" refused/);
    assert.match(upgradeRefusal("POST", up("websocket"), l4) ?? "", /is a GET/);
    assert.match(upgradeRefusal("GET", [...up("websocket"), "Content-Length", "5"], l4) ?? "", /no body/);
  });
  test("the head sent upstream carries the decided Host, one canonical upgrade and no client Connection header", () => {
    const head = upgradeRequestHead("GET", "/ws", "h.example", [
      "Host",
      "H.Example.",
      "Connection",
      "Upgrade, X-Secret",
      "Upgrade",
      "websocket",
      "X-Secret",
      "s",
    ]);
    assert.equal(
      head,
      "GET /ws HTTP/1.1\r\nHost: h.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
  });
});
