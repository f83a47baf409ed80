// Attack plumbing for the proxy: a loopback upstream that records every raw byte it receives
// (TLS or plain) before Node's own HTTP parser (llhttp) reads it, an `airlock run` wrapper whose
// sandbox reaches it through --connect-to/--upstream-ca, and a python3 client for crafted bytes
// over a CONNECT + TLS tunnel or to the forward proxy.
import { writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Server,
  type Socket,
} from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { createSandboxCA, LeafCache } from "../../src/proxy/ca.ts";
import { type CliRun, runCli } from "../sandbox/cli-helpers.ts";

export interface SeenRequest {
  method: string;
  url: string;
  /** Flat [name, value, ...] as llhttp parsed them. */
  rawHeaders: string[];
  body: string;
  httpVersion: string;
}

export interface RecordingUpstream {
  port: number;
  /** The upstream's CA certificate file (TLS upstreams). */
  caFile?: string;
  /** Every byte received, all connections, in arrival order per connection. */
  raw(): string;
  requests: SeenRequest[];
  /** Connections accepted (each one the proxy opened). */
  connections(): number;
  close(): Promise<void>;
}

/**
 * An upstream for `hosts` (TLS with its own CA when `tlsDir` is given, else plain HTTP). Every
 * request is answered 200 with a JSON echo; an upgrade to `/ws` is answered 101 websocket and
 * then echoed, any other upgrade request is answered 200 like a plain one.
 */
