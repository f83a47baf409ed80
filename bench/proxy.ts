// bench/proxy: the egress proxy against a direct connection and against the peer
// (@anthropic-ai/sandbox-runtime's HTTP proxy), side by side in one run, loopback only.
//
//   npx tsx bench/proxy.ts [--quick] [--no-peer]
//     [--only=http_new,https_l4_new,https_l4_ka,https_l7_ka,https_l7_floor,tunnel_mbps]
//
// Profiling: AIRLOCK_BENCH_PROF=<dir> runs the proxies' child with --cpu-prof into <dir>.
//
// Three processes so no two parties share an event loop: this one is the client; a child runs
// the upstream servers; another child runs the proxies (ours and the peer's). Workloads:
//   http_new      new-connection HTTP request (forward proxy, absolute-form)
//   https_l4_new  new-connection HTTPS request through a CONNECT tunnel (L4, spliced)
//   https_l4_ka   keep-alive HTTPS request through a CONNECT tunnel (reference: one more hop, no target)
//   https_l7_ka   keep-alive HTTPS request through TLS termination (L7, every request decided)
//   https_l7_floor  reference, no target: the same requests through a relay in the proxies' child
//                 that terminates TLS like ours and only decrypts and re-encrypts raw bytes (no
//                 HTTP, no policy, one upstream connection per client): the floor of any L7
//                 design in Node, timed in the same rounds as https_l7_ka
//   tunnel_mbps   raw throughput through a CONNECT tunnel
// Figures: p50/p99 latency (ms) and each p50 as a ratio against direct; MB/s and ratio.
import { fork } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket, connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";

const HTTPS_HOST = "api.bench.test";
const TUNNEL_HOST = "tunnel.bench.test";
const HTTP_HOST = "http.bench.test";
const RAW_HOST = "raw.bench.test";
const QUICK = process.argv.includes("--quick");
const N_NEW = QUICK ? 60 : 300;
const N_KA = QUICK ? 300 : 2000;
const TUNNEL_MB = QUICK ? 64 : 256;
const TUNNEL_ROUNDS = 5;
const BODY = Buffer.alloc(1024, "a");
const ONLY = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const runs = (workload: string) => !ONLY || ONLY.includes(workload);
const PROF_DIR = process.env.AIRLOCK_BENCH_PROF;
const NO_PEER = process.argv.includes("--no-peer");

interface UpstreamPorts {
  http: number;
  https: number;
  raw: number;
  caPem: string;
}
interface ProxyPorts {
  ours: number;
  /** The TLS-terminating raw relay (https_l7_floor); it presents a leaf from oursCaPem. */
  floor: number;
  peer: number | null;
  peerL7: number | null;
  peerError?: string;
  oursCaPem: string;
  peerCaPem?: string;
}

// ---------------------------------------------------------------- child: upstream servers
async function serveUpstream(): Promise<void> {
  const { createSandboxCA, LeafCache } = await import("../src/proxy/ca.ts");
  const ca = await createSandboxCA("bench-upstream");
  const { cert, key } = await new LeafCache(ca).mintPem(HTTPS_HOST, [TUNNEL_HOST, "127.0.0.1"]);
  const handler = (_req: unknown, res: import("node:http").ServerResponse) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(BODY.length) });
    res.end(BODY);
  };
  const http = createHttpServer(handler);
  http.keepAliveTimeout = 60_000;
  const https = createHttpsServer({ cert, key }, handler);
  https.keepAliveTimeout = 60_000;
  const chunk = Buffer.alloc(256 * 1024);
  const raw = createNetServer((s) => {
    s.on("error", () => s.destroy());
    s.once("data", (d) => {
      let left = Number(d.toString().trim()) * 1024 * 1024;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
        s.end();
      };
      pump();
    });
  });
  const listen = (srv: import("node:net").Server) =>
    new Promise<number>((r) => srv.listen(0, "127.0.0.1", () => r((srv.address() as { port: number }).port)));
  const ports: UpstreamPorts = {
    http: await listen(http),
    https: await listen(https),
    raw: await listen(raw),
    caPem: ca.certPem,
  };
  process.send?.(ports);
}

