// A strict, incremental HTTP/1.1 response parser for the upstream leg (RFC 9112). The upstream
// is allowed by policy but not trusted: anything ambiguous about where the response ends is an
// error (the exchange answers 502 or cuts the client off, and never reuses the socket), never
// a guess. Pure: bytes go in through feed()/finish(), events come out through the sink.

export interface ResponseHead {
  status: number;
  /** Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: 0 | 1;
  /** Flat `[name, value, ...]` in arrival order, as Node's rawHeaders (for forwardableHeaders). */
  rawHeaders: string[];
  /** The connection may carry another exchange once this response is complete. */
  keepAlive: boolean;
}

export interface ResponseSink {
  /** The final (non-1xx) head; interim 1xx responses are skipped. */
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  /** The response is complete (well framed). Bytes fed after it are an error. */
  onEnd(): void;
  /** Terminal: nothing else is emitted. Also reported after onEnd for bytes beyond the response. */
  onError(reason: string): void;
  /**
   * A 101 answered an upgrade (only with `upgrade` set): terminal; `rest` is what followed the
   * head in the same read, the first bytes of the new protocol.
   */
  onSwitch?(head: ResponseHead, rest: Buffer): void;
}

export interface ResponseParserOptions {
  /** A response to HEAD has no body whatever its headers say. */
  headRequest: boolean;
  /** Cap on one head (status line + headers), and on the trailer section. */
  maxHeadBytes: number;
  /** The request asked for an upgrade: a 101 ends parsing (onSwitch) instead of failing. */
  upgrade?: boolean;
}

const HEAD = 0;
const LENGTH_BODY = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CRLF = 4;
const TRAILERS = 5;
const CLOSE_BODY = 6;
const DONE = 7;
const FAILED = 8;
const SWITCHED = 9;

