// Moving bytes: a decided request streamed to the pinned upstream (pooled, verified TLS), a
// WebSocket upgrade, and raw splicing of tunnels. Bodies stream both ways, never buffered whole.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import type { ProxyCore } from "./core.ts";
import { errorResponse, rawResponse, sendResponse } from "./deny.ts";
import type { UpstreamPool } from "./pool.ts";
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

interface TlsOptions {
  servername?: string;
  /** The name the certificate was checked against: part of the pool key (pool.ts). */
  verifiedName: string;
  secureContext: import("node:tls").SecureContext;
  checkServerIdentity: (name: string, cert: Parameters<typeof checkServerIdentity>[1]) => Error | undefined;
}

/** Computed once per destination object (an inspected tunnel reuses its destination for every request). */
const tlsOptionsOf = new WeakMap<Destination, TlsOptions>();

function tlsOptions(core: ProxyCore, dest: Destination): TlsOptions {
  let options = tlsOptionsOf.get(dest);
  if (!options) {
    options = {
      ...(isIP(dest.host) ? {} : { servername: dest.host }),
      secureContext: core.trust,
      verifiedName: dest.host,
      // Verify against the name asked for, whatever address it was pinned to.
      checkServerIdentity: (_name, cert) => checkServerIdentity(dest.host, cert),
    };
    tlsOptionsOf.set(dest, options);
  }
  return options;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

type UpstreamOptions = import("node:https").RequestOptions;

/** Node accepts any object with addRequest() as `agent` (documented "Agent-like object"); the types want an Agent. */
function asAgent(pool: UpstreamPool): import("node:https").Agent {
  return pool as unknown as import("node:https").Agent;
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
  const length = req.headers["content-length"];
  const bodyless = req.headers["transfer-encoding"] === undefined && (length === undefined || length === "0");
  const retryable = bodyless && SAFE.has(req.method ?? "");
  const base = {
    host: dest.address,
    port: dest.addressPort,
    method: req.method,
    path,
    headers: forwardableHeaders(req.rawHeaders),
    setHost: false,
  };
  const options: UpstreamOptions =
    dest.scheme === "https"
      ? { ...base, ...tlsOptions(core, dest), agent: asAgent(core.pools.https) }
      : { ...base, agent: asAgent(core.pools.http) };
  if (bodyless) req.resume();
  attempt(req, res, dest, options, bodyless, retryable);
}

// Module-level functions rather than closures made per request: tsx (keepNames) gives every
// named closure its name with a defineProperty call each time one is created.
function attempt(
  req: IncomingMessage,
  res: ServerResponse,
  dest: Destination,
  options: UpstreamOptions,
  bodyless: boolean,
  mayRetry: boolean,
): void {
  const upReq = dest.scheme === "https" ? httpsRequest(options) : httpRequest(options);
  upReq.on("response", (upRes) => relayResponse(upRes, res));
  upReq.on("error", (err) => {
    if (mayRetry && upReq.reusedSocket && !res.headersSent && !res.destroyed) {
      attempt(req, res, dest, options, bodyless, false);
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    if (!res.headersSent) {
      sendResponse(
        res,
        errorResponse("upstream_unreachable", `${dest.host}:${dest.port} (${dest.address}): ${code}`),
      );
    } else res.destroy();
  });
  if (bodyless) {
    upReq.end();
    return;
  }
  req.pipe(upReq);
  req.once("error", () => upReq.destroy());
  req.once("close", () => {
    if (!req.complete) upReq.destroy();
  });
}

/**
 * The upstream's response, streamed to the client with backpressure. By hand rather than
 * .pipe() (which sets up and tears down eight listeners per response) or stream.pipeline()
 * (which allocates abort signals and a DOMException per call): this runs for every request.
 */
function relayResponse(upRes: IncomingMessage, res: ServerResponse): void {
  res.writeHead(upRes.statusCode ?? 502, forwardableHeaders(upRes.rawHeaders));
  upRes.on("data", (chunk: Buffer) => {
    if (!res.write(chunk)) upRes.pause();
  });
  res.on("drain", () => upRes.resume());
  upRes.once("end", () => res.end());
  upRes.once("error", () => res.destroy());
  res.once("close", () => {
    if (!upRes.complete) upRes.destroy();
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
    upstream.write(`${requestHead}\r\n`);
    splice(client, upstream, head, core.limits.idleTimeoutMs);
  };
  const upstream: Socket =
    dest.scheme === "https"
      ? tlsConnect({ host: dest.address, port: dest.addressPort, ...tlsOptions(core, dest) }, onReady)
      : netConnect({ host: dest.address, port: dest.addressPort }, onReady);
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
