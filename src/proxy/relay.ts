// Moving bytes: a decided request streamed to the pinned upstream (pooled, verified TLS, one
// hand-written HTTP/1.1 exchange: exchange.ts), a WebSocket upgrade, and raw splicing of
// tunnels. Bodies stream both ways, never buffered whole.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import type { ProxyCore } from "./core.ts";
import { errorResponse, rawResponse } from "./deny.ts";
import { requestHead, startExchange } from "./exchange.ts";
import type { UpstreamTarget } from "./pool.ts";
import { forwardableHeaders } from "./upstream.ts";

export interface Destination {
  scheme: "http" | "https";
  /** The name the client asked for: TLS servername and certificate identity. */
  host: string;
  port: number;
  /** The pinned address and port actually dialled. */
  address: string;
  addressPort: number;
}

/** Computed once per destination object (an inspected tunnel reuses its destination for every request). */
const targetOf = new WeakMap<Destination, UpstreamTarget>();

function upstreamTarget(core: ProxyCore, dest: Destination): UpstreamTarget {
  let target = targetOf.get(dest);
  if (!target) {
    const servername = isIP(dest.host) ? undefined : dest.host;
    target = {
      // The verified name is part of the key: a socket checked for one name never serves another.
      key: `${dest.address}|${dest.addressPort}|${servername ?? ""}|${dest.scheme === "https" ? dest.host : ""}`,
      host: dest.address,
      port: dest.addressPort,
      tls:
        dest.scheme === "https"
          ? {
              servername,
              secureContext: core.trust,
              // Verify against the name asked for, whatever address it was pinned to.
              checkServerIdentity: (_name, cert) => checkServerIdentity(dest.host, cert),
            }
          : undefined,
    };
    targetOf.set(dest, target);
  }
  return target;
}

/**
 * Streams the request to the upstream and the response back. A safe, body-less request that
 * fails on a reused pooled socket (the upstream closed it while idle) is retried once on a
 * fresh one; anything else that fails before a response becomes 502 upstream_unreachable.
 */
export function relayRequest(
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  dest: Destination,
  path: string,
): void {
  const method = req.method ?? "GET";
  const transferEncoding = req.headers["transfer-encoding"];
  const length = req.headers["content-length"];
  startExchange({
    req,
    res,
    pool: dest.scheme === "https" ? core.pools.https : core.pools.http,
    target: upstreamTarget(core, dest),
    // llhttp accepts a request Transfer-Encoding only when chunked is its last coding.
    head: requestHead(method, path, req.rawHeaders, transferEncoding),
    body:
      transferEncoding !== undefined ? "chunked" : length === undefined || length === "0" ? "none" : "length",
    headRequest: method === "HEAD",
    maxHeadBytes: core.limits.maxHeaderBytes,
    upstream: dest,
  });
}

/** Opens the upstream for an upgrade, replays the request head, then splices both ways. */
export function relayUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  dest: Destination,
  path: string,
): void {
  const onReady = () => {
    const headers = forwardableHeaders(req.rawHeaders, true);
    let requestHead = `${req.method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`;
    // latin1: header bytes beyond ASCII go out as llhttp received them.
    upstream.write(`${requestHead}\r\n`, "latin1");
    splice(client, upstream, head, core.limits.idleTimeoutMs);
  };
  const { host, port, tls } = upstreamTarget(core, dest);
  const upstream: Socket = tls
    ? tlsConnect({ host, port, ...tls }, onReady)
    : netConnect({ host, port }, onReady);
  upstream.once("error", (err) => {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    if (client.writable) {
      client.end(rawResponse(errorResponse("upstream_unreachable", `${dest.host}:${dest.port}: ${code}`)));
    }
  });
}

/** Raw bytes both ways until either side ends, errors or idles. */
export function splice(
  client: Socket,
  upstream: Socket,
  head: Buffer,
  idleMs: number,
  upstreamOnread = false,
): void {
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  if (head.length > 0) upstream.write(head);
  if (upstreamOnread) {
    // A raw tunnel carries each direction on its own: a client that half-closes after its request
    // (FIN) still gets the upstream's reply, and the other way round.
    client.allowHalfOpen = true;
    upstream.allowHalfOpen = true;
  }
  client.pipe(upstream);
  // An `onread` upstream already writes to the client itself; it only needs its end passed on.
  if (upstreamOnread) upstream.once("end", () => client.end());
  else upstream.pipe(client);
  for (const s of [client, upstream]) {
    s.on("error", close);
    s.on("close", close);
    s.setTimeout(idleMs, close);
  }
}
