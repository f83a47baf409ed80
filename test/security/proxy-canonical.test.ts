// What the upstream sees must be what was decided. From inside a real `airlock run`, python3
// sends crafted request heads over CONNECT + TLS (and to the forward proxy) at a loopback
// upstream that records every raw byte: path tricks servers reinterpret, method-override
// carriers, Connection naming end-to-end headers, framing (TE/CL, duplicate CL, obs-fold),
// pipelining after a denial, HTTP/1.0, absolute-form and Host disagreements. The upstream must
// receive exactly the allowed requests, in the canonical form that was decided.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  type CaseReply,
  denyBody,
  type RawCase,
  type RecordingUpstream,
  recordingUpstream,
  runCases,
  type SandboxRun,
} from "./proxy-helpers.ts";

const API = "api.example.com";
const H = `Host: ${API}\r\n`;
/** A request smuggled in a body: it reaches the upstream only if framing is reinterpreted. */
const SMUGGLED = `DELETE /repos/o/r HTTP/1.1\r\n${H}\r\n`;

/** name → [request bytes, expected status, reason pattern for a 403] */
const TLS_CASES: Array<[string, string, number, RegExp?]> = [
  ["control", `GET /repos/o/r HTTP/1.1\r\n${H}\r\n`, 200],
  ["dot-params", `GET /repos/o/r/..;/admin HTTP/1.1\r\n${H}\r\n`, 403, /dot segment with parameters/],
  ["semicolon", `GET /repos;jsessionid=1/o HTTP/1.1\r\n${H}\r\n`, 403, /path parameters/],
  ["backslash", `GET /repos/o/r\\..\\..\\admin HTTP/1.1\r\n${H}\r\n`, 403, /outside RFC 3986/],
  ["encoded-dots", `GET /repos/o/r/%2e%2e/%2e%2e/admin HTTP/1.1\r\n${H}\r\n`, 403, /dot segment written/],
  ["encoded-slash", `GET /repos/o%2f..%2fadmin HTTP/1.1\r\n${H}\r\n`, 403, /encoded slash/],
  ["nul", `GET /repos/o%00/admin HTTP/1.1\r\n${H}\r\n`, 403, /control character/],
  ["fragment", `GET /repos/o/r#/../admin HTTP/1.1\r\n${H}\r\n`, 403, /outside RFC 3986/],
  [
    "override-header",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}X-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\n\r\n`,
    403,
    /X-HTTP-Method-Override asks for DELETE/,
  ],
  [
    "override-header-2",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}x-method-override: PUT\r\nContent-Length: 0\r\n\r\n`,
    403,
    /asks for PUT/,
  ],
  [
    "override-query",
    `POST /repos/o/r/issues?%5Fmethod=DELETE HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
    403,
    /_method in the query asks for DELETE/,
  ],
  [
    "override-form",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 22\r\n\r\ntitle=x&_method=DELETE`,
    403,
    /_method in the form asks for DELETE/,
  ],
  [
    "override-untyped-form",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Length: 14\r\n\r\n_method=DELETE`,
    403,
    /_method in the form asks for DELETE/,
  ],
  [
    "form-allowed",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n7\r\ntitle=x\r\n0\r\n\r\n`,
    200,
  ],
  [
    // Trailers are dropped on the way: an override there never reaches the upstream.
    "override-trailer",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-HTTP-Method-Override: DELETE\r\n\r\n`,
    200,
  ],
  [
    "connection-host",
    `GET /repos/o/r HTTP/1.1\r\n${H}Connection: close, Host\r\n\r\n`,
    403,
    /Connection names host/,
  ],
  [
    // Dropping Content-Length on the way would make the body a second request the proxy never decided.
    "connection-length",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Connection: Content-Length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    403,
    /Connection names content-length/,
  ],
  [
    "te-cl",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    400,
  ],
  [
    "te-gzip",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    403,
    /chunked alone/,
  ],
  [
    "double-cl",
    `POST /repos/o/r/issues HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    400,
  ],
  ["obs-fold", `GET /repos/o/r HTTP/1.1\r\n${H}X-A: a\r\n Host: evil.example.com\r\n\r\n`, 400],
  [
    "pipelined-after-deny",
    `DELETE /repos/o/r HTTP/1.1\r\n${H}\r\nGET /repos/o/piped HTTP/1.1\r\n${H}\r\nPUT /repos/o/r HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
    403,
    /no allow rule matches/,
  ],
  ["http10-no-host", "GET /repos/o/r10 HTTP/1.0\r\n\r\n", 403, /no Host header/],
  ["http10", `GET /repos/o/r10 HTTP/1.0\r\n${H}\r\n`, 200],
  [
    "absolute-other",
    `GET https://evil.example.com/x HTTP/1.1\r\n${H}\r\n`,
    403,
    /does not name api.example.com/,
  ],
  [
    "duplicate-host",
    `GET /repos/o/r HTTP/1.1\r\n${H}Host: evil.example.com\r\n\r\n`,
    403,
    /more than one Host/,
  ],
  ["raw-non-ascii", `GET /repos/caf\u00e9 HTTP/1.1\r\n${H}\r\n`, 400],
];

