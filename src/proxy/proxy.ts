// The egress proxy (docs/design.md §4.2). Every byte the sandbox sends out crosses it.
//
// API (for the sandbox supervisor and for standalone use in tests and benchmarks):
//
//   const proxy = new EgressProxy({
//     policy,                       // Policy (validated); compiled once per generation
//     ca,                           // SandboxCA (ca.ts): leaf certificates for inspected hosts
//     identify: async (socket) => ({ binary, ancestors, pid }) | null,   // at every request head; null/throw = deny
//     fixedIdentity: { binary: "/usr/bin/curl" },    // standalone: used when `identify` is absent
//     connectTo: ["api.github.com:443:127.0.0.1:8443"],  // curl-style, or parsed ConnectToEntry values
//     upstreamCAs: [pem],           // extra CAs trusted upstream, beside the system store
//     resolver: async (host) => ["203.0.113.7"],     // default: dns.lookup(all)
//     proposalsEnabled: () => flag, // agent_policy_proposals_enabled: next_steps/agent_guidance
//     localRouter: (req, res, identity) => ...,       // http://policy.local/ (port 80 only)
//     audit: sink,                  // AuditSink (src/audit/writer.ts), e.g. new AuditLog(dir)
//     onDenial: (event) => ...,     // in-process denial stream (DenialEvent) for the aggregator
//     limits: { headerTimeoutMs, idleTimeoutMs, maxHeaderBytes, maxConnections },
//   });
//   proxy.handle(socket);           // hand over an accepted client socket (the supervisor does this)
//   await proxy.listen(0, "127.0.0.1")  // → { port }: standalone listener that calls handle()
//   proxy.setPolicy(next);          // hot swap: new connections and each new request on
//                                   // inspected connections use the newest generation; a raw
//                                   // tunnel it no longer grants at L4 is closed
//   proxy.generationId              // increments on each setPolicy
//   await proxy.close();            // stops listening, ends live connections and pools
//
// Decisions docs/design.md §4.2 leaves to the proxy:
// - Unknown identity (identify returns null, {unidentified: reason} or throws) is a deny with
//   binary "unknown" and that reason.
// - SNI that names another host: the handshake completes with a leaf for the name asked for, so
//   the client can read the structured 403 that answers every request on that connection. A
//   missing SNI is accepted (IP literals, old clients); the Host header is still checked.
// - Host header values never reach a log: a mismatch reason names only a parsed host:port.
// - connect-to addresses are trusted (no SSRF check); other names are resolved once per CONNECT
//   (per request for forward-proxy http://); tunnels fall back across the checked addresses.
// - A name that does not resolve is 502 upstream_unreachable, not a policy denial.
// - CONNECT to policy.local (any port) is 400 invalid_policy_local_scheme: it is plain HTTP only.
// - A safe, body-less request that fails on a stale pooled upstream socket is retried once.
// - An upstream response with ambiguous framing (Content-Length beside Transfer-Encoding, an
//   invalid or conflicting Content-Length, a malformed head) is a 502, or a cut connection once
//   the head went out; an upstream connection is reused only after a complete, well-framed
//   HTTP/1.1 response without Connection: close. Response trailers are dropped.
// - Audit lines are written at the end of the event-loop turn (batched), not per event.
// - Requests go upstream rebuilt in the canonical form that was decided, or are refused
//   (decide-http.ts, request-checks.ts); method-override carriers are decided as their method.
// - An upgrade is spliced only after the upstream's 101, and only where the policy allows raw
//   bytes to the endpoint (upgrade.ts). The host's own addresses are blocked like loopback.
//
// Flow: CONNECT → connect.ts (identity, L4, SSRF/pinning, splice or TLS termination) →
// inspect.ts (per-request L7); absolute-form http:// → forward.ts; both → decide-http.ts;
// upgrades → upgrade.ts; bytes → relay.ts; one upstream HTTP/1.1 request/response →
// exchange.ts (strict response parser: http1-response.ts); host addresses → host-addresses.ts;
// DNS, connect-to, trust store → upstream.ts; upstream keep-alive pools → pool.ts; limits.ts;
// the one deny body → deny.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import type { SecureContext } from "node:tls";
import { buildNetworkEvent, type OcsfEvent } from "../audit/ocsf.ts";
import type { AuditSink } from "../audit/writer.ts";
import { checkAddresses, compilePolicy, decideConnect, type PolicyHostFacts } from "../policy/engine.ts";
import type { Policy } from "../policy/schema.ts";
import { LeafCache, type SandboxCA } from "./ca.ts";
import { handleConnect } from "./connect.ts";
import { type ConnectToEntry, parseConnectTo } from "./connect-to.ts";
import {
  actorOf,
  type ConnState,
  type DenialEvent,
  type DenyRecord,
  type Generation,
  type Identified,
  type InspectedTunnel,
  type LocalRouter,
  type ProcessIdentity,
  type ProxyCore,
  type RawTunnel,
  recordDenial,
  type Unidentified,
} from "./core.ts";
import { errorResponse, type ProxyResponse, rawResponse } from "./deny.ts";
import { handleForwardRequest, handleForwardUpgrade } from "./forward.ts";
import { hostInterfaceAddresses, parseAddresses } from "./host-addresses.ts";
import { handleInspectedRequest, handleInspectedUpgrade } from "./inspect.ts";
import { httpServerOptions, type ProxyLimits, resolveLimits } from "./limits.ts";
import { createPools, type Resolver, systemResolver, upstreamTrust } from "./upstream.ts";

