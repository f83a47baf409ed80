// A method override inside a compressed body, attacked from inside a real `airlock run`:
// python3 may POST to /repos/*/*/issues (and GET anything) on an inspected host. Express's body
// parsers inflate gzip, deflate and br request bodies before they read fields, so
// `Content-Encoding: gzip` around `_method=DELETE` is a DELETE to such a server. The proxy must
// read the body as that server would (decoded) or refuse it. Likewise a JSON body with a
// repeated `_method` key (JSON.parse keeps the last, other parsers the first), or one nested in
// an object or array (a server may read `data._method`). The recording
// upstream must never receive an override the proxy did not decide.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { deflateSync, gunzipSync, gzipSync } from "node:zlib";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  type CaseReply,
  denyBody,
  pinnedRunArgs,
  type RecordingUpstream,
  recordingUpstream,
  runCases,
  type SandboxRun,
} from "./proxy-helpers.ts";

const API = "api.example.com";
const FORM = "application/x-www-form-urlencoded";

function post(type: string, encoding: string, body: Buffer): string {
  return `POST /repos/o/r/issues HTTP/1.1\r\nHost: ${API}\r\nContent-Type: ${type}\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString("latin1")}`;
}

/** name → [request bytes, expected status, reason pattern for a 403] */
const CASES: Array<[string, string, number, RegExp?]> = [
  ["control-gzip-form", post(FORM, "gzip", gzipSync("title=hello")), 200],
  ["gzip-form", post(FORM, "gzip", gzipSync("title=x&_method=DELETE")), 403, /form asks for DELETE/],
  [
    "deflate-json",
    post("application/json", "deflate", deflateSync('{"_method":"DELETE"}')),
    403,
    /JSON body asks for DELETE/,
  ],
  ["gzip-twice", post(FORM, "gzip, gzip", gzipSync(gzipSync("_method=PUT"))), 403, /form asks for PUT/],
  ["x-gzip-untyped", post("", "x-gzip", gzipSync("_method=DELETE")), 403, /form asks for DELETE/],
  [
    "json-repeated-key",
    post("application/json", "identity", Buffer.from('{"_method":"DELETE","_method":"POST"}')),
    403,
    /JSON body asks for DELETE/,
  ],
  [
    "json-nested",
    post("application/json", "identity", Buffer.from('{"title":"x","data":{"_method":"DELETE"}}')),
    403,
    /JSON body asks for DELETE/,
  ],
  [
    "json-in-array-gzip",
    post("application/json", "gzip", gzipSync('[{"ops":[{"_METHOD":"put"}]}]')),
    403,
    /JSON body asks for PUT/,
  ],
  [
    "json-nested-not-a-string",
    post("application/json", "identity", Buffer.from('{"data":{"_method":["DELETE"]}}')),
    403,
    /does not name an HTTP method/,
  ],
  ["unknown-coding", post(FORM, "compress", Buffer.from("_method=DELETE")), 403, /Content-Encoding compress/],
  ["broken-gzip", post(FORM, "gzip", Buffer.from("not gzip at all")), 403, /does not decode/],
  [
    "gzip-bomb",
    post(
      FORM,
      "gzip",
      gzipSync(Buffer.concat([Buffer.from("_method=DELETE&x="), Buffer.alloc(2 << 20, 97)])),
    ),
    403,
    /does not decode within 1048576 bytes/,
  ],
];

describe("a method override inside a compressed body, attacked from inside airlock run", () => {
  let dir: string;
  let up: RecordingUpstream;
  let run: SandboxRun;
  before(async () => {
    dir = scratchDir("sec-encoded-body");
    up = await recordingUpstream([API], dir);
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
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    run = await runCases(
      join(dir, "home"),
      wd,
      pinnedRunArgs(policy, [[API, 443, up]], up),
      CASES.map(([name, data]) => ({ name, mode: "tls" as const, target: `${API}:443`, data })),
    );
  });
  after(async () => {
    await up?.close();
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.replies.size, CASES.length, run.stdout);
  });

  for (const [name, , status, reason] of CASES) {
    test(`${name}: the proxy answers ${status}`, () => {
      const reply = run.replies.get(name) as CaseReply;
      assert.ok(reply, `no reply for ${name}`);
      assert.equal(reply.status, status, reply.raw);
      if (reason) assert.match(denyBody(reply).reason, reason);
    });
  }

  test("the upstream received the allowed body alone, still encoded, and no override", () => {
    assert.equal(up.requests.length, 1, JSON.stringify(up.requests.map((r) => r.url)));
    const [only] = up.requests;
    assert.ok(only?.rawHeaders.includes("Content-Encoding"));
    assert.equal(gunzipSync(Buffer.from(only?.body ?? "", "latin1")).toString(), "title=hello");
    for (const r of up.requests)
      assert.doesNotMatch(gunzipSync(Buffer.from(r.body, "latin1")).toString(), /_method/);
  });
});