const FORWARD_CASES: Array<[string, string, number, RegExp?]> = [
  ["fwd-control", "GET http://plain.example.com/repos/o/r HTTP/1.1\r\nHost: plain.example.com\r\n\r\n", 200],
  [
    "fwd-host-mismatch",
    "GET http://plain.example.com/repos/o/r HTTP/1.1\r\nHost: evil.example.com\r\n\r\n",
    403,
    /does not match plain.example.com/,
  ],
  [
    "fwd-dot-params",
    "GET http://plain.example.com/repos/..;/admin HTTP/1.1\r\nHost: plain.example.com\r\n\r\n",
    403,
    /dot segment with parameters/,
  ],
  [
    "fwd-override",
    "POST http://plain.example.com/repos/o/r/issues HTTP/1.1\r\nHost: plain.example.com\r\nX-HTTP-Method: DELETE\r\nContent-Length: 0\r\n\r\n",
    403,
    /X-HTTP-Method asks for DELETE/,
  ],
];

describe("canonical forwarding, attacked from inside airlock run", () => {
  let dir: string;
  let tlsUp: RecordingUpstream;
  let plainUp: RecordingUpstream;
  let run: SandboxRun;
  before(async () => {
    dir = scratchDir("sec-canonical");
    tlsUp = await recordingUpstream([API], dir);
    plainUp = await recordingUpstream(["plain.example.com"]);
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  app:",
        "    endpoints:",
        `      - host: ${API}`,
        "        port: 443",
        "        protocol: rest",
        "        access: read-only",
        "        rules:",
        '          - allow: { method: POST, path: "/repos/*/*/issues" }',
        "      - host: plain.example.com",
        "        port: 80",
        "        protocol: rest",
        "        access: read-only",
        "        rules:",
        '          - allow: { method: POST, path: "/repos/*/*/issues" }',
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "      - path: /usr/bin/curl",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    const cases: RawCase[] = [
      ...TLS_CASES.map(([name, data]) => ({ name, mode: "tls" as const, target: `${API}:443`, data })),
      ...FORWARD_CASES.map(([name, data]) => ({ name, mode: "forward" as const, target: "", data })),
    ];
    run = await runCases(
      join(dir, "home"),
      wd,
      [
        "--policy",
        policy,
        "--connect-to",
        `${API}:443:127.0.0.1:${tlsUp.port}`,
        "--connect-to",
        `plain.example.com:80:127.0.0.1:${plainUp.port}`,
        "--upstream-ca",
        tlsUp.caFile as string,
      ],
      cases,
      // curl's own forms: a urlencoded body is read whole for its _method field, up to 1 MiB.
      [
        `curl -s -o /dev/null -w 'form %{http_code}\\n' -d title=curl https://${API}/repos/o/r/issues`,
        `curl -s -o /dev/null -w 'override %{http_code}\\n' -d title=x -d _method=DELETE https://${API}/repos/o/r/issues`,
        "head -c 1100000 /dev/zero | tr '\\0' a > big.txt",
        `curl -s -w '\\nbig %{http_code}\\n' --data-binary @big.txt https://${API}/repos/o/r/issues`,
      ].join("; "),
    );
  });
  after(async () => {
    await tlsUp?.close();
    await plainUp?.close();
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.replies.size, TLS_CASES.length + FORWARD_CASES.length, run.stdout);
  });

  test("curl's forms: allowed, an override field refused, one too large to check refused", () => {
    assert.match(run.stdout, /^form 200$/m);
    assert.match(run.stdout, /^override 403$/m);
    assert.match(run.stdout, /^big 403$/m);
    assert.match(run.stdout, /larger than 1048576 bytes cannot be checked for a _method field/);
  });

  for (const [name, , status, reason] of [...TLS_CASES, ...FORWARD_CASES]) {
    test(`${name}: the proxy answers ${status}${reason ? ` (${reason.source})` : ""}`, () => {
      const reply = run.replies.get(name) as CaseReply;
      assert.ok(reply, `no reply for ${name}`);
      assert.equal(reply.status, status, reply.raw);
      if (reason) assert.match(denyBody(reply).reason, reason);
    });
  }

  test("the upstream received exactly the allowed requests, in canonical form", () => {
    // The pipelined GET after a denied DELETE is decided on its own and allowed: it may arrive
    // before the proxy closes the connection, or not. Nothing else does.
    const tls = tlsUp.requests
      .map((r) => `${r.method} ${r.url}`)
      .filter((r) => r !== "GET /repos/o/piped")
      .sort();
    assert.deepEqual(tls, [
      "GET /repos/o/r",
      "GET /repos/o/r10",
      "POST /repos/o/r/issues",
      "POST /repos/o/r/issues",
      "POST /repos/o/r/issues",
    ]);
    assert.ok(tlsUp.requests.some((r) => r.body === "title=curl"));
    assert.ok(
      tlsUp.requests.some((r) => r.body === "{}"),
      "the chunked JSON POST arrived, without its trailer",
    );
    const form = tlsUp.requests.find((r) => r.body === "title=x");
    assert.equal(form?.body, "title=x");
    assert.equal(
      form?.rawHeaders.includes("Transfer-Encoding"),
      false,
      "the checked form goes out with its length",
    );
    const r10 = tlsUp.requests.find((r) => r.url === "/repos/o/r10");
    assert.equal(r10?.httpVersion, "1.1");
    assert.deepEqual(
      plainUp.requests.map((r) => `${r.method} ${r.url}`),
      ["GET /repos/o/r"],
    );
    const raw = tlsUp.raw() + plainUp.raw();
    for (const never of [
      "DELETE",
      "PUT ",
      "admin",
      "_method",
      "evil.example.com",
      "Override",
      "jsessionid",
      "\\",
    ]) {
      assert.ok(!raw.includes(never), `the upstream received ${JSON.stringify(never)}:\n${raw}`);
    }
  });
});
