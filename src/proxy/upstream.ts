// The way out: DNS pinning with the SSRF guard, curl-style connect-to overrides, the trust
// store for upstream TLS and the keep-alive pools. The proxy resolves a name once, lets the
// engine judge every address, and dials exactly the address it checked (no second lookup).
import { ADDRCONFIG } from "node:dns";
import { lookup } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { type CompiledEndpoint, checkAddresses } from "../policy/engine.ts";
import { normalizeHost } from "../policy/host.ts";
import type { IpAddress } from "../policy/ip.ts";
import type { ConnectToEntry } from "./connect-to.ts";
import { UpstreamPool } from "./pool.ts";

/** Name → every address (the proxy's own lookup; tests inject one). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true, hints: ADDRCONFIG })).map((a) => a.address);

export type Pin =
  | {
      ok: true;
      address: string;
      port: number;
      trusted: boolean;
      /** Every checked address, `address` first: a tunnel may fall back to the others. */
      addresses: string[];
    }
  /** `policy`: the SSRF guard refused (a 403); otherwise the name did not resolve (a 502). */
  | { ok: false; policy: boolean; reason: string };

/**
 * Where to dial for host:port. connect-to entries are the operator's own and exempt from the
 * private/loopback block; every other name is resolved once and every address checked, against
 * the host's own addresses too (read only then: listing the interfaces is a netlink round trip).
 */
export async function pinDestination(
  resolver: Resolver,
  connectTo: readonly ConnectToEntry[],
  endpoints: readonly CompiledEndpoint[],
  host: string,
  port: number,
  hostAddresses: () => readonly IpAddress[],
): Promise<Pin> {
  const h = normalizeHost(host);
  const override = connectTo.find((e) => e.host === h && e.port === port);
  if (override) {
    const resolved = isIP(override.address)
      ? [override.address]
      : await resolveSafely(resolver, override.address);
    const first = resolved[0];
    if (!first) {
      return { ok: false, policy: false, reason: `connect-to address ${override.address} did not resolve` };
    }
    return { ok: true, address: first, port: override.addressPort, trusted: true, addresses: resolved };
  }
  let addresses: string[];
  if (isIP(h)) addresses = [h];
  else {
    try {
      addresses = await resolver(h);
    } catch (err) {
      return {
        ok: false,
        policy: false,
        reason: `cannot resolve ${h}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      };
    }
  }
  const verdict = checkAddresses(endpoints, h, addresses, hostAddresses());
  if (!verdict.ok) return { ok: false, policy: true, reason: verdict.reason };
  return { ok: true, address: addresses[0] as string, port, trusted: false, addresses };
}

async function resolveSafely(resolver: Resolver, host: string): Promise<string[]> {
  try {
    return await resolver(host);
  } catch {
    return [];
  }
}

const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/**
 * The upstream trust store: the system bundle and Node's roots, plus the operator's extra CAs
 * (--upstream-ca, NODE_EXTRA_CA_CERTS). A file given twice (NODE_EXTRA_CA_CERTS is often the
 * system bundle itself) is parsed once.
 */
export function upstreamTrust(extraCAs: readonly string[]): SecureContext {
  const bundle = SYSTEM_BUNDLES.find((p) => existsSync(p));
  const system = bundle ? [readFileSync(bundle, "utf8")] : [];
  const ca = [...new Set([...system, ...rootCertificates, ...extraCAs])];
  return createSecureContext({ ca, minVersion: "TLSv1.2" });
}

/** Keep-alive pools, one per scheme; the pool key is the pinned address, port and TLS names (relay.ts). */
export function createPools(idleTimeoutMs: number): { http: UpstreamPool; https: UpstreamPool } {
  return { http: new UpstreamPool(idleTimeoutMs), https: new UpstreamPool(idleTimeoutMs) };
}

/** Hop-by-hop headers and the proxy's own: never forwarded either way. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  // The h2c upgrade's settings (RFC 9113 §3.2.1): hop-by-hop by definition.
  "http2-settings",
]);

const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((name) => name.length));

/**
 * The Host value a forwarded request carries: the name and port that were decided (canonical:
 * lower case, no trailing dot, an IPv6 literal bracketed), the port only when not the scheme's
 * default. The client's spelling (checked to name the same host:port) is not passed on.
 */
export function decidedAuthority(scheme: "http" | "https", host: string, port: number): string {
  const h = normalizeHost(host);
  const name = isIP(h) === 6 ? `[${h}]` : h;
  return port === (scheme === "https" ? 443 : 80) ? name : `${name}:${port}`;
}

/**
 * Raw headers (flat `[name, value, ...]` as Node's rawHeaders) minus hop-by-hop ones and those
 * the Connection header names; the same flat shape goes straight to http.request and writeHead,
 * so names keep their case and repeated headers their order. `authority`, for a request, is
 * written as the Host header's value (decidedAuthority).
 */
export function forwardableHeaders(
  rawHeaders: readonly string[],
  keepUpgrade = false,
  authority?: string,
): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 10 && name.toLowerCase() === "connection") {
      named ??= new Set();
      for (const token of (rawHeaders[i + 1] as string).split(",")) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // Most names cannot be hop-by-hop by their length alone: no lower-casing needed for those.
    if (named !== undefined || HOP_BY_HOP_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      const upgradeHeader = keepUpgrade && (lower === "upgrade" || lower === "connection");
      if (!upgradeHeader && (HOP_BY_HOP.has(lower) || named?.has(lower))) continue;
    }
    if (authority !== undefined && name.length === 4 && name.toLowerCase() === "host")
      out.push(name, authority);
    else out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}