export async function recordingUpstream(hosts: string[], tlsDir?: string): Promise<RecordingUpstream> {
  const requests: SeenRequest[] = [];
  const http: HttpServer = createHttpServer((req, res) => {
    collect(req).then((body) => {
      requests.push(seen(req, body));
      const text = JSON.stringify({ method: req.method, url: req.url, body });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requests.push(seen(req, ""));
    if (req.url === "/ws") {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    } else {
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno switch");
    }
    socket.on("error", () => {});
  });
  http.on("clientError", (_err, socket) => socket.destroy());
  const chunks: Buffer[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  // Each connection: record the bytes, then hand them to the HTTP server over a fresh loopback pair.
  const onConnection = (socket: Socket) => {
    connections++;
    sockets.add(socket);
    const inner = netConnect((innerListener.address() as AddressInfo).port, "127.0.0.1");
    sockets.add(inner);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      inner.write(d);
    });
    inner.pipe(socket);
    const close = () => {
      socket.destroy();
      inner.destroy();
    };
    for (const s of [socket, inner]) {
      s.on("error", close);
      s.on("close", close);
    }
  };
  const innerListener: Server = createNetServer((s) => http.emit("connection", s));
  await new Promise<void>((r) => innerListener.listen(0, "127.0.0.1", r));
  let caFile: string | undefined;
  let outer: Server;
  if (tlsDir) {
    const ca = await createSandboxCA("recording-upstream");
    const { cert, key } = await new LeafCache(ca).mintPem(hosts[0] as string, hosts.slice(1));
    caFile = join(tlsDir, `upstream-ca-${hosts[0]}.pem`);
    writeFileSync(caFile, ca.certPem);
    outer = createTlsServer({ cert, key }, (s) => onConnection(s as unknown as Socket));
  } else outer = createNetServer(onConnection);
  outer.on("error", () => {});
  await new Promise<void>((r) => outer.listen(0, "127.0.0.1", r));
  return {
    port: (outer.address() as AddressInfo).port,
    caFile,
    raw: () => Buffer.concat(chunks).toString("latin1"),
    requests,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      http.closeAllConnections();
      await Promise.all([outer, innerListener].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

function collect(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => resolve(Buffer.concat(parts).toString("latin1")));
    req.on("error", () => resolve(Buffer.concat(parts).toString("latin1")));
  });
}

function seen(req: IncomingMessage, body: string): SeenRequest {
  return {
    method: req.method ?? "",
    url: req.url ?? "",
    rawHeaders: req.rawHeaders,
    body,
    httpVersion: req.httpVersion,
  };
}

/**
 * A python3 client run inside the sandbox: `cases` is a list of [name, mode, target, raw bytes]
 * where mode "tls" opens CONNECT target + TLS (the sandbox CA bundle) and "forward" talks to the
 * forward proxy. Each case on its own connection; prints one JSON line per case: its name and
 * everything the proxy answered (read until close or 3 s of silence).
 */
export const PY_CLIENT = String.raw`
import json, os, socket, ssl, sys
cases = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
ctx.set_alpn_protocols(["http/1.1"])
def read_all(s, first=b""):
    out = first
    s.settimeout(3)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ssl.SSLError, ConnectionResetError, OSError):
        pass
    return out
for c in cases:
    name, mode, target, data = c["name"], c["mode"], c["target"], c["data"].encode("latin-1")
    later = c.get("later", "").encode("latin-1")
    s = socket.create_connection(("127.0.0.1", 3128))
    try:
        if mode == "tls":
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(1)
                if not d:
                    break
                head += d
            if not head.startswith(b"HTTP/1.1 200"):
                print(json.dumps({"name": name, "reply": (head + read_all(s)).decode("latin-1")}), flush=True)
                continue
            s = ctx.wrap_socket(s, server_hostname=target.rsplit(":", 1)[0])
        s.sendall(data)
        if later:
            s.settimeout(3)
            first = b""
            try:
                while b"\r\n\r\n" not in first:
                    d = s.recv(65536)
                    if not d:
                        break
                    first += d
            except (socket.timeout, ssl.SSLError, OSError):
                pass
            try:
                s.sendall(later)
            except OSError:
                pass
            reply = read_all(s, first)
        else:
            reply = read_all(s)
        print(json.dumps({"name": name, "reply": reply.decode("latin-1")}), flush=True)
    finally:
        s.close()
`;

export interface RawCase {
  name: string;
  mode: "tls" | "forward";
  /** host:port for tls mode (the CONNECT target); ignored for forward. */
  target: string;
  data: string;
  /** Sent once the first response head arrived (after a 101: the new protocol's bytes). */
  later?: string;
}

export interface CaseReply {
  status: number;
  head: string;
  body: string;
  raw: string;
}

export function parseReply(raw: string): CaseReply {
  const end = raw.indexOf("\r\n\r\n");
  const head = end === -1 ? raw : raw.slice(0, end);
  return { status: Number(head.split(" ")[1] ?? 0), head, body: end === -1 ? "" : raw.slice(end + 4), raw };
}

/** The structured 403's JSON body (the first JSON object in the reply). */
export function denyBody(reply: CaseReply): { error: string; reason: string; method: string; path: string } {
  const start = reply.body.indexOf("{");
  return JSON.parse(reply.body.slice(start, reply.body.indexOf("\n", start)));
}

/**
 * `airlock run` options for a policy file whose names are pinned to recording upstreams on
 * loopback (`--connect-to NAME:PORT:127.0.0.1:UPSTREAM`), trusting `ca`'s certificate upstream.
 */
export function pinnedRunArgs(
  policy: string,
  pins: ReadonlyArray<readonly [host: string, port: number, upstream: RecordingUpstream]>,
  ca: RecordingUpstream,
): string[] {
  return [
    "--policy",
    policy,
    ...pins.flatMap(([host, port, up]) => ["--connect-to", `${host}:${port}:127.0.0.1:${up.port}`]),
    "--upstream-ca",
    ca.caFile as string,
  ];
}

export interface SandboxRun extends CliRun {
  replies: Map<string, CaseReply>;
}

/**
 * Runs the python client with `cases` inside one `airlock run` and collects its replies; `shell`
 * runs after it in the same sandbox (its output follows the JSON lines).
 */
export async function runCases(
  home: string,
  workdir: string,
  args: string[],
  cases: RawCase[],
  shell = "true",
  timeoutMs = 90_000,
): Promise<SandboxRun> {
  writeFileSync(join(workdir, "client.py"), PY_CLIENT);
  writeFileSync(join(workdir, "cases.json"), JSON.stringify(cases));
  const run = await runCli(
    [
      "run",
      ...args,
      "--workdir",
      workdir,
      "--",
      "/bin/sh",
      "-c",
      `/usr/bin/python3 client.py cases.json; ${shell}`,
    ],
    { airlockHome: home, timeoutMs },
  );
  const replies = new Map<string, CaseReply>();
  for (const line of run.stdout.split("\n")) {
    if (!line.startsWith('{"name": ')) continue;
    const { name, reply } = JSON.parse(line) as { name: string; reply: string };
    replies.set(name, parseReply(reply));
  }
  return { ...run, replies };
}