export type { DenialEvent, LocalRouter, ProcessIdentity, Unidentified } from "./core.ts";

export interface EgressProxyOptions {
  policy: Policy;
  /** Mints leaf certificates for `protocol: rest` endpoints; without it those CONNECTs fail (502). */
  ca?: SandboxCA;
  identify?: (socket: Socket) => Promise<ProcessIdentity | Unidentified | null>;
  fixedIdentity?: ProcessIdentity;
  connectTo?: ReadonlyArray<string | ConnectToEntry>;
  upstreamCAs?: readonly string[];
  resolver?: Resolver;
  proposalsEnabled?: () => boolean;
  localRouter?: LocalRouter;
  audit?: AuditSink;
  onDenial?: (event: DenialEvent) => void;
  limits?: Partial<ProxyLimits>;
  /** Clock for audit events (tests inject one). */
  now?: () => number;
  /** The host's own addresses (default: every interface's, read at each check); tests inject some. */
  hostAddresses?: () => readonly string[];
  /** Facts about a policy read from the host (listed binaries that are symlinks), per revision. */
  hostFacts?: (policy: Policy) => PolicyHostFacts;
}

export class EgressProxy {
  private gen: Generation;
  private readonly core: ProxyCore;
  private readonly outer: Server;
  private readonly inner: Server;
  private readonly states = new WeakMap<Socket, ConnState>();
  private readonly tunnels = new WeakMap<Socket, InspectedTunnel>();
  private readonly live = new Set<Socket>();
  private listener: NetServer | undefined;
  readonly limits: ProxyLimits;