// ---------------------------------------------------------------- child: proxies
async function serveProxies(up: UpstreamPorts): Promise<void> {
  const { loadPolicyText } = await import("../src/policy/load.ts");
  const { createSandboxCA } = await import("../src/proxy/ca.ts");
  const { EgressProxy } = await import("../src/proxy/proxy.ts");
  const { AuditLog } = await import("../src/audit/writer.ts");
  const policyText = `
version: 1
network_policies:
  bench_api:
    endpoints:
      - { host: ${HTTPS_HOST}, port: ${up.https}, protocol: rest, access: full }
      - { host: ${TUNNEL_HOST}, port: ${up.https} }
      - { host: ${HTTP_HOST}, port: ${up.http} }
      - { host: ${RAW_HOST}, port: ${up.raw} }
    binaries: [{ path: /usr/bin/bench }]
`;
  const loaded = loadPolicyText(policyText, "bench.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const ca = await createSandboxCA("bench");
  const audit = new AuditLog(join(tmpdir(), `airlock-bench-${process.pid}`));
  const ours = new EgressProxy({
    policy: loaded.value,
    ca,
    fixedIdentity: { binary: "/usr/bin/bench" },
    connectTo: [
      `${HTTPS_HOST}:${up.https}:127.0.0.1:${up.https}`,
      `${TUNNEL_HOST}:${up.https}:127.0.0.1:${up.https}`,
      `${HTTP_HOST}:${up.http}:127.0.0.1:${up.http}`,
      `${RAW_HOST}:${up.raw}:127.0.0.1:${up.raw}`,
    ],
    upstreamCAs: [up.caPem],
    audit,
  });
  const ports: ProxyPorts = {
    ours: (await ours.listen(0, "127.0.0.1")).port,
    floor: await serveTlsFloor(ca, up),
    peer: null,
    peerL7: null,
    oursCaPem: ca.certPem,
  };
  try {
    if (NO_PEER) throw new Error("left out (--no-peer)");
    // The peer: its standalone HTTP proxy module, allow-all filter, names pinned to loopback.
    const base = "@anthropic-ai/sandbox-runtime/dist/sandbox";
    const { createHttpProxyServer } = await import(`${base}/http-proxy.js`);
    const { createMitmCA } = await import(`${base}/mitm-ca.js`);
    const lookup = (_h: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      opts?.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
    const common = { filter: () => true, lookupFor: () => lookup };
    const listen = (srv: import("node:net").Server) =>
      new Promise<number>((r) =>
        srv.listen(0, "127.0.0.1", () => r((srv.address() as { port: number }).port)),
      );
    ports.peer = await listen(createHttpProxyServer(common));
    const mitm = createMitmCA({});
    ports.peerL7 = await listen(
      createHttpProxyServer({ ...common, mitmCA: mitm, tlsTerminateUpstreamCA: up.caPem }),
    );
    ports.peerCaPem = mitm.certPem;
  } catch (err) {
    ports.peerError = (err as Error).message.split("\n")[0];
  }
  process.send?.(ports);
}

/**
 * The https_l7_floor relay: answers CONNECT with 200, terminates TLS with a leaf from the same
 * CA and the same socket layering as ours (connect.ts), opens one verified TLS connection to the
 * upstream and pipes bytes both ways: TLS termination in Node with nothing else on top.
 */
async function serveTlsFloor(ca: import("../src/proxy/ca.ts").SandboxCA, up: UpstreamPorts): Promise<number> {
  const { LeafCache } = await import("../src/proxy/ca.ts");
  const context = await new LeafCache(ca).context(HTTPS_HOST);
  const server = createNetServer((socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    let head = "";
    const onHead = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onHead);
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      const client = new TLSSocket(socket, {
        isServer: true,
        secureContext: context,
        ALPNProtocols: ["http/1.1"],
      });
      const upstream = tlsConnect({
        host: "127.0.0.1",
        port: up.https,
        servername: HTTPS_HOST,
        ca: up.caPem,
      });
      upstream.setNoDelay(true);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) s.on("error", close);
    };
    socket.on("data", onHead);
  });
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => r((server.address() as { port: number }).port)),
  );
}

