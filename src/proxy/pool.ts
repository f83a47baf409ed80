// Keep-alive pools for relayed requests: an "Agent-like object" (http.request's `agent` option)
// that keeps idle upstream sockets per pinned address, port and TLS name, and nothing else.
// Node's own Agent spends more per request than its job here needs (it copies the options,
// builds a long key from every TLS option, re-arms keep-alive and async-hooks state on each
// reuse, and queues requests behind socket limits the proxy does not use): one L7 keep-alive
// request pays for both a take and a give-back. The socket life cycle is Node's: the
// ClientRequest emits 'free' on a socket whose response ended with keep-alive; anything else
// (Connection: close, an upgrade, an error) ends or detaches the socket and it never returns.
import type { ClientRequest } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { type CommonConnectionOptions, connect as tlsConnect } from "node:tls";

/** What relay.ts passes to http(s).request besides method, path and headers. */
export interface PoolRequestOptions {
  host: string;
  port: number;
  servername?: string;
  /** The name the upstream certificate is verified against (relay.ts); a socket serves only that name. */
  verifiedName?: string;
  secureContext?: CommonConnectionOptions["secureContext"];
  checkServerIdentity?: (name: string, cert: import("node:tls").PeerCertificate) => Error | undefined;
}

/** Idle sockets kept per destination; more are closed when they come back. */
const MAX_IDLE_PER_KEY = 16;
/** TLS sessions kept for resumption (one per destination, oldest dropped first). */
const MAX_SESSIONS = 256;

export class UpstreamPool {
  // Read by ClientRequest: a keep-alive agent (so it asks for keep-alive and hands sockets back).
  readonly keepAlive = true;
  readonly maxSockets = Number.POSITIVE_INFINITY;
  readonly options: { timeout?: number } = {};
  readonly protocol: "http:" | "https:";
  readonly defaultPort: number;
  private readonly idle = new Map<string, Socket[]>();
  private readonly open = new Set<Socket>();
  /** A new connection to a destination resumes its last TLS session (as Node's https.Agent does). */
  private readonly sessions = new Map<string, Buffer>();
  private closed = false;

  constructor(
    private readonly tls: boolean,
    private readonly idleTimeoutMs: number,
  ) {
    this.protocol = tls ? "https:" : "http:";
    this.defaultPort = tls ? 443 : 80;
  }

  /** Called by ClientRequest: hand it an idle socket for this destination, else a new one. */
  addRequest(req: ClientRequest, options: PoolRequestOptions): void {
    const key = `${options.host}|${options.port}|${options.servername ?? ""}|${options.verifiedName ?? ""}`;
    const idle = this.idle.get(key);
    while (idle && idle.length > 0) {
      const socket = idle.pop() as Socket;
      if (idle.length === 0) this.idle.delete(key);
      if (socket.destroyed || !socket.writable) continue;
      socket.setTimeout(0);
      socket.ref();
      // The proxy retries a safe request once when a reused socket turns out to be stale.
      req.reusedSocket = true;
      req.onSocket(socket);
      return;
    }
    req.onSocket(this.connect(key, options));
  }

  /** Ends every socket, idle or in use (the proxy is closing). */
  destroy(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.idle.clear();
    this.sessions.clear();
  }

  private connect(key: string, options: PoolRequestOptions): Socket {
    const socket = this.tls
      ? tlsConnect({
          host: options.host,
          port: options.port,
          servername: options.servername,
          secureContext: options.secureContext,
          checkServerIdentity: options.checkServerIdentity,
          session: this.sessions.get(key),
        })
      : netConnect({ host: options.host, port: options.port });
    if (this.tls) {
      socket.on("session", (session: Buffer) => {
        this.sessions.delete(key);
        this.sessions.set(key, session);
        if (this.sessions.size > MAX_SESSIONS)
          this.sessions.delete(this.sessions.keys().next().value as string);
      });
      // A session that led to a failed connection is not offered again.
      socket.once("error", () => this.sessions.delete(key));
    }
    socket.setNoDelay(true);
    this.open.add(socket);
    // An idle socket has no request listening: its errors end it here (and it leaves the pool).
    socket.on("error", () => socket.destroy());
    socket.once("close", () => {
      this.open.delete(socket);
      this.forget(key, socket);
    });
    // Armed only while idle (giveBack): a socket that idles too long is closed.
    socket.on("timeout", () => {
      if (this.idle.get(key)?.includes(socket)) socket.destroy();
    });
    const onFree = () => this.giveBack(key, socket);
    socket.on("free", onFree);
    // An upgraded (or otherwise taken over) socket never comes back.
    socket.once("agentRemove", () => socket.off("free", onFree));
    return socket;
  }

  private giveBack(key: string, socket: Socket): void {
    const idle = this.idle.get(key) ?? [];
    if (this.closed || socket.destroyed || !socket.writable || idle.length >= MAX_IDLE_PER_KEY) {
      socket.destroy();
      return;
    }
    // Idle sockets neither keep the process alive nor live past the idle timeout.
    socket.unref();
    socket.setTimeout(this.idleTimeoutMs);
    idle.push(socket);
    this.idle.set(key, idle);
  }

  private forget(key: string, socket: Socket): void {
    const idle = this.idle.get(key);
    if (!idle) return;
    const at = idle.indexOf(socket);
    if (at !== -1) idle.splice(at, 1);
    if (idle.length === 0) this.idle.delete(key);
  }
}
