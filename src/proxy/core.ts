// What the proxy's handlers share: the policy generation, options, per-connection state and
// the one place a decision becomes an audit event, a denial event and a response.
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import { buildHttpEvent, buildNetworkEvent, type OcsfEvent, type Severity } from "../audit/ocsf.ts";
import type { CompiledPolicy, RequestDecision, RuleMissing } from "../policy/engine.ts";
import type { IpAddress } from "../policy/ip.ts";
import type { LeafCache } from "./ca.ts";
import type { ConnectToEntry } from "./connect-to.ts";
import { denyResponse, type ProxyResponse } from "./deny.ts";
import type { ProxyLimits } from "./limits.ts";
import type { createPools, Resolver } from "./upstream.ts";

/** The process behind a client connection (from /proc in the sandbox; fixed when standalone). */
export interface ProcessIdentity {
  binary: string;
  ancestors?: readonly string[];
  /** Its executables not on a read-only mount (no binary glob matches them). */
  writable?: readonly string[];
  pid?: number;
}

/** Shown as the binary when the identity could not be established (always a deny). */
export const UNKNOWN_BINARY = "unknown";

/** One denial, as the supervisor's aggregator receives it (in process, no log parsing). */
export interface DenialEvent {
  time: number;
  layer: "l4" | "l7";
  /** Which check refused: l4, l7, ssrf, identity, sni, host_header, canonical, upgrade. */
  engine: string;
  host: string;
  port: number;
  binary: string;
  ancestors: readonly string[];
  pid?: number;
  method: string;
  /** Path without its query; null for CONNECT. */
  path: string | null;
  policy: string | null;
  reason: string;
  ruleMissing?: RuleMissing;
}

export interface Generation {
  id: number;
  cp: CompiledPolicy;
}

/** `identify` may say why a connection has no identity; the reason goes into the 403. */
export interface Unidentified {
  unidentified: string;
}

export const UNIDENTIFIED_REASON = "the connecting process could not be identified";

/** State of one accepted client connection: its latest identification. */
export interface ConnState {
  identity: Promise<ProcessIdentity | null>;
  /** Set (before `identity` resolves to null) when the identifier explained the failure. */
  unidentified?: string;
}

/** Who holds a client connection at the moment a request head arrived. */
export interface Identified {
  identity: ProcessIdentity | null;
  /** Why `identity` is null, when the identifier said. */
  unidentified?: string;
}

/** State of one CONNECT tunnel whose TLS the proxy terminates. */
export interface InspectedTunnel {
  host: string;
  port: number;
  address: string;
  addressPort: number;
  /** The address came from a connect-to override (exempt from the private/loopback block). */
  trusted: boolean;
  /** Policy generation whose endpoints checked the address (re-checked when a newer one applies). */
  generation: number;
  identity: ProcessIdentity;
  /** The accepted client socket under the TLS: each request re-identifies its holder. */
  client: Socket;
  /** Set when the client's SNI named another host: every request on it is denied. */
  sniMismatch?: string;
}

export type LocalRouter = (
  req: import("node:http").IncomingMessage,
  res: import("node:http").ServerResponse,
  identity: ProcessIdentity | null,
) => void;

export interface DenyRecord {
  layer: "l4" | "l7";
  engine: string;
  scheme: "http" | "https";
  method: string;
  /** Canonical or raw path without query; null for CONNECT. */
  path: string | null;
  /** Raw target with its query, for the (redacted) log line. */
  target?: string;
  host: string;
  port: number;
  identity: ProcessIdentity | null;
  policy: string | null;
  reason: string;
  ruleMissing?: RuleMissing;
  severity?: Severity;
}

/** The deny record of a refused request decision (forward and inspected requests alike). */
export function requestDenial(
  base: Pick<DenyRecord, "scheme" | "method" | "host" | "port" | "identity" | "target">,
  d: Pick<RequestDecision, "layer" | "policy" | "reason" | "ruleMissing" | "path">,
): DenyRecord {
  return {
    ...base,
    layer: d.layer,
    engine: d.layer,
    policy: d.policy,
    reason: d.reason,
    ruleMissing: d.ruleMissing,
    path: d.path,
  };
}

