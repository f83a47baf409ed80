// The upstream HTTP/1.1 exchange (src/proxy/exchange.ts) through the real proxy: every response
// framing reaches the client intact (checked by curl's own parser), a hostile upstream gets a
// 502 rather than a guess, pooled connections are reused only when that is safe, and a stale
// one is retried for safe requests.
import assert from "node:assert/strict";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { createServer as createTlsServer, type Server, type TLSSocket } from "node:tls";
import { createSandboxCA, LeafCache, type SandboxCA } from "../../src/proxy/ca.ts";
import {
  connectTunnel,
  curl,
  policyFrom,
  readAll,
  requestOn,
  startProxy,
  startTlsUpstream,
  type TestProxy,
  tlsOverTunnel,
  type Upstream,
} from "./helpers.ts";

const POLICY = policyFrom(`
version: 1
network_policies:
  raw:
    endpoints:
      - { host: raw.example.com, port: 443, protocol: rest, access: read-write }
      - { host: node.example.com, port: 443, protocol: rest, access: read-write }
      - { host: plain.example.com, port: 80, protocol: rest, access: read-only }
    binaries:
      - path: /usr/bin/curl
`);

/** Canned answers of the hand-rolled upstream, by request path. */
const ANSWERS: Record<string, string> = {
  "/chunked":
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
  "/head": "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Kind: head\r\n\r\n",
  "/204": "HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n",
  "/304": 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n',
  "/interim":
    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter",
  "/garbage": "SPDY/9 whatever\r\n\r\n",
  "/cl-te": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "/extra": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokSURPRISE",
};

let rawCa: SandboxCA;
let raw: Server;
let rawPort = 0;
/** The same hand-rolled upstream over plain TCP, for the forward proxy (absolute-form http://). */
let plain: NetServer;
let plainPort = 0;
/** Upstream TLS connections accepted by the hand-rolled upstream, and the requests it saw. */
let accepted = 0;
let closed = 0;
const rawSeen: string[] = [];
let node: Upstream;
/** A fresh proxy (so a fresh upstream pool) per test. */
let p: TestProxy;

