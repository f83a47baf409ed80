// An outsider's attack on the L7 proxy from inside a real `airlock run`: python3 may only GET
// under /repos/ and POST to /repos/*/*/issues. It sends crafted bytes over CONNECT + TLS and to
// the forward proxy at loopback upstreams that record every raw byte, trying to get any other
// request through: method overrides as PHP, CGI, multipart and JSON parsers read them, target
// headers (X-Original-URL), bodies on GET that a server would read as the next request, framing
// and path tricks, HTTP/2 and upgrades. And the host's own address in the forms getaddrinfo and
// IPv6 accept (decimal, octal, IPv4-mapped), against a listener on every interface.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseIp } from "../../src/policy/ip.ts";
import { hostInterfaceAddresses } from "../../src/proxy/host-addresses.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  type CaseReply,
  denyBody,
  pinnedRunArgs,
  type RawCase,
  type RecordingUpstream,
  recordingUpstream,
  runCases,
  type SandboxRun,
} from "./proxy-helpers.ts";

const API = "api.example.com";
const PLAIN = "plain.example.com";
const H = `Host: ${API}\r\n`;
const SMUGGLED = `DELETE /repos/o/r HTTP/1.1\r\n${H}\r\n`;
const ISSUES = "/repos/o/r/issues";

function multipart(name: string, value: string, target = ISSUES, host = API): string {
  const body = `--XyZ\r\nContent-Disposition: form-data; name=${name}\r\n\r\n${value}\r\n--XyZ--\r\n`;
  return `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

function post(type: string, body: string, query = ""): string {
  return `POST ${ISSUES}${query} HTTP/1.1\r\n${H}Content-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

const NO_BODY = "Content-Length: 0\r\n\r\n";

/** name → [request bytes, expected status, reason pattern for a 403] */
const TLS_CASES: Array<[string, string, number, RegExp?]> = [
  ["control-get", `GET /repos/o/r HTTP/1.1\r\n${H}\r\n`, 200],
  ["control-json", post("application/json", '{"title":"x"}'), 200],
  ["control-multipart", multipart('"title"', "x"), 200],
  // Method overrides in the places frameworks read them.
  [
    "multipart-method",
    multipart('"_method"', "DELETE"),
    403,
    /_method in the multipart body asks for DELETE/,
  ],
  ["multipart-method-ext", multipart(`"t"; name*=utf-8''%5Fmethod`, "PUT"), 403, /asks for PUT/],
  ["multipart-single-quotes", multipart("'_method'", "DELETE"), 403, /multipart body asks for DELETE/],
  ["multipart-folded", multipart('\r\n\t"_method"', "DELETE"), 403, /multipart body asks for DELETE/],
  ["json-method", post("application/json", '{"_method":"DELETE"}'), 403, /JSON body asks for DELETE/],
  ["json-escaped", post("application/vnd.api+json", '{"\\u005fmethod":"delete"}'), 403, /asks for DELETE/],
  ["json-malformed", post("application/json", '{"_method":"DELETE",'), 403, /malformed JSON/],
  ["empty-type-form", post("", "_method=DELETE"), 403, /form asks for DELETE/],
  [
    "json-behind-multipart-type",
    `POST ${ISSUES} HTTP/1.1\r\n${H}Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"_method":"DELETE"}`,
    403,
    /JSON body asks for DELETE/,
  ],
  ["php-dot-query", `POST ${ISSUES}?.method=DELETE HTTP/1.1\r\n${H}${NO_BODY}`, 403, /query asks for DELETE/],
  ["php-bracket-query", `POST ${ISSUES}?[method=DELETE HTTP/1.1\r\n${H}${NO_BODY}`, 403, /asks for DELETE/],
  ["php-array-query", `POST ${ISSUES}?_method[]=DELETE HTTP/1.1\r\n${H}${NO_BODY}`, 403, /asks for DELETE/],
  ["php-dot-form", post("application/x-www-form-urlencoded", ".method=DELETE"), 403, /form asks for DELETE/],
  [
    "cgi-underscore-header",
    `POST ${ISSUES} HTTP/1.1\r\n${H}X_HTTP_Method_Override: DELETE\r\n${NO_BODY}`,
    403,
    /X_HTTP_Method_Override asks for DELETE/,
  ],
  // Headers some servers read as the request's target.
  [
    "x-original-url",
    `GET /repos/o/r HTTP/1.1\r\n${H}X-Original-URL: /admin\r\n\r\n`,
    403,
    /X-Original-URL asks for GET \/admin/,
  ],
  [
    "x-rewrite-url",
    `GET /repos/o/r HTTP/1.1\r\n${H}X-Rewrite-URL: /admin\r\n\r\n`,
    403,
    /asks for GET \/admin/,
  ],
  [
    // An allowed POST pointed at a path where only GET is allowed.
    "x-original-url-post",
    `POST ${ISSUES} HTTP/1.1\r\n${H}X-Original-URL: /repos/o/r\r\n${NO_BODY}`,
    403,
    /X-Original-URL asks for POST \/repos\/o\/r/,
  ],
  // A body on GET: a server that ignores it (CL.0) reads it as the next request.
  [
    "get-body",
    `GET /repos/o/r HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    403,
    /body on GET/,
  ],
  [
    "get-chunked-body",
    `GET /repos/o/r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    403,
    /body on GET/,
  ],
  // Framing and parser edge cases (Node's strict llhttp refuses them before any decision).
  ["h2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400],
  ["bare-lf", `GET /repos/o/lf HTTP/1.1\n${H.replace("\r", "")}\n`, 400],
  [
    "te-chunked-identity",
    `POST ${ISSUES} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "chunk-overflow",
    `POST ${ISSUES} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10000000000000002\r\n{}\r\n0\r\n\r\n`,
    400,
  ],
  ["nul-in-header", `GET /repos/o/r HTTP/1.1\r\n${H}X-A: a\u0000b\r\n\r\n`, 400],
  ["bare-cr-in-header", `GET /repos/o/r HTTP/1.1\r\n${H}X-A: a\rDELETE: b\r\n\r\n`, 400],
  ["space-before-colon", `POST ${ISSUES} HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello`, 400],
  ["cl-list", `POST ${ISSUES} HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, 400],
  ["cl-plus", `POST ${ISSUES} HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 400],
  ["long-header", `GET /repos/o/r HTTP/1.1\r\n${H}X-A: ${"a".repeat(40000)}\r\n\r\n`, 431],
  // Paths a server may read differently from the rule.
  ["dslash-dotdot", `GET //repos/../admin HTTP/1.1\r\n${H}\r\n`, 403, /no allow rule matches/],
  ["query-looks-like-path", `GET /admin?/repos/x HTTP/1.1\r\n${H}\r\n`, 403, /no allow rule matches/],
  ["uppercase-encoded-dots", `GET /repos/%2E%2E/admin HTTP/1.1\r\n${H}\r\n`, 403, /dot segment written/],
  ["encoded-semicolon-dots", `GET /repos/o%3B/..%3B/admin HTTP/1.1\r\n${H}\r\n`, 403],
  ["overlong-utf8", `GET /repos/%c0%ae%c0%ae/admin HTTP/1.1\r\n${H}\r\n`, 403, /invalid UTF-8/],
  ["options-star", `OPTIONS * HTTP/1.1\r\n${H}\r\n`, 403],
  [
    "absolute-userinfo",
    `GET https://${API}@evil.example.com/repos/o/r HTTP/1.1\r\n${H}\r\n`,
    403,
    /does not name/,
  ],
  ["host-userinfo", `GET /repos/o/r HTTP/1.1\r\nHost: evil@${API}\r\n\r\n`, 403, /Host header/],
  // Upgrades in other spellings, and requests pipelined behind refusals.
  [
    "upgrade-casing",
    `GET /repos/o/r HTTP/1.1\r\n${H}connection: keep-alive,UPGRADE\r\nupgrade:  WebSocket \r\n\r\n${SMUGGLED}`,
    403,
  ],
  [
    "expect-then-smuggle",
    `DELETE /repos/o/r HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    403,
  ],
  [
    "http10-keepalive-pipeline",
    `GET /repos/o/k10 HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\nDELETE /repos/o/r HTTP/1.0\r\n${H}\r\n`,
    200,
  ],
  ["connect-inside", `CONNECT ${API}:443 HTTP/1.1\r\n${H}\r\n`, 400],
];

const FORWARD_CASES: Array<[string, string, number, RegExp?]> = [
  ["fwd-control", `GET http://${PLAIN}/repos/o/r HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\n`, 200],
  [
    "fwd-multipart-method",
    multipart('"_method"', "DELETE", `http://${PLAIN}${ISSUES}`, PLAIN),
    403,
    /multipart body asks for DELETE/,
  ],
  [
    "fwd-get-body",
    `GET http://${PLAIN}/repos/o/r HTTP/1.1\r\nHost: ${PLAIN}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    403,
    /body on GET/,
  ],
  // A tunnel to an inspected host that never speaks TLS: plain bytes must not be spliced.
  [
    "connect-then-plaintext",
    `CONNECT ${API}:443 HTTP/1.1\r\nHost: ${API}:443\r\n\r\nDELETE /repos/o/r HTTP/1.1\r\n${H}\r\n`,
    200,
  ],
  [
    "connect-then-second-connect",
    `CONNECT ${API}:443 HTTP/1.1\r\nHost: ${API}:443\r\n\r\nCONNECT ${API}:443 HTTP/1.1\r\n${H}\r\n${SMUGGLED}`,
    200,
  ],
  ["fwd-origin-form", `GET /repos/o/r HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\n`, 400],
  [
    "fwd-pipelined-delete",
    `GET http://${PLAIN}/repos/o/p HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\nDELETE http://${PLAIN}/repos/o/r HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\n`,
    200,
  ],
];

/** The host's first non-loopback IPv4 address (a listener on every interface answers there). */
const OWN_V4 = hostInterfaceAddresses().find((a) => parseIp(a)?.version === 4 && !a.startsWith("127."));

function decimalAndOctal(v4: string): [string, string] {
  const octets = v4.split(".").map(Number);
  const decimal = octets.reduce((acc, o) => acc * 256 + o, 0);
  return [String(decimal), octets.map((o) => `0${o.toString(8)}`).join(".")];
}

/** A /16 around the address: a range that covers it without naming it. */
function coveringRange(v4: string): string {
  const [a, b] = v4.split(".");
  return `${a}.${b}.0.0/16`;
}

describe("the L7 proxy, attacked from inside airlock run", () => {
  let dir: string;
  let tlsUp: RecordingUpstream;
  let plainUp: RecordingUpstream;
  let hostListener: Server;
  let hostReceived = "";
  let run: SandboxRun;
  let hostCases: RawCase[] = [];
  before(async () => {
    dir = scratchDir("sec-attack-l7");
    tlsUp = await recordingUpstream([API], dir);
    plainUp = await recordingUpstream([PLAIN]);
    hostListener = createServer((socket) => {
      socket.on("data", (d: Buffer) => {
        hostReceived += d.toString("latin1");
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => hostListener.listen({ port: 0, host: "::", ipv6Only: false }, r));
    const port = (hostListener.address() as AddressInfo).port;
    const hostForms: string[] = [];
    if (OWN_V4) {
      const [decimal, octal] = decimalAndOctal(OWN_V4);
      hostForms.push(OWN_V4, decimal, octal, `[::ffff:${OWN_V4}]`);
    }
    hostCases = hostForms.map((h, i) => ({
      name: `host-${i}`,
      mode: "tls",
      target: `${h}:${port}`,
      data: "",
    }));
    const rest = (host: string, port: number) => [
      `      - host: "${host}"`,
      `        port: ${port}`,
      "        protocol: rest",
      "        rules:",
      '          - allow: { method: GET, path: "/repos/**" }',
      '          - allow: { method: POST, path: "/repos/*/*/issues" }',
    ];
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  app:",
        "    endpoints:",
        ...rest(API, 443),
        ...rest(PLAIN, 80),
        // Every spelling of the host's own address, in a range that covers it: still blocked.
        ...hostForms.map(
          (h) =>
            `      - { host: "${h}", port: ${port}, allowed_ips: ["${coveringRange(OWN_V4 as string)}"] }`,
        ),
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    const cases: RawCase[] = [
      ...TLS_CASES.map(([name, data]) => ({ name, mode: "tls" as const, target: `${API}:443`, data })),
      ...FORWARD_CASES.map(([name, data]) => ({ name, mode: "forward" as const, target: "", data })),
      ...hostCases,
    ];
    run = await runCases(
      join(dir, "home"),
      wd,
      pinnedRunArgs(
        policy,
        [
          [API, 443, tlsUp],
          [PLAIN, 80, plainUp],
        ],
        tlsUp,
      ),
      cases,
    );
  });
  after(async () => {
    await tlsUp?.close();
    await plainUp?.close();
    await new Promise<void>((r) => hostListener?.close(() => r()));
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.replies.size, TLS_CASES.length + FORWARD_CASES.length + hostCases.length, run.stdout);
  });

  for (const [name, , status, reason] of [...TLS_CASES, ...FORWARD_CASES]) {
    test(`${name}: the proxy answers ${status}${reason ? ` (${reason.source})` : ""}`, () => {
      const reply = run.replies.get(name) as CaseReply;
      assert.ok(reply, `no reply for ${name}`);
      assert.equal(reply.status, status, reply.raw);
      if (reason) assert.match(denyBody(reply).reason, reason);
    });
  }

  test("the host's own address is refused in every spelling, and its listener never hears a byte", () => {
    for (const c of hostCases) {
      const reply = run.replies.get(c.name) as CaseReply;
      assert.equal(reply?.status, 403, `${c.target}: ${reply?.raw}`);
      assert.match(denyBody(reply).reason, /an address of this host, always blocked/, c.target);
    }
    assert.equal(hostReceived, "");
  });

  test("the upstreams received exactly the allowed requests", () => {
    // Pipelined GETs behind an answered request are decided on their own (allowed) and may arrive or not.
    const tls = tlsUp.requests.map((r) => `${r.method} ${r.url}`).sort();
    assert.deepEqual(tls, [
      "GET /repos/o/k10",
      "GET /repos/o/r",
      "POST /repos/o/r/issues",
      "POST /repos/o/r/issues",
    ]);
    assert.deepEqual(
      plainUp.requests.map((r) => `${r.method} ${r.url}`),
      ["GET /repos/o/r", "GET /repos/o/p"],
    );
    for (const r of [...tlsUp.requests, ...plainUp.requests]) {
      if (r.method === "GET") assert.equal(r.body, "", `${r.url} arrived with a body`);
    }
    const raw = tlsUp.raw() + plainUp.raw();
    for (const never of [
      "DELETE",
      "PUT",
      "method",
      "admin",
      "Original",
      "Rewrite",
      "PRI ",
      "pgrade",
      "evil",
    ]) {
      assert.ok(!raw.includes(never), `the upstream received ${JSON.stringify(never)}:\n${raw}`);
    }
  });
});
