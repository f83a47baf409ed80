// Moving bytes: a decided request streamed to the pinned upstream (pooled, verified TLS, one
// hand-written HTTP/1.1 exchange: exchange.ts) and raw splicing of tunnels (and of upgraded
// connections: upgrade.ts). Bodies stream both ways, never buffered whole (but for a form,
// multipart or JSON body, read first for its `_method` fields: decide-http.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import { checkServerIdentity } from "node:tls";
import type { ProcessIdentity, ProxyCore } from "./core.ts";
import { requestHead, startExchange } from "./exchange.ts";
import type { UpstreamTarget } from "./pool.ts";
import { decidedAuthority } from "./upstream.ts";

export interface Destination {
  scheme: "http" | "https";
  /** The name the client asked for: TLS servername and certificate identity. */
  host: string;
  port: number;
  /** The pinned address and port actually dialled. */
  address: string;
  addressPort: number;
  /** Dialled by a connect-to override: the developer's address, not judged by the SSRF guard. */
  trusted: boolean;
}

/** Computed once per destination object (an inspected tunnel reuses its destination for every request). */
const targetOf = new WeakMap<Destination, UpstreamTarget>();

export function upstreamTarget(core: ProxyCore, dest: Destination): UpstreamTarget {
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
 * `body` is a body already read whole (a form checked for its `_method` field).
 */
export function relayRequest(
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  dest: Destination,
  path: string,
  body?: Buffer,
): void {
  const method = req.method ?? "GET";
  const transferEncoding = body ? undefined : req.headers["transfer-encoding"];
  const length = req.headers["content-length"];
  startExchange({
    req,
    res,
    pool: dest.scheme === "https" ? core.pools.https : core.pools.http,
    target: upstreamTarget(core, dest),
    // llhttp accepts a request Transfer-Encoding only when chunked is its last coding.
    head: requestHead(
      method,
      path,
      decidedAuthority(dest.scheme, dest.host, dest.port),
      req.rawHeaders,
      transferEncoding,
      body?.length,
    ),
    body:
      body !== undefined
        ? "none"
        : transferEncoding !== undefined
          ? "chunked"
          : length === undefined || length === "0"
            ? "none"
            : "length",
    prefetched: body,
    headRequest: method === "HEAD",
    maxHeadBytes: core.limits.maxHeaderBytes,
    upstream: dest,
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

/**
 * Registers a spliced connection (a CONNECT tunnel, an upgraded one: both granted at L4), so a
 * policy that stops granting it, or whose SSRF guard no longer passes the address it dialled,
 * closes it (EgressProxy.setPolicy).
 */
export function holdWhileGranted(
  core: ProxyCore,
  t: { host: string; port: number; identity: ProcessIdentity; address: string; trusted: boolean },
  client: Socket,
  upstream: Socket,
): void {
  const raw = {
    host: t.host,
    port: t.port,
    identity: t.identity,
    ...(t.trusted ? {} : { address: t.address }),
    close: () => {
      client.destroy();
      upstream.destroy();
    },
  };
  core.raw.add(raw);
  client.once("close", () => core.raw.delete(raw));
}