// ---------------------------------------------------------------- client
function once<T>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once(event, resolve as (v: unknown) => void);
    socket.once("error", reject);
  });
}

function dial(port: number): Promise<Socket> {
  const s = netConnect(port, "127.0.0.1");
  s.setNoDelay(true);
  return once<void>(s, "connect").then(() => s);
}

/** Reads exactly one HTTP response with Content-Length (the upstream always sends one). */
function readResponse(s: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString());
      const need = end + 4 + Number(m?.[1] ?? 0);
      if (buf.length < need) return;
      s.off("data", onData);
      s.off("error", reject);
      resolve(Number(buf.subarray(9, 12).toString()));
    };
    s.on("data", onData);
    s.once("error", reject);
  });
}

async function connectVia(proxyPort: number, authority: string): Promise<Socket> {
  const s = await dial(proxyPort);
  s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      if (!buf.includes("\r\n\r\n")) return;
      s.off("data", onData);
      resolve(buf);
    };
    s.on("data", onData);
    s.once("error", reject);
  });
  if (!head.startsWith("HTTP/1.1 200")) throw new Error(`CONNECT ${authority}: ${head.split("\r\n")[0]}`);
  return s;
}

function tlsOver(socket: Socket | null, port: number, servername: string, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const opts = socket ? { socket } : { host: "127.0.0.1", port };
    const t = tlsConnect({ ...opts, servername, ca, ALPNProtocols: ["http/1.1"] }, () => resolve(t));
    t.setNoDelay?.(true);
    t.once("error", reject);
  });
}

function get(host: string, path = "/", extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
}

/**
 * Runs each path's operation once per round, rotating the order, so every path sees the same
 * machine noise (this box may have few cores shared by three processes). Returns ms per path.
 * After each operation (untimed) `settle` waits until the children have finished the work a
 * request leaves behind (audit lines, pool bookkeeping): otherwise one path's leftovers would
 * run inside the next path's timing, on these few cores, and flatter whoever leaves the most.
 * Warm-up: a tenth of the rounds (at least 20), so every process's hot code is optimised.
 */