  constructor(private readonly options: EgressProxyOptions) {
    this.limits = resolveLimits(options.limits);
    this.gen = { id: 1, cp: compilePolicy(options.policy, options.hostFacts?.(options.policy)) };
    const serverOptions = httpServerOptions(this.limits);
    this.outer = createServer(serverOptions);
    this.inner = createServer(serverOptions);
    for (const server of [this.outer, this.inner]) {
      server.timeout = this.limits.idleTimeoutMs;
      // These servers never listen (sockets are handed to them), but Node starts its header-timeout
      // bookkeeping on 'listening'; without it headersTimeout would never fire. close() stops it.
      server.emit("listening");
      server.on("clientError", (err, socket) =>
        this.onClientError(err as NodeJS.ErrnoException, socket as Socket),
      );
    }
    const connectTo = (options.connectTo ?? []).map((e) => (typeof e === "string" ? parseConnectTo(e) : e));
    // Built on the first upstream TLS connection: reading the system store takes tens of
    // milliseconds that a sandbox start should not wait for.
    let trust: SecureContext | undefined;
    const now = options.now ?? Date.now;
    const audit = options.audit;
    const log = (event: OcsfEvent) => audit?.write(event);
    const emit = (event: DenialEvent) => {
      try {
        options.onDenial?.(event);
      } catch {
        // a listener's failure must not change the answer
      }
    };
    const proposalsEnabled = () => options.proposalsEnabled?.() === true;
    this.core = {
      generation: () => this.gen,
      limits: this.limits,
      resolver: options.resolver ?? systemResolver,
      connectTo,
      pools: createPools(this.limits.idleTimeoutMs),
      raw: new Set<RawTunnel>(),
      get trust() {
        trust ??= upstreamTrust(options.upstreamCAs ?? []);
        return trust;
      },
      leaves: options.ca ? new LeafCache(options.ca) : undefined,
      localRouter: options.localRouter,
      inner: this.inner,
      hostAddresses: () => parseAddresses((options.hostAddresses ?? hostInterfaceAddresses)()),
      identify: (socket) => this.identifyNow(socket),
      tunnel: (socket) => this.tunnels.get(socket),
      setTunnel: (socket, tunnel) => {
        this.tunnels.set(socket, tunnel);
        this.states.set(socket, { identity: Promise.resolve(tunnel.identity) });
      },
      deny: (record: DenyRecord): ProxyResponse => recordDenial(record, now(), log, emit, proposalsEnabled()),
      log,
      proposalsEnabled,
      now,
    };
    const core = this.core;
    const fail = (socket: Socket) => () => socket.destroy();
    this.outer.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      handleConnect(core, req, socket, head).catch(fail(socket));
    });
    this.outer.on("request", (req: IncomingMessage, res: ServerResponse) => {
      handleForwardRequest(core, req, res).catch(() => res.destroy());
    });
    this.outer.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
      handleForwardRequest(core, req, res, true).catch(() => res.destroy());
    });
    this.outer.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      handleForwardUpgrade(core, req, socket, head).catch(fail(socket));
    });
    this.inner.on("request", (req: IncomingMessage, res: ServerResponse) => {
      handleInspectedRequest(core, req, res).catch(() => res.destroy());
    });
    this.inner.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
      handleInspectedRequest(core, req, res, true).catch(() => res.destroy());
    });
    this.inner.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      handleInspectedUpgrade(core, req, socket, head).catch(fail(socket));
    });
    this.inner.on("connect", (_req: IncomingMessage, socket: Socket) => {
      socket.end(rawResponse(errorResponse("invalid_request", "CONNECT inside a tunnel is not allowed")));
    });
  }

  get generationId(): number {
    return this.gen.id;
  }

  /**
   * Hot swap: compiled once here; in-flight requests finish under the generation they started
   * with. A raw tunnel the new policy no longer grants at L4 (a revoked or expired rule) is closed:
   * its bytes are never decided again, so it lasts only while its grant does.
   */
  setPolicy(policy: Policy): void {
    this.gen = { id: this.gen.id + 1, cp: compilePolicy(policy, this.options.hostFacts?.(policy)) };
    for (const tunnel of this.core.raw) {
      const still = decideConnect(this.gen.cp, tunnel.host, tunnel.port, tunnel.identity);
      const address =
        still.decision === "allow" && tunnel.address !== undefined
          ? checkAddresses(still.endpoints, tunnel.host, [tunnel.address], this.core.hostAddresses())
          : { ok: true as const };
      if (still.decision === "allow" && !still.inspect && address.ok) continue;
      this.core.raw.delete(tunnel);
      tunnel.close();
      this.core.log(
        buildNetworkEvent({
          time: this.core.now(),
          allowed: false,
          closed: true,
          host: tunnel.host,
          port: tunnel.port,
          actor: actorOf(tunnel.identity),
          policy: still.policy,
          engine: "l4",
          reason: `raw tunnel closed: the policy no longer grants it (${!address.ok ? address.reason : still.decision === "allow" ? "now inspected at L7" : still.reason})`,
          severity: "MED",
        }),
      );
    }
  }

  /** Takes over an accepted client socket. */
  handle(socket: Socket): void {
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    if (this.live.size >= this.limits.maxConnections) {
      this.core.log(
        buildNetworkEvent({
          time: this.core.now(),
          allowed: false,
          host: "-",
          port: 0,
          actor: actorOf(this.options.fixedIdentity ?? null),
          policy: null,
          engine: "limits",
          reason: `connection limit ${this.limits.maxConnections} reached`,
          severity: "HIGH",
        }),
      );
      socket.end(
        rawResponse(
          errorResponse("connection_limit", `the sandbox has ${this.limits.maxConnections} connections open`),
        ),
      );
      return;
    }
    this.live.add(socket);
    socket.once("close", () => this.live.delete(socket));
    this.states.set(socket, { identity: Promise.resolve(this.options.fixedIdentity ?? null) });
    this.outer.emit("connection", socket);
  }

  /** A fresh identification of the socket's holder, kept as the connection's latest (for its log lines). */
  private async identifyNow(socket: Socket): Promise<Identified> {
    const state: ConnState = { identity: Promise.resolve(null) };
    state.identity = this.identify(socket, state);
    this.states.set(socket, state);
    const identity = await state.identity;
    return { identity, ...(state.unidentified !== undefined ? { unidentified: state.unidentified } : {}) };
  }

  private async identify(socket: Socket, state: ConnState): Promise<ProcessIdentity | null> {
    if (!this.options.identify) return this.options.fixedIdentity ?? null;
    try {
      const found = await this.options.identify(socket);
      if (found && "unidentified" in found) {
        state.unidentified = found.unidentified;
        return null;
      }
      return found ?? null;
    } catch {
      return null;
    }
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    let response: ProxyResponse;
    let reason: string | null = null;
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      reason = `request head not received within ${this.limits.headerTimeoutMs} ms`;
      response = errorResponse("request_timeout", reason);
    } else if (err.code === "HPE_HEADER_OVERFLOW") {
      reason = `request head larger than ${this.limits.maxHeaderBytes} bytes`;
      response = errorResponse("headers_too_large", reason);
    } else {
      response = errorResponse("invalid_request", "malformed HTTP request");
    }
    if (reason) {
      const tunnel = this.tunnels.get(socket);
      this.states
        .get(socket)
        ?.identity.then((identity) =>
          this.core.log(
            buildNetworkEvent({
              time: this.core.now(),
              allowed: false,
              host: tunnel?.host ?? "-",
              port: tunnel?.port ?? 0,
              actor: actorOf(identity),
              policy: null,
              engine: "limits",
              reason: reason as string,
              severity: "LOW",
            }),
          ),
        )
        .catch(() => {});
    }
    socket.end(rawResponse(response));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Standalone listener (tests, benchmarks): every accepted socket goes to handle(). */
  listen(port = 0, host = "127.0.0.1"): Promise<{ port: number; host: string }> {
    const listener = createNetServer((socket) => this.handle(socket));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, host, () => {
        const address = listener.address() as AddressInfo;
        resolve({ port: address.port, host: address.address });
      });
    });
  }

  async close(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    const closed = listener ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    for (const socket of this.live) socket.destroy();
    for (const server of [this.outer, this.inner]) {
      server.closeAllConnections();
      server.close(() => {});
    }
    this.core.pools.http.destroy();
    this.core.pools.https.destroy();
    await closed;
  }
}
