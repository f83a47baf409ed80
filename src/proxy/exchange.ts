// One HTTP/1.1 request/response exchange with the upstream over a pooled connection (pool.ts):
// the request head written by hand, its body streamed with backpressure (re-chunked when the
// client chunked it: Node's parser has already decoded it), the response parsed strictly
// (http1-response.ts) and streamed to the client's ServerResponse. Node's ClientRequest and
// IncomingMessage would do the same job at several times the cost per request.
//
// A connection goes back to the pool only after a complete, well-framed HTTP/1.1 response
// without Connection: close, to a request fully sent. Anything else closes it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { errorResponse, sendResponse } from "./deny.ts";
import { type ResponseHead, ResponseParser, type ResponseSink } from "./http1-response.ts";
import type { UpstreamConnection, UpstreamPool, UpstreamTarget, UpstreamUser } from "./pool.ts";
import { forwardableHeaders } from "./upstream.ts";

/** What stays the same across the attempts (a retry) of one relayed request. */
export interface RelayedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  pool: UpstreamPool;
  target: UpstreamTarget;
  /** The request head, CRLFCRLF included. */
  head: string;
  body: "none" | "length" | "chunked";
  /** A body read whole before the decision; sent right after the head (its length is in it). */
  prefetched?: Buffer;
  headRequest: boolean;
  maxHeadBytes: number;
  /** Named in a 502 detail as `host:port (address)`: the name asked for and the address dialled. */
  upstream: { host: string; port: number; address: string };
}

/**
 * Request line plus headers; the target and values come from llhttp (no CR, LF or NUL in them).
 * `authority`: the Host value (decidedAuthority). `fixedLength`: the body was read whole and goes
 * out with exactly this Content-Length.
 */
export function requestHead(
  method: string,
  path: string,
  authority: string,
  rawHeaders: readonly string[],
  transferEncoding: string | undefined,
  fixedLength?: number,
): string {
  const headers = forwardableHeaders(rawHeaders, false, authority);
  const reframed = transferEncoding !== undefined || fixedLength !== undefined;
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    // A chunked body is framed by chunks alone (llhttp refuses both, this is belt and braces).
    if (reframed && name.length === 14 && name.toLowerCase() === "content-length") continue;
    head += `${name}: ${headers[i + 1]}\r\n`;
  }
  if (fixedLength !== undefined) head += `Content-Length: ${fixedLength}\r\n`;
  else if (transferEncoding !== undefined) head += "Transfer-Encoding: chunked\r\n";
  return `${head}\r\n`;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
const CRLF = "\r\n";
const LAST_CHUNK = "0\r\n\r\n";

/** Starts the exchange; a safe body-less request is retried once if a reused connection was stale. */
export function startExchange(r: RelayedRequest): void {
  const retryable = r.body === "none" && SAFE.has(r.req.method ?? "");
  if (r.body === "none") r.req.resume();
  new Exchange(r, retryable).start(false);
}

/** The exchange a ServerResponse belongs to, for the shared 'close' listener below. */
const exchangeOf = new WeakMap<ServerResponse, Exchange>();

/**
 * One listener function for every response (not a closure per request): a client that goes
 * away before its response is complete ends the upstream exchange.
 */
function onResponseClose(this: ServerResponse): void {
  exchangeOf.get(this)?.clientGone();
}

class Exchange implements UpstreamUser, ResponseSink {
  private conn!: UpstreamConnection;
  private readonly parser: ResponseParser;
  private body: RequestBodyPump | null = null;
  private received = false;
  private responseDone = false;
  private keepAlive = false;
  /** Bytes arrived after the response: the connection is not reused. */
  private trailingGarbage = false;
  /** The exchange is over (completed or failed); late events are ignored. */
  settled = false;
  /** The latest body chunk, held back so the last one goes out with res.end(). */
  private pending: Buffer | null = null;
  private clientBlocked = false;
  private resumeOnDrain: (() => void) | null = null;

  constructor(
    private readonly r: RelayedRequest,
    private readonly mayRetry: boolean,
  ) {
    this.parser = new ResponseParser({ headRequest: r.headRequest, maxHeadBytes: r.maxHeadBytes }, this);
  }

  start(fresh: boolean): void {
    this.conn = this.r.pool.acquire(this.r.target, this, fresh);
    // latin1: llhttp hands over header bytes as latin1 text; this writes the same bytes back.
    this.conn.socket.write(this.r.head, "latin1");
    if (this.r.prefetched && this.r.prefetched.length > 0) this.conn.socket.write(this.r.prefetched);
    exchangeOf.set(this.r.res, this);
    this.r.res.on("close", onResponseClose);
    if (this.r.body !== "none") this.body = new RequestBodyPump(this, this.r, this.conn.socket);
  }

  // ---------------------------------------------------------------- upstream events (pool.ts)

  onUpstreamData(chunk: Buffer): void {
    if (this.settled) return;
    this.received = true;
    this.parser.feed(chunk);
    this.afterInput();
  }