async function timeInterleaved(
  n: number,
  fns: Array<(() => Promise<void>) | null>,
  settle: () => Promise<void>,
): Promise<number[][]> {
  const live = fns
    .map((f, i) => [f, i] as const)
    .filter((x): x is readonly [() => Promise<void>, number] => !!x[0]);
  const out: number[][] = fns.map(() => []);
  for (let round = -Math.max(20, Math.floor(n / 10)); round < n; round++) {
    for (let k = 0; k < live.length; k++) {
      const [fn, index] = live[(k + Math.max(round, 0)) % live.length] as readonly [
        () => Promise<void>,
        number,
      ];
      const t0 = performance.now();
      await fn();
      if (round >= 0) out[index]?.push(performance.now() - t0);
      await settle();
    }
  }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

interface Row {
  workload: string;
  path: string;
  p50: number;
  p99: number;
  ratio: number | null;
  unit: string;
  note?: string;
}

/** Best MB/s over TUNNEL_ROUNDS downloads per path, the paths taking turns. */
async function throughput(opens: Array<(() => Promise<Socket>) | null>): Promise<Array<number | null>> {
  const best: Array<number | null> = opens.map((o) => (o ? 0 : null));
  for (let round = 0; round < TUNNEL_ROUNDS; round++) {
    for (const [i, open] of opens.entries()) {
      if (!open) continue;
      const s = await open();
      const t0 = performance.now();
      let bytes = 0;
      s.on("data", (d: Buffer) => {
        bytes += d.length;
      });
      s.write(`${TUNNEL_MB}\n`);
      await once(s, "end");
      const secs = (performance.now() - t0) / 1000;
      s.destroy();
      best[i] = Math.max(best[i] ?? 0, bytes / 1048576 / secs);
    }
  }
  return best;
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const child = (role: string, arg?: unknown) => {
    const c = fork(self, [role, ...process.argv.slice(2)], {
      execArgv: [
        "--import",
        "tsx",
        ...(PROF_DIR && role === "--proxies" ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`] : []),
      ],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = new Promise<unknown>((resolve, reject) => {
      c.once("message", resolve);
      c.once("exit", (code) => reject(new Error(`${role} exited ${code}`)));
    });
    if (arg !== undefined) c.send(arg as import("node:child_process").Serializable);
    return { c, ready };
  };
  const upstream = child("--upstream");
  const up = (await upstream.ready) as UpstreamPorts;
  const proxies = child("--proxies", up);
  const px = (await proxies.ready) as ProxyPorts;
  // A round trip through each child's event loop: answered once its pending work is done.
  const settle = () =>
    Promise.all(
      [upstream.c, proxies.c].map(
        (c) =>
          new Promise<void>((resolve) => {
            const onMessage = (m: unknown) => {
              if (m !== "synced") return;
              c.off("message", onMessage);
              resolve();
            };
            c.on("message", onMessage);
            c.send("sync");
          }),
      ),
    ).then(() => {});
  const rows: Row[] = [];
  const peerNote = px.peerError ? `n/a: ${px.peerError}` : undefined;

  try {
    // 1. new-connection HTTP request
    if (runs("http_new")) {
      const httpVia = (port: number) => async () => {
        const s = await dial(port);
        s.write(
          `GET http://${HTTP_HOST}:${up.http}/ HTTP/1.1\r\nHost: ${HTTP_HOST}:${up.http}\r\nConnection: close\r\n\r\n`,
        );
        const status = await readResponse(s);
        if (status !== 200) throw new Error(`http via proxy: ${status}`);
        s.destroy();
      };
      const [httpDirect, httpOurs, httpPeer] = await timeInterleaved(
        N_NEW,
        [
          async () => {
            const s = await dial(up.http);
            s.write(get(`127.0.0.1:${up.http}`, "/", "Connection: close\r\n"));
            await readResponse(s);
            s.destroy();
          },
          httpVia(px.ours),
          px.peer ? httpVia(px.peer) : null,
        ],
        settle,
      );
      add(rows, "http_new", httpDirect, httpOurs, px.peer ? httpPeer : null, peerNote);
    }

    // 2. new-connection HTTPS through the L4 tunnel
    if (runs("https_l4_new")) {
      const httpsVia = (port: number) => async () => {
        const s = await connectVia(port, `${TUNNEL_HOST}:${up.https}`);
        const t = await tlsOver(s, 0, TUNNEL_HOST, up.caPem);
        t.write(get(TUNNEL_HOST, "/", "Connection: close\r\n"));
        await readResponse(t);
        t.destroy();
      };
      const [httpsDirect, httpsOurs, httpsPeer] = await timeInterleaved(
        N_NEW,
        [
          async () => {
            const t = await tlsOver(null, up.https, TUNNEL_HOST, up.caPem);
            t.write(get(TUNNEL_HOST, "/", "Connection: close\r\n"));
            await readResponse(t);
            t.destroy();
          },
          httpsVia(px.ours),
          px.peer ? httpsVia(px.peer) : null,
        ],
        settle,
      );
      add(rows, "https_l4_new", httpsDirect, httpsOurs, px.peer ? httpsPeer : null, peerNote);
    }

    // 2b. reference, no target: keep-alive HTTPS request through the L4 tunnel (spliced bytes).
    // The cost of one more process on the path with nothing decided; the floor under https_l7_ka.
    if (runs("https_l4_ka")) {
      const kaOn = (t: TLSSocket) => async () => {
        t.write(get(TUNNEL_HOST, "/repos/o/r"));
        const status = await readResponse(t);
        if (status !== 200) throw new Error(`keep-alive request: ${status}`);
      };
      const direct = await tlsOver(null, up.https, TUNNEL_HOST, up.caPem);
      const via = async (port: number) =>
        tlsOver(await connectVia(port, `${TUNNEL_HOST}:${up.https}`), 0, TUNNEL_HOST, up.caPem);
      const ours = await via(px.ours);
      const peer = px.peer ? await via(px.peer) : null;
      const [kaDirect, kaOurs, kaPeer] = await timeInterleaved(
        N_KA,
        [kaOn(direct), kaOn(ours), peer ? kaOn(peer) : null],
        settle,
      );
      for (const t of [direct, ours, peer]) t?.destroy();
      add(rows, "https_l4_ka", kaDirect, kaOurs, peer ? kaPeer : null, peerNote);
    }

    // 3. keep-alive HTTPS request through L7 termination (one connection per path, reused), and
    // the TLS-termination floor (reference) in the same rounds.
    if (runs("https_l7_ka") || runs("https_l7_floor")) {
      const kaOn = (t: TLSSocket) => async () => {
        t.write(get(`${HTTPS_HOST}:${up.https}`, "/repos/o/r"));
        const status = await readResponse(t);
        if (status !== 200) throw new Error(`keep-alive request: ${status}`);
      };
      const kaDirectSock = await tlsOver(null, up.https, HTTPS_HOST, up.caPem);
      const kaVia = async (port: number, ca: string) =>
        tlsOver(await connectVia(port, `${HTTPS_HOST}:${up.https}`), 0, HTTPS_HOST, ca);
      const withL7 = runs("https_l7_ka");
      const kaOursSock = withL7 ? await kaVia(px.ours, px.oursCaPem) : null;
      const kaPeerSock = withL7 && px.peerL7 && px.peerCaPem ? await kaVia(px.peerL7, px.peerCaPem) : null;
      const kaFloorSock = runs("https_l7_floor") ? await kaVia(px.floor, px.oursCaPem) : null;
      const [kaDirect, kaOurs, kaPeer, kaFloor] = await timeInterleaved(
        N_KA,
        [
          kaOn(kaDirectSock),
          kaOursSock ? kaOn(kaOursSock) : null,
          kaPeerSock ? kaOn(kaPeerSock) : null,
          kaFloorSock ? kaOn(kaFloorSock) : null,
        ],
        settle,
      );
      for (const t of [kaDirectSock, kaOursSock, kaPeerSock, kaFloorSock]) t?.destroy();
      if (withL7) add(rows, "https_l7_ka", kaDirect, kaOurs, kaPeerSock ? kaPeer : null, peerNote);
      if (kaFloor && kaDirect) {
        const d50 = pct(kaDirect, 50);
        if (!withL7)
          rows.push({
            workload: "https_l7_floor",
            path: "direct",
            p50: d50,
            p99: pct(kaDirect, 99),
            ratio: 1,
            unit: "ms",
          });
        rows.push({
          workload: "https_l7_floor",
          path: "tls-relay",
          p50: pct(kaFloor, 50),
          p99: pct(kaFloor, 99),
          ratio: pct(kaFloor, 50) / d50,
          unit: "ms",
          note: "reference: TLS termination alone, no HTTP",
        });
      }
    }

    // 4. tunnel throughput
    if (runs("tunnel_mbps")) {
      const [tpDirectOr, tpOursOr, tpPeer] = await throughput([
        () => dial(up.raw),
        () => connectVia(px.ours, `${RAW_HOST}:${up.raw}`),
        px.peer ? () => connectVia(px.peer as number, `${RAW_HOST}:${up.raw}`) : null,
      ]);
      const tpDirect = tpDirectOr as number;
      const tpOurs = tpOursOr as number;
      rows.push({
        workload: "tunnel_mbps",
        path: "direct",
        p50: tpDirect,
        p99: tpDirect,
        ratio: 1,
        unit: "MB/s",
      });
      rows.push({
        workload: "tunnel_mbps",
        path: "airlock",
        p50: tpOurs,
        p99: tpOurs,
        ratio: tpOurs / tpDirect,
        unit: "MB/s",
      });
      rows.push(
        tpPeer === null || tpPeer === undefined
          ? {
              workload: "tunnel_mbps",
              path: "sandbox-runtime",
              p50: 0,
              p99: 0,
              ratio: null,
              unit: "MB/s",
              note: peerNote,
            }
          : {
              workload: "tunnel_mbps",
              path: "sandbox-runtime",
              p50: tpPeer,
              p99: tpPeer,
              ratio: tpPeer / tpDirect,
              unit: "MB/s",
            },
      );
    }
  } finally {
    upstream.c.kill();
    // SIGTERM ends the children through process.exit, so a --cpu-prof profile is written.
    const exited = new Promise((r) => proxies.c.once("exit", r));
    proxies.c.kill();
    await exited;
  }

  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(3));
  console.log(
    `bench/proxy (loopback; N new=${N_NEW}, keep-alive=${N_KA}, tunnel=${TUNNEL_MB} MB x${TUNNEL_ROUNDS})`,
  );
  console.log("workload       path             p50        p99        ratio vs direct (p50; MB/s for tunnel)");
  for (const r of rows) {
    const ratio =
      r.ratio === null ? (r.note ?? "n/a") : `${r.ratio.toFixed(2)}x${r.note ? `  (${r.note})` : ""}`;
    const p =
      r.unit === "MB/s"
        ? `${fmt(r.p50)} MB/s`.padEnd(22)
        : `${fmt(r.p50)} ms`.padEnd(11) + `${fmt(r.p99)} ms`.padEnd(11);
    console.log(`${r.workload.padEnd(15)}${r.path.padEnd(17)}${p}${ratio}`);
  }
  const json: Record<string, unknown> = { bench: "proxy", quick: QUICK };
  for (const r of rows) {
    json[`${r.workload}.${r.path}`] =
      r.unit === "MB/s"
        ? { mbps: round(r.p50), ratio: r.ratio === null ? null : round(r.ratio) }
        : { p50_ms: round(r.p50), p99_ms: round(r.p99), ratio: r.ratio === null ? null : round(r.ratio) };
  }
  if (px.peerError) json.peer_error = px.peerError;
  console.log(JSON.stringify(json));
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function add(
  rows: Row[],
  workload: string,
  direct: number[] | undefined,
  ours: number[] | undefined,
  peer: number[] | null | undefined,
  note?: string,
) {
  if (!direct || !ours) throw new Error(`${workload}: no samples`);
  const d50 = pct(direct, 50);
  const row = (path: string, xs: number[]): Row => ({
    workload,
    path,
    p50: pct(xs, 50),
    p99: pct(xs, 99),
    ratio: pct(xs, 50) / d50,
    unit: "ms",
  });
  rows.push(row("direct", direct), row("airlock", ours));
  rows.push(
    peer
      ? row("sandbox-runtime", peer)
      : { workload, path: "sandbox-runtime", p50: 0, p99: 0, ratio: null, unit: "ms", note },
  );
}

// ---------------------------------------------------------------- entry
const role = process.argv[2];
if (role === "--upstream" || role === "--proxies") {
  // The client's settle(): answered after the work already queued in this event loop.
  process.on("message", (m) => {
    if (m === "sync") setImmediate(() => process.send?.("synced"));
  });
  process.once("SIGTERM", () => {
    if (process.env.AIRLOCK_BENCH_CPU) {
      const u = process.cpuUsage();
      console.error(`${role} cpu user=${u.user / 1000} ms sys=${u.system / 1000} ms`);
    }
    process.exit(0);
  });
}
if (role === "--upstream") {
  serveUpstream().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else if (role === "--proxies") {
  process.once("message", (up) => {
    serveProxies(up as UpstreamPorts).catch((err) => {
      console.error(err);
      process.exit(1);
    });
  });
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