/** Answers each request head on a connection; bodies are not expected here. */
function serveRaw(socket: Socket): void {
  accepted++;
  socket.once("close", () => closed++);
  let served = 0;
  let buf = "";
  socket.on("error", () => socket.destroy());
  socket.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    for (let end = buf.indexOf("\r\n\r\n"); end !== -1; end = buf.indexOf("\r\n\r\n")) {
      const head = buf.slice(0, end);
      const [method, path = ""] = (head.split("\r\n")[0] as string).split(" ");
      buf = buf.slice(end + 4);
      served++;
      rawSeen.push(`${method} ${path}`);
      if (path === "/close-delimited") {
        socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the upstream closes");
      } else if (path === "/drop-reused" && served > 1) {
        // A connection the upstream gave up on: the request finds it dead (a stale pooled socket).
        socket.destroy();
      } else if (path === "/bytes") {
        // Echoes the bytes of the X-Bytes request header, and sends non-ASCII bytes back in one.
        const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith("x-bytes:")) ?? "";
        const body = Buffer.from(line.slice(8).trim(), "latin1").toString("hex");
        socket.write(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-Name: caf`, "latin1"),
            Buffer.from("é\r\n\r\n", "utf8"),
            Buffer.from(body, "latin1"),
          ]),
        );
      } else if (path === "/hang") {
        // Never answers: the client gives up first.
      } else if (ANSWERS[path] !== undefined) {
        socket.write(ANSWERS[path] as string);
      } else {
        const body = JSON.stringify({ method, path, served });
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      }
    }
  });
}

before(async () => {
  rawCa = await createSandboxCA("exchange-upstream");
  const { cert, key } = await new LeafCache(rawCa).mintPem("raw.example.com", []);
  raw = createTlsServer({ cert, key }, serveRaw);
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  rawPort = (raw.address() as { port: number }).port;
  plain = createNetServer(serveRaw);
  await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
  plainPort = (plain.address() as { port: number }).port;
  node = await startTlsUpstream(["node.example.com"]);
});

beforeEach(async () => {
  p = await startProxy(POLICY, {
    connectTo: [
      `raw.example.com:443:127.0.0.1:${rawPort}`,
      `node.example.com:443:127.0.0.1:${node.port}`,
      `plain.example.com:80:127.0.0.1:${plainPort}`,
    ],
    upstreamCAs: [rawCa.certPem, node.ca.certPem],
  });
});

afterEach(async () => {
  await p.close();
});

after(async () => {
  await node.close();
  await new Promise<void>((r) => raw.close(() => r()));
  await new Promise<void>((r) => plain.close(() => r()));
});

async function tunnel(host: string): Promise<TLSSocket> {
  const t = await connectTunnel(p.port, `${host}:443`);
  assert.equal(t.status, 200);
  return tlsOverTunnel(t.socket, host, p.ca.certPem);
}

const curlVia = (args: string[]) => curl(p.port, ["--cacert", p.caFile, ...args]);
const get = (path: string, method = "GET") => `${method} ${path} HTTP/1.1\r\nHost: raw.example.com\r\n\r\n`;

test("a chunked response (extensions, trailers) reaches the client whole", async () => {
  const r = await curlVia(["https://raw.example.com/chunked"]);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, "hello world");
  assert.doesNotMatch(r.headers, /X-Trailer/i);
});

test("HEAD, 204 and 304 responses carry their headers and no body", async () => {
  const head = await curlVia(["-I", "https://raw.example.com/head"]);
  assert.equal(head.status, 200);
  assert.match(head.headers, /content-length: 1234/i);
  assert.match(head.headers, /x-kind: head/i);
  const noContent = await curlVia(["https://raw.example.com/204"]);
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body, "");
  assert.match(noContent.headers, /x-kind: 204/i);
  const notModified = await curlVia(["https://raw.example.com/304"]);
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body, "");
  assert.match(notModified.headers, /etag: "v1"/i);
});

test("a close-delimited response is streamed until the upstream closes, and that socket is not reused", async () => {
  const before = accepted;
  const r = await curlVia(["https://raw.example.com/close-delimited", "https://raw.example.com/after"]);
  assert.equal(r.status, 200);
  assert.match(r.body, /^until the upstream closes\n200\{"method":"GET","path":"\/after","served":1\}$/);
  assert.equal(accepted - before, 2, "the second request needed a new upstream connection");
});

test("interim 1xx responses are skipped", async () => {
  const r = await curlVia(["https://raw.example.com/interim"]);
  assert.equal(r.status, 200);
  assert.equal(r.body, "after");
});

test("two client requests on one tunnel reuse one upstream connection", async () => {
  const before = accepted;
  const r = await curlVia(["https://raw.example.com/one", "https://raw.example.com/two"]);
  assert.equal(r.status, 200);
  assert.match(r.body, /"path":"\/one","served":1\}\n200\{"method":"GET","path":"\/two","served":2\}$/);
  assert.equal(accepted - before, 1);
});

test("garbage, or Content-Length with Transfer-Encoding, from the upstream is a 502", async () => {
  for (const path of ["/garbage", "/cl-te"]) {
    const t = await tunnel("raw.example.com");
    const r = await requestOn(t, get(path));
    assert.equal(r.status, 502, path);
    const body = JSON.parse(r.body);
    assert.equal(body.error, "upstream_unreachable");
    assert.match(body.detail, /raw\.example\.com:443 .*invalid response/);
    t.destroy();
  }
});

test("bytes beyond the framed response: the client gets the response, the socket is dropped", async () => {
  const t = await tunnel("raw.example.com");
  const before = accepted;
  const first = await requestOn(t, get("/extra"));
  assert.equal(first.status, 200);
  assert.equal(first.body, "ok");
  const second = await requestOn(t, get("/next"));
  assert.equal(second.status, 200);
  assert.equal(JSON.parse(second.body).served, 1, "served on a fresh upstream connection");
  assert.equal(accepted - before, 2);
  t.destroy();
});

test("a stale pooled socket is retried once for a safe request", async () => {
  const t = await tunnel("raw.example.com");
  const before = accepted;
  assert.equal((await requestOn(t, get("/warm"))).status, 200);
  const retried = await requestOn(t, get("/drop-reused"));
  assert.equal(retried.status, 200, retried.body);
  assert.equal(JSON.parse(retried.body).served, 1, "answered by a fresh connection");
  assert.equal(accepted - before, 2);
  t.destroy();
});

test("an unsafe request on a stale pooled socket is not retried: 502", async () => {
  const t = await tunnel("raw.example.com");
  assert.equal((await requestOn(t, get("/warm"))).status, 200);
  const r = await requestOn(
    t,
    "POST /drop-reused HTTP/1.1\r\nHost: raw.example.com\r\nContent-Length: 0\r\n\r\n",
  );
  assert.equal(r.status, 502);
  assert.equal(JSON.parse(r.body).error, "upstream_unreachable");
  t.destroy();
});

test("a chunked upload is re-chunked upstream; a Content-Length upload keeps its length", async () => {
  const t = await tunnel("node.example.com");
  const chunked = await requestOn(
    t,
    "POST /upload HTTP/1.1\r\nHost: node.example.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n",
  );
  assert.equal(chunked.status, 200, chunked.body);
  assert.deepEqual(JSON.parse(chunked.body), {
    method: "POST",
    url: "/upload",
    host: "node.example.com",
    bytes: 12,
  });
  const sized = await requestOn(
    t,
    "PUT /upload HTTP/1.1\r\nHost: node.example.com\r\nContent-Length: 4\r\n\r\nabcd",
  );
  assert.equal(JSON.parse(sized.body).bytes, 4);
  t.destroy();
});

test("a denied request pipelined between allowed ones gets its 403 in order", async () => {
  const t = await tunnel("raw.example.com");
  t.write(get("/first") + get("/secret", "DELETE") + get("/third"));
  const text = await readAll(t as unknown as Socket);
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses.slice(0, 2), [200, 403], text);
  assert.ok(text.indexOf('"path":"/first"') < text.indexOf("policy_denied"), "the 200's body comes first");
  assert.ok(rawSeen.includes("GET /first"));
  assert.ok(!rawSeen.includes("DELETE /secret"), "the denied request never reached the upstream");
});

test("a client that goes away mid-exchange ends the upstream connection", async () => {
  const t = await tunnel("raw.example.com");
  const before = { accepted, closed };
  t.write(get("/hang"));
  const deadline = Date.now() + 5000;
  while (!rawSeen.includes("GET /hang")) {
    assert.ok(Date.now() < deadline, "the upstream never saw the request");
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(accepted - before.accepted, 1);
  t.destroy();
  while (closed - before.closed < 1) {
    assert.ok(Date.now() < deadline, "the upstream connection was left open");
    await new Promise((r) => setTimeout(r, 10));
  }
});

test("forward proxy (http://): the same exchange, chunked response decoded, upstream connection reused", async () => {
  const before = accepted;
  const r = await curl(p.port, ["http://plain.example.com/chunked", "http://plain.example.com/again"]);
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /^hello world\n200\{"method":"GET","path":"\/again","served":2\}$/);
  assert.equal(accepted - before, 1);
});

test("header bytes beyond ASCII pass unchanged both ways", async () => {
  const t = await tunnel("raw.example.com");
  // requestOn writes UTF-8: "é" is the two bytes c3 a9 on the wire.
  const r = await requestOn(t, "GET /bytes HTTP/1.1\r\nHost: raw.example.com\r\nX-Bytes: café\r\n\r\n");
  assert.equal(r.status, 200);
  assert.equal(r.body, Buffer.from("café", "utf8").toString("hex"));
  // requestOn decodes the head as UTF-8: the upstream's c3 a9 arrived as they were sent.
  assert.equal(r.headers["x-name"], "café");
  t.destroy();
});