/** A server may send a few interim 1xx responses; an endless stream of them is an attack. */
const MAX_INTERIM = 16;
/** A chunk-size line with its extensions; longer is refused rather than buffered. */
const MAX_CHUNK_LINE = 4096;
const CR = 13;
const LF = 10;

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value or extension: no control characters other than HTAB (RFC 9110 §5.5). */
const FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,16})(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^[0-9]{1,15}$/;

export class ResponseParser {
  private state = HEAD;
  /** A head or trailer section that spans chunks is copied here (bounded by maxHeadBytes). */
  private spill: Buffer | null = null;
  private spillLength = 0;
  private interim = 0;
  /** Bytes left in the Content-Length body or in the current chunk. */
  private remaining = 0;
  /** A chunk-size or trailer line that spans chunks. */
  private line = "";
  /** Set by readLine when `line` holds a whole CRLF-terminated line. */
  private lineReady = false;
  /** The CR after a chunk's data was seen (its LF may come in the next feed). */
  private crSeen = false;
  private trailerBytes = 0;
  /** The 101 head, between parsing it and handing it over with the rest of its read. */
  private switched: ResponseHead | null = null;

  constructor(
    private readonly options: ResponseParserOptions,
    private readonly sink: ResponseSink,
  ) {}

  /** True once onEnd was emitted (and no error since). */
  get complete(): boolean {
    return this.state === DONE;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case HEAD:
          at = this.readHead(chunk, at);
          if ((this.state as number) === SWITCHED) {
            this.sink.onSwitch?.(this.switched as ResponseHead, chunk.subarray(at));
            return;
          }
          break;
        case LENGTH_BODY: {
          const n = Math.min(this.remaining, chunk.length - at);
          this.remaining -= n;
          this.sink.onBody(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
          at += n;
          if (this.remaining === 0) this.end();
          break;
        }
        case CHUNK_SIZE:
          at = this.readLine(chunk, at, MAX_CHUNK_LINE, "chunk-size line");
          if (this.state === CHUNK_SIZE && this.lineReady) this.onChunkSize();
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, chunk.length - at);
          this.remaining -= n;
          this.sink.onBody(chunk.subarray(at, at + n));
          at += n;
          if (this.remaining === 0) this.state = CHUNK_DATA_CRLF;
          break;
        }
        case CHUNK_DATA_CRLF:
          // Two bytes, CR then LF, possibly split across feeds.
          if (chunk[at] !== (this.crSeen ? LF : CR)) {
            this.fail("chunk data not followed by CRLF");
            return;
          }
          at++;
          this.crSeen = !this.crSeen;
          if (!this.crSeen) this.state = CHUNK_SIZE;
          break;
        case TRAILERS: {
          const before = at;
          at = this.readLine(chunk, at, this.options.maxHeadBytes, "trailer section");
          this.trailerBytes += at - before;
          if (this.state !== TRAILERS) break;
          if (this.trailerBytes > this.options.maxHeadBytes) {
            this.fail("trailer section too large");
            return;
          }
          if (this.lineReady) this.onTrailerLine();
          break;
        }
        case CLOSE_BODY:
          this.sink.onBody(at === 0 ? chunk : chunk.subarray(at));
          at = chunk.length;
          break;
        case DONE: {
          this.fail("bytes after the end of the response");
          return;
        }
        default:
          return;
      }
    }
  }

  /** The upstream closed its side: ends a close-delimited body, otherwise the response was cut. */
  finish(): void {
    if (this.state === CLOSE_BODY) this.end();
    else if (this.state === HEAD && this.spillLength === 0 && this.interim === 0) {
      this.fail("connection closed before a response");
    } else if (this.state !== DONE && this.state !== FAILED && this.state !== SWITCHED) {
      this.fail("connection closed mid-response");
    }
  }

  // ------------------------------------------------------------------ head

  /** Finds the end of the head (CRLFCRLF) in this chunk or across the spilled ones; returns the next offset. */
  private readHead(chunk: Buffer, at: number): number {
    const max = this.options.maxHeadBytes;
    if (this.spillLength === 0) {
      const end = chunk.indexOf("\r\n\r\n", at, "latin1");
      if (end !== -1 && end - at + 4 <= max) {
        this.parseHead(chunk.toString("latin1", at, end));
        return end + 4;
      }
      if (end !== -1 || chunk.length - at > max) return this.failAt(chunk, "response head too large");
      this.spill = Buffer.allocUnsafe(max);
    }
    const spill = this.spill as Buffer;
    // Copy only what can still belong to a head; the terminator may straddle the old and new bytes.
    const take = Math.min(chunk.length - at, max - this.spillLength);
    const from = Math.max(0, this.spillLength - 3);
    chunk.copy(spill, this.spillLength, at, at + take);
    this.spillLength += take;
    const end = spill.subarray(0, this.spillLength).indexOf("\r\n\r\n", from, "latin1");
    if (end === -1) {
      if (this.spillLength >= max) return this.failAt(chunk, "response head too large");
      return at + take;
    }
    const consumed = end + 4 - (this.spillLength - take);
    const text = spill.toString("latin1", 0, end);
    this.spill = null;
    this.spillLength = 0;
    this.parseHead(text);
    return at + consumed;
  }

  private parseHead(text: string): void {
    const lines = text.split("\r\n");
    const status = STATUS_LINE.exec(lines[0] as string);
    if (!status) {
      this.fail("malformed status line");
      return;
    }
    const minor = status[1] === "1" ? 1 : 0;
    const code = Number(status[2]);
    const rawHeaders: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let close = minor === 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      // Also refuses obs-fold (a line starting with whitespace) and whitespace before the colon.
      if (!TOKEN.test(name)) {
        this.fail("malformed header line");
        return;
      }
      const value = trimOws(line, colon + 1);
      if (!FIELD_TEXT.test(value)) {
        this.fail("control character in a header value");
        return;
      }
      rawHeaders.push(name, value);
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        const length = parseContentLength(value, contentLength);
        if (length === null) {
          this.fail("invalid or conflicting Content-Length");
          return;
        }
        contentLength = length;
      } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (name.length === 10 && name.toLowerCase() === "connection") {
        if (value.split(",").some((t) => t.trim().toLowerCase() === "close")) close = true;
      }
    }
    if (code === 101 && this.options.upgrade) {
      this.switched = { status: code, minor, rawHeaders, keepAlive: false };
      this.state = SWITCHED;
      return;
    }
    if (code < 200) {
      this.onInterim(code);
      return;
    }
    const framing = this.framing(minor, transferEncoding, contentLength);
    if (framing === null) return;
    const bodyless = this.options.headRequest || code === 204 || code === 304;
    const keepAlive = !close && (bodyless || framing !== CLOSE_BODY);
    this.sink.onHead({ status: code, minor, rawHeaders, keepAlive });
    if (bodyless || (framing === LENGTH_BODY && this.remaining === 0)) this.end();
    else this.state = framing;
  }

  private onInterim(code: number): void {
    // 101 only answers an upgrade request (parsed with the `upgrade` option).
    if (code === 101) {
      this.fail("101 Switching Protocols to a request that asked for none");
      return;
    }
    if (++this.interim > MAX_INTERIM) {
      this.fail("too many interim responses");
      return;
    }
  }

  /** RFC 9112 §6.3 for a response; null (after fail) when the framing is ambiguous. */
  private framing(minor: 0 | 1, te: string | undefined, cl: string | undefined): number | null {
    if (te !== undefined) {
      if (cl !== undefined) return this.failNull("both Transfer-Encoding and Content-Length");
      if (minor === 0) return this.failNull("Transfer-Encoding in an HTTP/1.0 response");
      const codings = te.split(",").map((c) => c.trim().toLowerCase());
      const chunked = codings.filter((c) => c === "chunked").length;
      if (codings.some((c) => c === "") || chunked > 1 || (chunked === 1 && codings.at(-1) !== "chunked")) {
        return this.failNull("invalid Transfer-Encoding");
      }
      return chunked === 1 ? CHUNK_SIZE : CLOSE_BODY;
    }
    if (cl !== undefined) {
      this.remaining = Number(cl);
      return LENGTH_BODY;
    }
    return CLOSE_BODY;
  }

  // ------------------------------------------------------------------ chunked body

  /** Reads up to and including LF into `line`; sets lineReady when a CRLF-terminated line is complete. */
  private readLine(chunk: Buffer, at: number, max: number, what: string): number {
    this.lineReady = false;
    const lf = chunk.indexOf(LF, at);
    const end = lf === -1 ? chunk.length : lf;
    if (this.line.length + (end - at) > max) return this.failAt(chunk, `${what} too long`);
    this.line += chunk.toString("latin1", at, end);
    if (lf === -1) return chunk.length;
    if (!this.line.endsWith("\r")) return this.failAt(chunk, `bare LF in the ${what}`);
    this.line = this.line.slice(0, -1);
    this.lineReady = true;
    return lf + 1;
  }

  private onChunkSize(): void {
    const m = CHUNK_LINE.exec(this.line);
    this.line = "";
    const size = m ? Number.parseInt(m[1] as string, 16) : Number.NaN;
    if (!Number.isSafeInteger(size)) {
      this.fail("malformed chunk-size line");
      return;
    }
    if (size === 0) {
      this.state = TRAILERS;
      this.trailerBytes = 0;
    } else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
  }

  /** Trailers are checked for syntax and dropped (the client gets the body, not the trailer fields). */
  private onTrailerLine(): void {
    const line = this.line;
    this.line = "";
    if (line === "") {
      this.end();
      return;
    }
    const colon = line.indexOf(":");
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || !FIELD_TEXT.test(line.slice(colon + 1))) {
      this.fail("malformed trailer line");
    }
  }

  // ------------------------------------------------------------------ outcomes

  private end(): void {
    this.state = DONE;
    this.sink.onEnd();
  }

  private fail(reason: string): void {
    if (this.state === FAILED) return;
    this.state = FAILED;
    this.spill = null;
    this.sink.onError(reason);
  }

  private failNull(reason: string): null {
    this.fail(reason);
    return null;
  }

  /** fail() for the readers: the returned offset ends the feed loop. */
  private failAt(chunk: Buffer, reason: string): number {
    this.fail(reason);
    return chunk.length;
  }
}

/** The text after `from` without leading and trailing SP/HTAB (OWS; other bytes are part of the value). */
function trimOws(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return line.slice(start, end);
}

/** One Content-Length field value (maybe a list) merged with what came before; null when invalid or different. */
function parseContentLength(value: string, before: string | undefined): string | null {
  let result = before;
  for (const part of value.split(",")) {
    const digits = part.trim();
    if (!DIGITS.test(digits)) return null;
    const normal = String(Number(digits));
    if (result !== undefined && result !== normal) return null;
    result = normal;
  }
  return result ?? null;
}
