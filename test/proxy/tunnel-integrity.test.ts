// The L4 tunnel reuses one read buffer per tunnel: bytes must arrive intact and in order even
// when the client stops reading for a while (backpressure) and when the upstream talks first.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { connectTunnel, policyFrom, startProxy, type TestProxy } from "./helpers.ts";

const SIZE = 24 * 1024 * 1024;
const DATA = randomBytes(SIZE);
const DIGEST = createHash("sha256").update(DATA).digest("hex");

let upstream: Server;
let upstreamPort = 0;
let halfClose: Server;
let halfClosePort = 0;
let p: TestProxy;

before(async () => {
  // Sends DATA in uneven pieces (tiny and large, so reads of every size happen) as soon as a
  // client connects, then echoes whatever the client sends back.
  upstream = createServer((s: Socket) => {
    s.on("error", () => s.destroy());
    s.on("data", (d) => s.write(d));
    let offset = 0;
    let step = 0;
    const pump = () => {
      while (offset < SIZE) {
        const size = [1, 700, 65_536, 300_000, 4096][step++ % 5] as number;
        const piece = DATA.subarray(offset, offset + size);
        offset += piece.length;
        if (!s.write(piece)) return void s.once("drain", pump);
      }
    };
    pump();
  });
  upstreamPort = await new Promise<number>((r) =>
    upstream.listen(0, "127.0.0.1", () => r((upstream.address() as { port: number }).port)),
  );
  // Answers only after the client's FIN: the reply must still travel back through the tunnel.
  halfClose = createServer({ allowHalfOpen: true }, (s: Socket) => {
    let got = "";
    s.on("data", (d) => {
      got += d;
    });
    s.on("end", () => setTimeout(() => s.end(`echo:${got}`), 20));
  });
  halfClosePort = await new Promise<number>((r) =>
    halfClose.listen(0, "127.0.0.1", () => r((halfClose.address() as { port: number }).port)),
  );
  p = await startProxy(
    policyFrom(`
version: 1
network_policies:
  raw:
    endpoints:
      - { host: raw.example.com, port: 7000 }
      - { host: half.example.com, port: 7000 }
    binaries:
      - path: /usr/bin/curl
`),
    {
      connectTo: [
        `raw.example.com:7000:127.0.0.1:${upstreamPort}`,
        `half.example.com:7000:127.0.0.1:${halfClosePort}`,
      ],
    },
  );
});

after(async () => {
  await p.close();
  await new Promise<void>((r) => upstream.close(() => r()));
  await new Promise<void>((r) => halfClose.close(() => r()));
});

test("a client that half-closes after its request still gets the reply", { timeout: 20_000 }, async () => {
  const { status, socket } = await connectTunnel(p.port, "half.example.com:7000");
  assert.equal(status, 200);
  let reply = "";
  socket.on("data", (d: Buffer) => {
    reply += d;
  });
  const closed = new Promise((r) => socket.once("close", r));
  socket.end("hello");
  await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  assert.equal(reply, "echo:hello");
  socket.destroy();
});

test("a tunnel delivers every byte intact to a client that pauses (backpressure)", {
  timeout: 60_000,
}, async () => {
  const { status, socket, rest } = await connectTunnel(p.port, "raw.example.com:7000");
  assert.equal(status, 200);
  const got = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [rest];
    let length = rest.length;
    let pauses = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out after ${length} bytes`));
    }, 50_000);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      length += d.length;
      // Stop reading now and then so the proxy's writes to us back up.
      if (pauses < 20 && length > (pauses + 1) * (SIZE / 24)) {
        pauses++;
        socket.pause();
        setTimeout(() => socket.resume(), 30);
      }
      if (length >= SIZE) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on("error", reject);
  });
  assert.equal(got.length, SIZE);
  assert.equal(createHash("sha256").update(got).digest("hex"), DIGEST);
  // The other direction still works on the same tunnel.
  const echo = new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
  socket.write("ping");
  assert.equal(await echo, "ping");
  socket.destroy();
});
