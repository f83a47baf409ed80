// The upstream response parser (src/proxy/http1-response.ts) on its own: every framing of RFC
// 9112 §6.3, fed whole, split at every byte boundary and byte by byte, and hostile inputs that
// must end in an error rather than a guess.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ResponseHead, ResponseParser } from "../../src/proxy/http1-response.ts";

interface Outcome {
  heads: ResponseHead[];
  body: string;
  ended: boolean;
  /** Errors in order; one after `ended` means bytes beyond the response. */
  errors: string[];
  /** Order of the terminal events, e.g. ["end"], ["error"], ["end", "error"]. */
  order: string[];
}

type Options = { headRequest?: boolean; maxHeadBytes?: number; eof?: boolean };

function run(pieces: Buffer[], options: Options = {}): Outcome {
  const out: Outcome = { heads: [], body: "", ended: false, errors: [], order: [] };
  const parser = new ResponseParser(
    { headRequest: options.headRequest ?? false, maxHeadBytes: options.maxHeadBytes ?? 1024 },
    {
      onHead: (h) => out.heads.push(h),
      onBody: (c) => {
        out.body += c.toString("latin1");
      },
      onEnd: () => {
        out.ended = true;
        out.order.push("end");
      },
      onError: (reason) => {
        out.errors.push(reason);
        out.order.push("error");
      },
    },
  );
  for (const piece of pieces) parser.feed(piece);
  if (options.eof) parser.finish();
  return out;
}

/** The outcome fed whole, then split in two at every offset, then one byte at a time: all must agree. */
function parseEveryWay(input: string, options: Options = {}): Outcome {
  const bytes = Buffer.from(input, "latin1");
  const whole = run([bytes], options);
  for (let i = 1; i < bytes.length; i++) {
    const split = run([bytes.subarray(0, i), bytes.subarray(i)], options);
    assert.deepEqual(split, whole, `split at ${i} of ${JSON.stringify(input)}`);
  }
  const single = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(run(single, options), whole, `byte by byte: ${JSON.stringify(input)}`);
  return whole;
}

function assertError(input: string, pattern: RegExp, options: Options = {}): void {
  const out = parseEveryWay(input, options);
  assert.equal(
    out.errors.length,
    1,
    `expected one error for ${JSON.stringify(input)}: ${JSON.stringify(out)}`,
  );
  assert.match(out.errors[0] as string, pattern);
  assert.equal(out.ended, false, "an error is not a complete response");
}

test("Content-Length body: head, exact body, end, keep-alive", () => {
  const out = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:  a b \r\n\r\nhello");
  assert.equal(out.heads.length, 1);
  assert.equal(out.heads[0]?.status, 200);
  assert.deepEqual(out.heads[0]?.rawHeaders, ["Content-Length", "5", "X-Thing", "a b"]);
  assert.equal(out.heads[0]?.keepAlive, true);
  assert.equal(out.body, "hello");
  assert.deepEqual(out.order, ["end"]);
});

test("Content-Length 0 and a status line without a reason phrase end at the head", () => {
  const out = parseEveryWay("HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n");
  assert.equal(out.heads[0]?.status, 201);
  assert.deepEqual(out.order, ["end"]);
});

test("chunked body with extensions and trailers is decoded; trailers are dropped", () => {
  const out = parseEveryWay(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name=value\r\nhello\r\n6 ; a="b c"\r\n world\r\nA\r\n0123456789\r\n0;last\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n',
  );
  assert.equal(out.body, "hello world0123456789");
  assert.deepEqual(out.order, ["end"]);
  assert.equal(out.heads[0]?.keepAlive, true);
});

test("chunked body without trailers; Transfer-Encoding with another coding before chunked", () => {
  assert.equal(
    parseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").body,
    "abc",
  );
  const coded = parseEveryWay(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n",
  );
  assert.equal(coded.body, "zz");
  assert.deepEqual(coded.order, ["end"]);
});