  onUpstreamEnd(): void {
    if (this.settled) return;
    this.parser.finish();
    this.afterInput();
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.settled) return;
    if (!error) this.onUpstreamEnd();
    if (!this.settled) this.fail((error as NodeJS.ErrnoException | undefined)?.code ?? "connection closed");
  }

  private afterInput(): void {
    if (this.settled) return;
    if (this.responseDone) {
      this.complete();
      return;
    }
    if (this.pending) {
      if (!this.r.res.write(this.pending)) this.clientBlocked = true;
      this.pending = null;
    }
    if (this.clientBlocked) {
      // The client reads slower than the upstream sends: stop reading until it catches up.
      this.clientBlocked = false;
      this.conn.socket.pause();
      this.resumeOnDrain ??= () => {
        if (!this.settled) this.conn.socket.resume();
      };
      this.r.res.once("drain", this.resumeOnDrain);
    }
  }

  // ---------------------------------------------------------------- parser events

  onHead(head: ResponseHead): void {
    if (this.settled) return;
    this.keepAlive = head.keepAlive;
    try {
      this.r.res.writeHead(head.status, forwardableHeaders(head.rawHeaders));
    } catch {
      this.fail("invalid response: header Node refuses to send");
    }
  }

  onBody(chunk: Buffer): void {
    if (this.settled) return;
    if (this.pending && !this.r.res.write(this.pending)) this.clientBlocked = true;
    this.pending = chunk;
  }

  onEnd(): void {
    if (this.settled) return;
    this.responseDone = true;
    const last = this.pending;
    this.pending = null;
    if (last) this.r.res.end(last);
    else this.r.res.end();
  }

  onError(reason: string): void {
    if (this.settled) return;
    if (this.responseDone) this.trailingGarbage = true;
    else this.fail(`invalid response: ${reason}`);
  }

  // ---------------------------------------------------------------- outcomes

  /** The client went away (or its upload broke) before the response was complete. */
  clientGone(): void {
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.conn.user = null;
    this.conn.socket.destroy();
  }

  private complete(): void {
    this.settled = true;
    this.detach();
    const conn = this.conn;
    const requestSent = this.body === null || this.body.done;
    if (this.keepAlive && requestSent && !this.trailingGarbage) {
      conn.socket.resume();
      this.r.pool.release(conn);
    } else {
      conn.user = null;
      conn.socket.destroy();
    }
  }

  private fail(reason: string): void {
    this.settled = true;
    this.detach();
    const { res } = this.r;
    const conn = this.conn;
    conn.user = null;
    conn.socket.destroy();
    if (this.mayRetry && conn.reused && !this.received && !res.headersSent && !res.destroyed) {
      new Exchange(this.r, false).start(true);
      return;
    }
    if (!res.headersSent) {
      const { host, port, address } = this.r.upstream;
      sendResponse(res, errorResponse("upstream_unreachable", `${host}:${port} (${address}): ${reason}`));
    } else res.destroy();
  }

  /** Stops listening to the client (the response is done, or the exchange failed). */
  private detach(): void {
    const { res } = this.r;
    res.removeListener("close", onResponseClose);
    exchangeOf.delete(res);
    if (this.resumeOnDrain) res.removeListener("drain", this.resumeOnDrain);
    this.body?.detach();
  }
}

/**
 * Streams the client's request body upstream with backpressure: Content-Length bodies as they
 * come, chunked ones re-chunked (llhttp has decoded them; trailers are dropped). Only requests
 * with a body pay for these listeners.
 */
class RequestBodyPump {
  done = false;
  private readonly chunked: boolean;

  constructor(
    private readonly exchange: Exchange,
    private readonly r: RelayedRequest,
    private readonly socket: Socket,
  ) {
    this.chunked = r.body === "chunked";
    r.req.on("data", this.onData);
    r.req.once("end", this.onEnd);
    r.req.once("error", this.onAbort);
    r.req.once("close", this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.exchange.settled) return;
    const socket = this.socket;
    let writable: boolean;
    if (this.chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}${CRLF}`);
      socket.write(chunk);
      writable = socket.write(CRLF);
      socket.uncork();
    } else writable = socket.write(chunk);
    if (!writable) {
      this.r.req.pause();
      socket.once("drain", this.onDrain);
    }
  };

  private readonly onDrain = (): void => {
    if (!this.exchange.settled) this.r.req.resume();
  };

  private readonly onEnd = (): void => {
    if (this.exchange.settled) return;
    if (this.chunked) this.socket.write(LAST_CHUNK);
    this.done = true;
  };

  private readonly onAbort = (): void => this.exchange.clientGone();

  private readonly onClose = (): void => {
    if (!this.r.req.complete) this.exchange.clientGone();
  };

  detach(): void {
    const req = this.r.req;
    req.removeListener("data", this.onData);
    req.removeListener("end", this.onEnd);
    req.removeListener("error", this.onAbort);
    req.removeListener("close", this.onClose);
    this.socket.removeListener("drain", this.onDrain);
    // The rest of an unfinished upload is read and dropped (the response is over).
    if (!this.done) req.resume();
  }
}
