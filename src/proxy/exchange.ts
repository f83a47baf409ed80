// One HTTP/1.1 request/response exchange with the upstream over a pooled connection (pool.ts):
// the request head written by hand, its body streamed with backpressure (re-chunked when the
// client chunked it: Node's parser has already decoded it), the response parsed strictly
// (http1-response.ts) and streamed to the client's ServerResponse. Node's ClientRequest and
// IncomingMessage would do the same job at several times the cost per request.
//
// A connection goes back to the pool only after a complete, well-framed HTTP/1.1 response
// without Connection: close, to a request fully sent. Anything else closes it.
import type { IncomingMessage, ServerResponse } from "node:http";
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
  headRequest: boolean;
  maxHeadBytes: number;
  /** Names the upstream in a 502 detail: `host:port (address)`. */
  describe: () => string;
}

/** Request line plus headers; the target and values come from llhttp (no CR, LF or NUL in them). */
export function requestHead(
  method: string,
  path: string,
  rawHeaders: readonly string[],
  transferEncoding: string | undefined,
): string {
  const headers = forwardableHeaders(rawHeaders);
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    // A chunked body is framed by chunks alone (llhttp refuses both, this is belt and braces).
    if (transferEncoding !== undefined && name.length === 14 && name.toLowerCase() === "content-length")
      continue;
    head += `${name}: ${headers[i + 1]}\r\n`;
  }
  if (transferEncoding !== undefined) head += `Transfer-Encoding: ${transferEncoding}\r\n`;
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

class Exchange implements UpstreamUser, ResponseSink {
  private conn!: UpstreamConnection;
  private readonly parser: ResponseParser;
  private received = false;
  private requestDone: boolean;
  private responseDone = false;
  private keepAlive = false;
  /** Bytes arrived after the response: the connection is not reused. */
  private trailingGarbage = false;
  /** The exchange is over (completed or failed); late events are ignored. */
  private settled = false;
  /** The latest body chunk, held back so the last one goes out with res.end(). */
  private pending: Buffer | null = null;
  private clientBlocked = false;

  constructor(
    private readonly r: RelayedRequest,
    private readonly mayRetry: boolean,
  ) {
    this.parser = new ResponseParser({ headRequest: r.headRequest, maxHeadBytes: r.maxHeadBytes }, this);
    this.requestDone = r.body === "none";
  }

  start(fresh: boolean): void {
    const { req, res } = this.r;
    this.conn = this.r.pool.acquire(this.r.target, this, fresh);
    this.conn.socket.write(this.r.head);
    res.once("close", this.onClientClose);
    if (this.r.body === "none") return;
    req.on("data", this.onRequestData);
    req.once("end", this.onRequestEnd);
    req.once("error", this.onClientClose);
    req.once("close", this.onRequestClose);
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
      this.r.res.once("drain", this.onClientDrain);
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

  // ---------------------------------------------------------------- client events

  private readonly onClientClose = (): void => {
    // Closed after the response finished is the normal end; before it, the client went away.
    if (this.settled) return;
    this.settled = true;
    this.detach();
    this.conn.user = null;
    this.conn.socket.destroy();
  };

  private readonly onRequestClose = (): void => {
    if (!this.r.req.complete) this.onClientClose();
  };

  private readonly onClientDrain = (): void => {
    if (!this.settled) this.conn.socket.resume();
  };

  private readonly onRequestData = (chunk: Buffer): void => {
    if (this.settled) return;
    const socket = this.conn.socket;
    let writable: boolean;
    if (this.r.body === "chunked") {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}${CRLF}`);
      socket.write(chunk);
      writable = socket.write(CRLF);
      socket.uncork();
    } else writable = socket.write(chunk);
    if (!writable) {
      this.r.req.pause();
      socket.once("drain", this.onUpstreamDrain);
    }
  };

  private readonly onUpstreamDrain = (): void => {
    if (!this.settled) this.r.req.resume();
  };

  private readonly onRequestEnd = (): void => {
    if (this.settled) return;
    if (this.r.body === "chunked") this.conn.socket.write(LAST_CHUNK);
    this.requestDone = true;
  };

  // ---------------------------------------------------------------- outcomes

  private complete(): void {
    this.settled = true;
    this.detach();
    const conn = this.conn;
    if (this.keepAlive && this.requestDone && !this.trailingGarbage) {
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
    if (!res.headersSent)
      sendResponse(res, errorResponse("upstream_unreachable", `${this.r.describe()}: ${reason}`));
    else res.destroy();
  }

  /** Stops listening to the client (the response is done, or the exchange failed). */
  private detach(): void {
    const { req, res } = this.r;
    res.off("close", this.onClientClose);
    res.off("drain", this.onClientDrain);
    if (this.r.body === "none") return;
    req.off("data", this.onRequestData);
    req.off("end", this.onRequestEnd);
    req.off("error", this.onClientClose);
    req.off("close", this.onRequestClose);
    this.conn.socket.off("drain", this.onUpstreamDrain);
    // The rest of an unfinished upload is read and dropped (the response is over).
    if (!this.requestDone) req.resume();
  }
}
