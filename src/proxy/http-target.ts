// Parsing of proxy request targets and Host headers. Pure. Paths are never normalised here:
// the engine decides on the raw target (WHATWG URL parsing would resolve `%2e%2e` first).
import { isIP } from "node:net";
import { normalizeHost } from "../policy/host.ts";

export interface Authority {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`, or without port when `defaultPort` is given. */
export function parseAuthority(text: string, defaultPort?: number): Authority | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s?#]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const host = m[1] ?? (m[2] as string);
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: normalizeHost(host), port };
}

export interface AbsoluteTarget extends Authority {
  scheme: string;
  /** Origin-form target (path and query, raw); `/` when the URL had none. */
  target: string;
}

/** `http://user@host:port/p?q#f` → scheme, host, port, `/p?q` (userinfo and fragment dropped). */
export function parseAbsoluteForm(url: string): AbsoluteTarget | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (!m) return null;
  const scheme = (m[1] as string).toLowerCase();
  const defaultPort = scheme === "https" || scheme === "wss" ? 443 : 80;
  const authority = (m[2] as string).replace(/^.*@/, "");
  const parsed = parseAuthority(authority, defaultPort);
  if (!parsed) return null;
  let target = m[3] as string;
  if (target === "") target = "/";
  else if (target.startsWith("?")) target = `/${target}`;
  return { scheme, ...parsed, target };
}

/** Marks a request with more than one Host header (RFC 9112 §3.2: never acceptable). */
export const SEVERAL_HOST_HEADERS = Symbol("several Host headers");

/**
 * The Host header's value, read from the raw headers: the check must see every Host line the
 * upstream will see (the parsed `req.headers.host` keeps only the first one).
 */
export function hostHeaderIn(
  rawHeaders: readonly string[],
): string | undefined | typeof SEVERAL_HOST_HEADERS {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") {
      if (value !== undefined) return SEVERAL_HOST_HEADERS;
      value = rawHeaders[i + 1] as string;
    }
  }
  return value;
}

/**
 * Null when the Host header names host:port (its port may be omitted for the default port),
 * else why not. A missing Host header is a mismatch: HTTP/1.1 requires it.
 */
export function hostHeaderProblem(
  header: string | undefined | typeof SEVERAL_HOST_HEADERS,
  host: string,
  port: number,
  defaultPort: number,
): string | null {
  if (header === undefined) return `the request has no Host header (expected ${host})`;
  if (header === SEVERAL_HOST_HEADERS) {
    return `the request has more than one Host header (expected one naming ${host}; domain fronting is not allowed)`;
  }
  const parsed = parseAuthority(header.trim(), defaultPort);
  if (parsed && parsed.host === normalizeHost(host) && parsed.port === port) return null;
  // Header values never reach a log line: only a parsed, well-formed host name is named.
  const named =
    parsed && /^[a-z0-9.:_-]{1,253}$/.test(parsed.host)
      ? `Host header ${parsed.host}:${parsed.port}`
      : "Host header";
  return `${named} does not match ${host}:${port} (domain fronting is not allowed)`;
}
