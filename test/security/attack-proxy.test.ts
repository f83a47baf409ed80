// Host spellings attacked from inside a real `airlock run`: the policy allows only GET under
// /repos/ on api.example.com (TLS) and plain.example.com (HTTP), and names loopback in every
// spelling getaddrinfo and the IPv6 parser accept. Upper case and a trailing dot must reach the
// same endpoint under the same rules (never an L4 splice, never a DELETE); loopback must stay
// out of reach however it is written. The upstreams and a loopback listener record every byte.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  pinnedRunArgs,
  type RawCase,
  type RecordingUpstream,
  recordingUpstream,
  runCases,
  type SandboxRun,
} from "./proxy-helpers.ts";

const API = "api.example.com";
const PLAIN = "plain.example.com";
const SPELLINGS = (host: string) => [host, host.toUpperCase(), `${host}.`, `${host.toUpperCase()}.`];
const TLS_SPELLINGS = [API, API.toUpperCase(), "Api.Example.Com"];
const LOOPBACK = [
  "127.0.0.1",
  "127.1",
  "2130706433",
  "0x7f000001",
  "017700000001",
  "[::1]",
  "[0:0::1]",
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "localhost.",
  "LOCALHOST",
];

describe("host spellings, attacked from inside airlock run", () => {
  let dir: string;
  let tlsUp: RecordingUpstream;
  let plainUp: RecordingUpstream;
  let listener: Server;
  let heard = "";
  let run: SandboxRun;
  before(async () => {
    dir = scratchDir("attack-proxy");
    tlsUp = await recordingUpstream([API], dir);
    plainUp = await recordingUpstream([PLAIN]);
    listener = createServer((s) => {
      s.on("data", (d: Buffer) => {
        heard += d.toString("latin1");
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => listener.listen({ port: 0, host: "::", ipv6Only: false }, r));
    const port = (listener.address() as AddressInfo).port;
    const rest = (host: string, p: number) => [
      `      - host: "${host}"`,
      `        port: ${p}`,
      "        protocol: rest",
      "        rules:",
      '          - allow: { method: GET, path: "/repos/**" }',
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
        ...LOOPBACK.map((h) => `      - { host: "${h.replace(/^\[|\]$/g, "")}", port: ${port} }`),
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    const cases: RawCase[] = [];
    // Over TLS only the case varies: a client checks the certificate against its own spelling, and
    // the leaf is minted for the canonical name (python refuses "api.example.com." against it).
    for (const [i, h] of TLS_SPELLINGS.entries()) {
      cases.push({
        name: `tls-get-${i}`,
        mode: "tls",
        target: `${h}:443`,
        data: `GET /repos/o/get${i} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
      });
      cases.push({
        name: `tls-delete-${i}`,
        mode: "tls",
        target: `${h}:443`,
        data: `DELETE /repos/o/del${i} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
      });
    }
    for (const [i, h] of SPELLINGS(PLAIN).entries()) {
      cases.push({
        name: `fwd-get-${i}`,
        mode: "forward",
        target: "",
        data: `GET http://${h}/repos/o/get${i} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
      });
      cases.push({
        name: `fwd-delete-${i}`,
        mode: "forward",
        target: "",
        data: `DELETE http://${h}/repos/o/del${i} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
      });
    }
    for (const [i, h] of LOOPBACK.entries()) {
      cases.push({ name: `loop-connect-${i}`, mode: "tls", target: `${h}:${port}`, data: "" });
      cases.push({
        name: `loop-fwd-${i}`,
        mode: "forward",
        target: "",
        data: `GET http://${h}:${port}/x HTTP/1.1\r\nHost: ${h}:${port}\r\nConnection: close\r\n\r\n`,
      });
    }
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
    await new Promise<void>((r) => listener?.close(() => r()));
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(
      run.replies.size,
      TLS_SPELLINGS.length * 2 + SPELLINGS(PLAIN).length * 2 + LOOPBACK.length * 2,
      run.stderr,
    );
  });

  test("a DELETE is refused whatever the host's case or trailing dot, and never reaches an upstream", () => {
    for (let i = 0; i < TLS_SPELLINGS.length; i++) {
      const reply = run.replies.get(`tls-delete-${i}`);
      assert.equal(reply?.status, 403, `tls-delete-${i}: ${reply?.raw}`);
    }
    for (let i = 0; i < 4; i++)
      assert.equal(run.replies.get(`fwd-delete-${i}`)?.status, 403, `fwd-delete-${i}`);
    const methods = [...tlsUp.requests, ...plainUp.requests].map((r) => r.method);
    assert.ok(!methods.includes("DELETE"), methods.join(","));
    assert.doesNotMatch(tlsUp.raw() + plainUp.raw(), /DELETE/);
  });

  test("every GET the upstreams saw was an allowed one", () => {
    for (const r of [...tlsUp.requests, ...plainUp.requests]) {
      assert.equal(r.method, "GET");
      assert.match(r.url, /^\/repos\/o\/get\d$/);
    }
    assert.equal(
      tlsUp.requests.length + plainUp.requests.length,
      TLS_SPELLINGS.length + 4,
      "the control GETs arrived",
    );
  });

  test("the Host the upstream sees is the canonical name that was decided", () => {
    for (const [up, name] of [
      [tlsUp, API],
      [plainUp, PLAIN],
    ] as const) {
      assert.ok(up.requests.length > 0, `${name}: nothing arrived`);
      for (const r of up.requests) {
        const hosts = r.rawHeaders.filter(
          (_v, i) => i % 2 === 1 && /^host$/i.test(r.rawHeaders[i - 1] ?? ""),
        );
        assert.deepEqual(hosts, [name], `${r.url}: Host as forwarded`);
      }
      // The bytes themselves: every Host line is the canonical name, whatever the client wrote.
      const lines = up.raw().match(/^host:.*$/gim) ?? [];
      assert.equal(lines.length, up.requests.length);
      for (const line of lines) assert.equal(line.replace(/\r$/, ""), `Host: ${name}`);
    }
  });

  test("loopback in every spelling is refused, and the listener never hears a byte", () => {
    for (let i = 0; i < LOOPBACK.length; i++) {
      for (const kind of ["connect", "fwd"]) {
        const reply = run.replies.get(`loop-${kind}-${i}`);
        assert.notEqual(reply?.status, 200, `${LOOPBACK[i]} (${kind}) was let through`);
      }
    }
    assert.equal(heard, "");
  });
});
