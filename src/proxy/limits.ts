// Resource limits of the proxy (DESIGN.md §4 "Proxy"): header-read and idle timeouts, header
// size and the number of live client connections. Every hit is logged and answered with JSON.
export interface ProxyLimits {
  /** A client must finish each request head within this time (DESIGN: 15 s). */
  headerTimeoutMs: number;
  /** Connections (tunnels, keep-alive) with no traffic either way for this long are closed. */
  idleTimeoutMs: number;
  /** Request head size cap (request line + headers). */
  maxHeaderBytes: number;
  /** Live client connections accepted at once; the next one gets 503 connection_limit. */
  maxConnections: number;
  /** A urlencoded, multipart or JSON body is read whole (for its `_method` field) before it is forwarded; larger is refused. */
  maxFormBodyBytes: number;
}

export const DEFAULT_LIMITS: ProxyLimits = {
  headerTimeoutMs: 15_000,
  idleTimeoutMs: 600_000,
  maxHeaderBytes: 32 * 1024,
  maxConnections: 1024,
  maxFormBodyBytes: 1024 * 1024,
};

export function resolveLimits(partial: Partial<ProxyLimits> | undefined): ProxyLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`proxy limit ${key} must be > 0, got ${value}`);
  }
  return limits;
}

/** Options for each internal http.Server so Node's parser enforces the limits. */
export function httpServerOptions(limits: ProxyLimits) {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headerTimeoutMs,
    // Bodies may be large and slow (200 MB uploads); only idleness ends them.
    requestTimeout: 0,
    keepAliveTimeout: limits.idleTimeoutMs,
    // How often Node checks header timeouts: often enough that a short test timeout is honoured.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4))),
  };
}
