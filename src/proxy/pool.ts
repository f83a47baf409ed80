// Keep-alive pools for relayed requests: idle upstream connections per pinned address, port and
// TLS names (exchange.ts speaks HTTP/1.1 over them). The pool owns each socket's listeners for
// its whole life and passes the socket's events to the exchange that holds it at the moment; an
// idle socket that sends a byte, ends or fails is closed, so a connection only ever returns to
// the pool between two complete, well-framed exchanges.
import { connect as netConnect, type Socket } from "node:net";
import { type PeerCertificate, type SecureContext, connect as tlsConnect } from "node:tls";

/** Where a pooled connection goes; computed once per destination (relay.ts). */
export interface UpstreamTarget {
  /** Address, port, servername and verified name: a socket only ever serves the same four. */
  key: string;
  /** The pinned address and port dialled. */
  host: string;
  port: number;
  tls?: {
    servername?: string;
    secureContext: SecureContext;
    /** Checks the certificate against the name the client asked for, not the pinned address. */
    checkServerIdentity: (name: string, cert: PeerCertificate) => Error | undefined;
  };
}

/** The exchange holding a connection receives its events. */
export interface UpstreamUser {
  onUpstreamData(chunk: Buffer): void;
  /** The upstream closed its sending side. */
  onUpstreamEnd(): void;
  /** The socket is gone; `error` says why when it failed. */
  onUpstreamClose(error: Error | undefined): void;
}

export class UpstreamConnection {
  user: UpstreamUser | null = null;
  /** Taken from the idle list (the upstream may have closed it meanwhile: see the retry in exchange.ts). */
  reused = false;
  error: Error | undefined;
  constructor(
    readonly socket: Socket,
    readonly key: string,
  ) {}
}

/** Idle connections kept per destination; more are closed when they come back. */
const MAX_IDLE_PER_KEY = 16;
/** TLS sessions kept for resumption (one per destination, oldest dropped first). */
const MAX_SESSIONS = 256;

/** Thrown at an exchange whose socket idled out (no bytes either way for the idle timeout). */
class UpstreamTimeout extends Error {
  readonly code = "ETIMEDOUT";
}

export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private readonly open = new Set<UpstreamConnection>();
  /** A new connection to a destination resumes its last TLS session (as Node's https.Agent does). */
  private readonly sessions = new Map<string, Buffer>();
  private closed = false;

  constructor(private readonly idleTimeoutMs: number) {}

  /** An idle connection to the target (unless `fresh`), else a new one; `user` gets its events. */
  acquire(target: UpstreamTarget, user: UpstreamUser, fresh = false): UpstreamConnection {
    const idle = fresh ? undefined : this.idle.get(target.key);
    while (idle && idle.length > 0) {
      const conn = idle.pop() as UpstreamConnection;
      if (idle.length === 0) this.idle.delete(target.key);
      if (conn.socket.destroyed || !conn.socket.writable) continue;
      conn.socket.ref();
      conn.reused = true;
      conn.user = user;
      return conn;
    }
    const conn = this.connect(target);
    conn.user = user;
    return conn;
  }

  /** The exchange is complete and the connection may carry another one. */
  release(conn: UpstreamConnection): void {
    conn.user = null;
    const idle = this.idle.get(conn.key) ?? [];
    const socket = conn.socket;
    if (this.closed || socket.destroyed || !socket.writable || idle.length >= MAX_IDLE_PER_KEY) {
      socket.destroy();
      return;
    }
    // Idle sockets do not keep the process alive.
    socket.unref();
    idle.push(conn);
    this.idle.set(conn.key, idle);
  }

  /** Ends every connection, idle or in use (the proxy is closing). */
  destroy(): void {
    this.closed = true;
    for (const conn of this.open) conn.socket.destroy();
    this.open.clear();
    this.idle.clear();
    this.sessions.clear();
  }

  private connect(target: UpstreamTarget): UpstreamConnection {
    const key = target.key;
    const tls = target.tls;
    const socket = tls
      ? tlsConnect({
          host: target.host,
          port: target.port,
          servername: tls.servername,
          secureContext: tls.secureContext,
          checkServerIdentity: tls.checkServerIdentity,
          ALPNProtocols: ["http/1.1"],
          session: this.sessions.get(key),
        })
      : netConnect({ host: target.host, port: target.port });
    const conn = new UpstreamConnection(socket, key);
    if (tls) {
      socket.on("session", (session: Buffer) => {
        this.sessions.delete(key);
        this.sessions.set(key, session);
        if (this.sessions.size > MAX_SESSIONS)
          this.sessions.delete(this.sessions.keys().next().value as string);
      });
    }
    socket.setNoDelay(true);
    // Busy or idle, a connection with no bytes either way for the idle timeout is closed.
    socket.setTimeout(this.idleTimeoutMs);
    this.open.add(conn);
    socket.on("data", (chunk: Buffer) => {
      if (conn.user) conn.user.onUpstreamData(chunk);
      else socket.destroy();
    });
    socket.on("end", () => {
      if (conn.user) conn.user.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on("timeout", () => {
      conn.error ??= new UpstreamTimeout(`no bytes for ${this.idleTimeoutMs} ms`);
      socket.destroy();
    });
    socket.on("error", (err) => {
      conn.error ??= err;
      // A session that led to a failed connection is not offered again.
      if (tls) this.sessions.delete(key);
      socket.destroy();
    });
    socket.once("close", () => {
      this.open.delete(conn);
      this.forget(conn);
      const user = conn.user;
      conn.user = null;
      user?.onUpstreamClose(conn.error);
    });
    return conn;
  }

  private forget(conn: UpstreamConnection): void {
    const idle = this.idle.get(conn.key);
    if (!idle) return;
    const at = idle.indexOf(conn);
    if (at !== -1) idle.splice(at, 1);
    if (idle.length === 0) this.idle.delete(conn.key);
  }
}
