// Test infrastructure for the proxy: a stand-in upstream (real TLS on loopback with its own CA),
// a proxy wired to it through connect-to, and clients (Debian curl, raw CONNECT + TLS from node).
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { AuditLog } from "../../src/audit/writer.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { createSandboxCA, LeafCache, type SandboxCA } from "../../src/proxy/ca.ts";
import { type DenialEvent, EgressProxy, type EgressProxyOptions } from "../../src/proxy/proxy.ts";

export { policyFrom } from "../policy/helpers.ts";

export function tempDir(prefix = "airlock-proxy-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function upstreamHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "/";
  if (url.startsWith("/download")) {
    const size = Number(new URLSearchParams(url.split("?")[1] ?? "").get("bytes") ?? "0");
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
    const chunk = Buffer.alloc(64 * 1024, 7);
    let left = size;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  let bytes = 0;
  req.on("data", (d: Buffer) => {
    bytes += d.length;
  });
  req.on("end", () => {
    const body = JSON.stringify({ method: req.method, url, host: req.headers.host ?? null, bytes });
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
    });
    res.end(body);
  });
}

export interface Upstream {
  port: number;
  ca: SandboxCA;
  close(): Promise<void>;
  /** Every request URL the upstream saw (to prove a denied request never arrived). */
  seen: string[];
}

/** A fake HTTPS server for `hosts` (one cert with each name) signed by its own CA. */
export async function startTlsUpstream(hosts: string[] = ["api.github.com"]): Promise<Upstream> {
  const ca = await createSandboxCA("upstream-test");
  const { cert, key } = await new LeafCache(ca).mintPem(hosts[0] as string, hosts.slice(1));
  const seen: string[] = [];
  const server = createHttpsServer({ cert, key }, (req, res) => {
    seen.push(req.url ?? "");
    upstreamHandler(req, res);
  });
  server.on("upgrade", (req, socket: Socket, head) => {
    seen.push(req.url ?? "");
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    ca,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A plain HTTP upstream (forward-proxy tests) and a raw TCP echo server (L4 tunnel tests). */
export async function startHttpUpstream(): Promise<Upstream & { server: Server }> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(req.url ?? "");
    upstreamHandler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    ca: undefined as unknown as SandboxCA,
    seen,
    server,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface TestProxy {
  proxy: EgressProxy;
  port: number;
  ca: SandboxCA;
  caFile: string;
  logDir: string;
  denials: DenialEvent[];
  close(): Promise<void>;
}

export async function startProxy(
  policy: Policy,
  options: Partial<EgressProxyOptions> & { logDir?: string } = {},
): Promise<TestProxy> {
  const ca = await createSandboxCA("test");
  const dir = tempDir();
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  const logDir = options.logDir ?? join(dir, "logs");
  const audit = new AuditLog(logDir);
  const denials: DenialEvent[] = [];
  const proxy = new EgressProxy({
    policy,
    ca,
    fixedIdentity: { binary: "/usr/bin/curl", pid: 4242 },
    audit,
    onDenial: (e) => denials.push(e),
    proposalsEnabled: () => true,
    ...options,
  });
  const { port } = await proxy.listen(0, "127.0.0.1");
  return {
    proxy,
    port,
    ca,
    caFile,
    logDir,
    denials,
    close: async () => {
      await proxy.close();
      audit.close();
    },
  };
}

export interface CurlResult {
  code: number;
  status: number;
  body: string;
  headers: string;
}

/** Runs Debian's curl through the proxy; status from -w, headers via -D. */
export function curl(proxyPort: number, args: string[], timeoutMs = 20_000): Promise<CurlResult> {
  const dir = tempDir("airlock-curl-");
  const headerFile = join(dir, "h");
  return new Promise((resolve) => {
    execFile(
      "/usr/bin/curl",
      [
        "-sS",
        "--proxy",
        `http://127.0.0.1:${proxyPort}`,
        "--noproxy",
        "",
        "-D",
        headerFile,
        "-w",
        "\n%{http_code}",
        "--max-time",
        String(Math.ceil(timeoutMs / 1000)),
        ...args,
      ],
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs + 2000,
        env: { PATH: process.env.PATH ?? "/usr/bin" },
      },
      (err, stdout) => {
        const text = String(stdout);
        const nl = text.lastIndexOf("\n");
        let headers = "";
        try {
          headers = fs.readFileSync(headerFile, "utf8");
        } catch {}
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          status: Number(text.slice(nl + 1)),
          body: text.slice(0, nl),
          headers,
        });
      },
    );
  });
}

/** Opens a CONNECT tunnel by hand; resolves with the proxy's status line and the socket. */
export function connectTunnel(
  proxyPort: number,
  authority: string,
  timeoutMs = 10_000,
): Promise<{ status: number; head: string; socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(proxyPort, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("CONNECT timed out"));
    }, timeoutMs);
    let buf: Buffer = Buffer.alloc(0);
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      clearTimeout(timer);
      const head = buf.subarray(0, end).toString();
      resolve({ status: Number(head.split(" ")[1]), head, socket, rest: buf.subarray(end + 4) });
    };
    socket.on("data", onData);
  });
}

/** Reads until the peer closes (bounded). */
export function readAll(
  socket: Socket,
  initial: Buffer = Buffer.alloc(0),
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve) => {
    let buf = initial;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(buf.toString());
    }, timeoutMs);
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
    });
    const done = () => {
      clearTimeout(timer);
      resolve(buf.toString());
    };
    socket.on("close", done);
    socket.on("end", done);
    socket.on("error", done);
  });
}

/** TLS over an open tunnel, trusting `caPem`, with the given SNI. */
export function tlsOverTunnel(socket: Socket, servername: string, caPem: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca: caPem, ALPNProtocols: ["http/1.1"] }, () =>
      resolve(tls),
    );
    tls.once("error", reject);
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one HTTP/1.1 request on a (keep-alive) socket and reads one Content-Length response. */
export function requestOn(socket: Socket, request: string, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error("response timed out")), timeoutMs);
    const finish = (err: Error | null, value?: RawResponse) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (err) reject(err);
      else resolve(value as RawResponse);
    };
    const onClose = () => finish(new Error(`closed before a full response: ${buf.toString()}`));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      const lines = buf.subarray(0, end).toString().split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? "0");
      if (buf.length < end + 4 + length) return;
      finish(null, {
        status: Number((lines[0] as string).split(" ")[1]),
        headers,
        body: buf.subarray(end + 4, end + 4 + length).toString(),
      });
    };
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.write(request);
  });
}