test("HEAD, 204 and 304 responses have no body whatever their headers say", () => {
  const head = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", { headRequest: true });
  assert.deepEqual(head.order, ["end"]);
  assert.equal(head.heads[0]?.keepAlive, true);
  const chunkedHead = parseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", {
    headRequest: true,
  });
  assert.deepEqual(chunkedHead.order, ["end"]);
  for (const status of [204, 304]) {
    const out = parseEveryWay(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`);
    assert.equal(out.heads[0]?.status, status);
    assert.deepEqual(out.order, ["end"]);
    assert.equal(out.body, "");
    assert.equal(out.heads[0]?.keepAlive, true);
  }
});

test("interim 1xx responses are skipped; 101 to a plain request is an error", () => {
  const out = parseEveryWay(
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  );
  assert.equal(out.heads.length, 1);
  assert.equal(out.heads[0]?.status, 200);
  assert.equal(out.body, "ok");
  assertError("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", /101/);
  assertError("HTTP/1.1 100 Continue\r\n\r\n".repeat(17), /interim/);
});

test("no framing, or a final coding other than chunked: the body runs until the upstream closes", () => {
  for (const head of [
    "HTTP/1.1 200 OK\r\nX: y\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\n",
  ]) {
    const open = parseEveryWay(`${head}some bytes`);
    assert.equal(open.body, "some bytes");
    assert.deepEqual(open.order, [], "not complete before the close");
    assert.equal(open.heads[0]?.keepAlive, false);
    const closed = parseEveryWay(`${head}some bytes`, { eof: true });
    assert.deepEqual(closed.order, ["end"]);
  }
});

test("Connection: close and HTTP/1.0 responses are not kept alive", () => {
  const close = parseEveryWay(
    "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx",
  );
  assert.equal(close.heads[0]?.keepAlive, false);
  assert.deepEqual(close.order, ["end"]);
  const old = parseEveryWay("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx");
  assert.equal(old.heads[0]?.minor, 0);
  assert.equal(old.heads[0]?.keepAlive, false);
});

test("Content-Length: equal repeats are one length; invalid or differing values are errors", () => {
  assert.equal(parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc").body, "abc");
  assert.equal(
    parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 003\r\n\r\nabc").body,
    "abc",
  );
  for (const value of ["-1", "abc", "1 2", "", "+3", "0x10", "3, 4", "1e3", "9999999999999999"]) {
    assertError(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, /Content-Length/);
  }
  assertError("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", /Content-Length/);
});

test("Transfer-Encoding with Content-Length, or a bad Transfer-Encoding, is an error", () => {
  assertError("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", /both/);
  assertError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", /both/);
  assertError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", /Transfer-Encoding/);
  assertError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", /Transfer-Encoding/);
  assertError("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n", /Transfer-Encoding/);
  assertError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", /HTTP\/1\.0/);
});

test("malformed heads are errors", () => {
  const cases: Array<[string, RegExp]> = [
    ["HTTP/2 200 OK\r\n\r\n", /status line/],
    ["HTTP/1.1 99 Low\r\n\r\n", /status line/],
    ["HTTP/1.1 2000 OK\r\n\r\n", /status line/],
    ["garbage\r\n\r\n", /status line/],
    ["\r\nHTTP/1.1 200 OK\r\n\r\n", /status line/],
    ["HTTP/1.1 200 O\x00K\r\n\r\n", /status line/],
    ["HTTP/1.1 200 OK\r\nName : v\r\n\r\n", /header line/],
    ["HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", /header line/],
    ["HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", /header line/],
    ["HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", /header line/],
    ["HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n", /control character/],
    ["HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n", /control character/],
    ["HTTP/1.1 200 OK\r\nA: b\rC: d\r\n\r\n", /control character/],
  ];
  for (const [input, pattern] of cases) assertError(input, pattern);
});

test("a head larger than the cap is an error, however it is split", () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(200)}\r\n\r\n`;
  assertError(big, /too large/, { maxHeadBytes: 100 });
  assertError(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(200)}`, /too large/, { maxHeadBytes: 100 });
  // Exactly at the cap is accepted.
  const exact = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  assert.deepEqual(parseEveryWay(exact, { maxHeadBytes: exact.length }).order, ["end"]);
  assertError(exact, /too large/, { maxHeadBytes: exact.length - 1 });
});

test("malformed chunked bodies are errors", () => {
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const cases: Array<[string, RegExp]> = [
    ["zz\r\nab\r\n0\r\n\r\n", /chunk-size/],
    ["\r\n", /chunk-size/],
    ["-1\r\n", /chunk-size/],
    ["3 junk\r\nabc\r\n0\r\n\r\n", /chunk-size/],
    ["3\nabc\r\n0\r\n\r\n", /bare LF/],
    ["3\r\nabcX\r\n0\r\n\r\n", /CRLF/],
    ["3\r\nabc\rX0\r\n\r\n", /CRLF/],
    ["3;\x01\r\nabc\r\n", /chunk-size/],
    ["11111111111111111\r\n", /chunk-size/],
    [`${"0".repeat(5000)}\r\n`, /too long/],
    ["0\r\nBad trailer\r\n\r\n", /trailer/],
    ["0\r\nX: y\n\r\n", /bare LF/],
  ];
  for (const [body, pattern] of cases) assertError(head + body, pattern);
  assertError(`${head}0\r\n${"X-T: y\r\n".repeat(200)}\r\n`, /trailer section too/, { maxHeadBytes: 256 });
});

test("bytes after a complete response are reported after the end (the socket is then not reused)", () => {
  const extra = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n");
  assert.equal(extra.body, "ok");
  assert.deepEqual(extra.order, ["end", "error"]);
  assert.match(extra.errors[0] as string, /after the end/);
  const afterChunked = parseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\r\n");
  assert.deepEqual(afterChunked.order, ["end", "error"]);
  const afterHead = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", {
    headRequest: true,
  });
  assert.deepEqual(afterHead.order, ["end", "error"]);
  assert.equal(afterHead.body, "");
});

test("a close before or in the middle of a response is an error; a close after it is nothing", () => {
  const none = run([], { eof: true });
  assert.match(none.errors[0] as string, /before a response/);
  const partialHead = run([Buffer.from("HTTP/1.1 200")], { eof: true });
  assert.match(partialHead.errors[0] as string, /mid-response/);
  const shortBody = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", { eof: true });
  assert.deepEqual(shortBody.order, ["error"]);
  assert.match(shortBody.errors[0] as string, /mid-response/);
  const shortChunked = parseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", {
    eof: true,
  });
  assert.deepEqual(shortChunked.order, ["error"]);
  const complete = parseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", { eof: true });
  assert.deepEqual(complete.order, ["end"]);
});

test("nothing is emitted after an error", () => {
  const out = run(
    [Buffer.from("garbage\r\n\r\n"), Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
    {
      eof: true,
    },
  );
  assert.equal(out.errors.length, 1);
  assert.equal(out.heads.length, 0);
});