/**
 * A connection spliced raw under an L4 grant (a CONNECT tunnel, an upgraded connection): it
 * lasts only while the grant does.
 */
export interface RawTunnel {
  host: string;
  port: number;
  identity: ProcessIdentity;
  /** The address dialled, judged again by the SSRF guard (absent: a connect-to override, trusted). */
  address?: string;
  /** Ends both sides. */
  close(): void;
}

export interface ProxyCore {
  generation(): Generation;
  readonly limits: ProxyLimits;
  readonly resolver: Resolver;
  readonly connectTo: readonly ConnectToEntry[];
  readonly pools: ReturnType<typeof createPools>;
  readonly trust: SecureContext;
  readonly leaves: LeafCache | undefined;
  readonly localRouter: LocalRouter | undefined;
  /** The internal HTTP server that parses requests inside terminated TLS. */
  readonly inner: Server;
  /** The host's own interface addresses, blocked like loopback (read at every check). */
  hostAddresses(): readonly IpAddress[];
  /**
   * Identifies who holds the client socket now. Called when a request head arrives (CONNECT, and
   * every request on a connection), never at accept: a socket can change hands in between.
   */
  identify(socket: Socket): Promise<Identified>;
  tunnel(socket: Socket): InspectedTunnel | undefined;
  /** Raw tunnels open now: a policy that no longer grants one closes it (EgressProxy.setPolicy). */
  readonly raw: Set<RawTunnel>;
  setTunnel(socket: Socket, tunnel: InspectedTunnel): void;
  /** Logs the denial, emits it to onDenial and returns the structured 403. */
  deny(record: DenyRecord): ProxyResponse;
  log(event: OcsfEvent): void;
  proposalsEnabled(): boolean;
  now(): number;
}

export function actorOf(identity: ProcessIdentity | null) {
  return {
    binary: identity?.binary ?? UNKNOWN_BINARY,
    ancestors: identity?.ancestors ?? [],
    ...(identity?.pid !== undefined ? { pid: identity.pid } : {}),
  };
}

/** The shared deny path (used by CoreImpl in proxy.ts): audit event, denial event, 403 body. */
export function recordDenial(
  record: DenyRecord,
  now: number,
  log: (e: OcsfEvent) => void,
  emit: (e: DenialEvent) => void,
  proposalsEnabled: boolean,
): ProxyResponse {
  const actor = actorOf(record.identity);
  const severity = record.severity ?? (record.engine === "ssrf" ? "HIGH" : "MED");
  if (record.method === "CONNECT") {
    log(
      buildNetworkEvent({
        time: now,
        allowed: false,
        host: record.host,
        port: record.port,
        actor,
        policy: record.policy,
        engine: record.engine,
        reason: record.reason,
        severity,
      }),
    );
  } else {
    log(
      buildHttpEvent({
        time: now,
        allowed: false,
        scheme: record.scheme,
        host: record.host,
        port: record.port,
        method: record.method,
        target: record.target ?? record.path ?? "/",
        actor,
        policy: record.policy,
        engine: record.engine,
        reason: record.reason,
        severity,
      }),
    );
  }
  emit({
    time: now,
    layer: record.layer,
    engine: record.engine,
    host: record.host,
    port: record.port,
    binary: actor.binary,
    ancestors: actor.ancestors,
    ...(actor.pid !== undefined ? { pid: actor.pid } : {}),
    method: record.method.toUpperCase(),
    path: record.path,
    policy: record.policy,
    reason: record.reason,
    ...(record.ruleMissing ? { ruleMissing: record.ruleMissing } : {}),
  });
  return denyResponse({
    layer: record.layer,
    protocol: record.layer === "l7" ? "rest" : null,
    method: record.method,
    path: record.path,
    host: record.host,
    port: record.port,
    binary: actor.binary,
    policy: record.policy,
    reason: record.reason,
    ruleMissing: record.ruleMissing,
    proposalsEnabled,
  });
}
