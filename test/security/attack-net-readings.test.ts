// An outsider's attack on how rules read a request, from inside a real `airlock run`: python3
// sends crafted requests over CONNECT + TLS to loopback upstreams that record every raw byte.
// A deny rule written one way must hold against the readings common servers give a path and a
// query (Express, ASP.NET and IIS route case-insensitively, most frameworks ignore a trailing
// slash, Rails drops a `.format`, servlet containers cut `;parameters`, some servers fold
// fullwidth letters, IIS drops trailing dots and spaces and `::$DATA`, servers run GET routes
// for HEAD, PHP keeps the last of a repeated key and reads `q[]` as `q`, Rack 2 splits pairs
// on `;`), and an allow rule's query
// matcher must hold for every value a server may read for its key. And addresses that carry
// an IPv4 address to a translator or tunnel (NAT64 as DNS64 answers, 6to4, IPv4-compatible,
// IPv4-translated) are judged as that IPv4 address. Hosts a server may route by instead of Host
// (X-Forwarded-Host, Forwarded: host=, X-Host) must name the decided host.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
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
const DL = "dl.example.com";

function get(host: string, target: string, method = "GET", headers = ""): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`;
}

/** name → [header line, expected status]: hosts a server may route by instead of Host. */
const FRONTING: Array<[string, string, number]> = [
  ["fronting-control", `X-Forwarded-Host: ${API}\r\n`, 200],
  ["fronting-x-forwarded-host", "X-Forwarded-Host: evil.example.com\r\n", 403],
  ["fronting-list", `X-Forwarded-Host: ${API}, evil.example.com\r\n`, 403],
  ["fronting-cgi-spelling", "X_Forwarded_Host: evil.example.com\r\n", 403],
  ["fronting-forwarded", 'Forwarded: for=192.0.2.1;host="evil.example.com";proto=https\r\n', 403],
  ["fronting-x-host", "X-Host: evil.example.com\r\n", 403],
];

/** name → [host, target, method, expected status, reason pattern for a 403] */
const CASES: Array<[string, string, string, string, number, RegExp?]> = [
  // api.example.com: access read-only, with deny rules.
  ["control", API, "/repos/o/r", "GET", 200],
  ["control-search", API, "/search?q=public", "GET", 200],
  ["deny-as-written", API, "/repos/o/r/rulesets/1", "GET", 403, /deny rule/],
  ["deny-case", API, "/repos/o/r/RuleSets/1", "GET", 403, /deny rule/],
  ["deny-case-exact", API, "/ADMIN", "GET", 403, /deny rule/],
  ["deny-trailing-slash", API, "/admin/", "GET", 403, /deny rule/],
  ["deny-format-suffix", API, "/admin.json", "GET", 403, /deny rule/],
  ["deny-head-as-get", API, "/admin", "HEAD", 403, /deny rule/],
  ["deny-trailing-dot", API, "/admin.", "GET", 403, /deny rule/],
  ["deny-trailing-space", API, "/admin%20", "GET", 403, /deny rule/],
  ["deny-data-stream", API, "/admin::$DATA", "GET", 403, /deny rule/],
  ["deny-encoded-slash", API, "/repos/o/r%2Frulesets/1", "GET", 403, /deny rule/],
  ["control-encoded-slash", API, "/repos/o%2Fr/x", "GET", 200],
  [
    "dots-between-encoded-slashes",
    API,
    "/repos/o/x%2F..%2F..%2Fadmin",
    "GET",
    403,
    /between encoded slashes/,
  ],
  ["deny-fullwidth", API, "/%EF%BD%81dmin", "GET", 403, /deny rule/],
  ["control-parameters", API, "/matrix;v=1/docs", "GET", 200],
  ["deny-parameters-cut", API, "/matrix;v=1/admin/x", "GET", 403, /deny rule/],
  ["deny-query-second-value", API, "/search?q=public&q=secret1", "GET", 403, /deny rule/],
  ["deny-query-array", API, "/search?q[]=secret1", "GET", 403, /deny rule/],
  ["deny-query-semicolon", API, "/search?q=public;q=secret1", "GET", 403, /deny rule/],
  ["deny-query-case", API, "/search?Q=secret1", "GET", 403, /deny rule/],
  ["deny-query-nul", API, "/search?q%00x=secret1", "GET", 403, /deny rule/],
  ["deny-query-unreadable", API, "/search?q=%zzsecret1", "GET", 403, /deny rule/],
  // dl.example.com: rules with query matchers only.
  ["allow-control", DL, "/archive?ref=main", "GET", 200],
  ["allow-control-key", DL, "/blob?ref_name=main", "GET", 200],
  ["allow-second-value", DL, "/archive?ref=main&ref=evil1", "GET", 403, /no allow rule/],
  ["allow-php-array", DL, "/archive?ref=main&ref[]=evil1", "GET", 403, /no allow rule/],
  ["allow-php-array-encoded", DL, "/archive?ref=main&ref%5B0%5D=evil1", "GET", 403, /no allow rule/],
  ["allow-php-dot", DL, "/blob?ref_name=main&ref.name=evil1", "GET", 403, /no allow rule/],
  ["allow-php-space", DL, "/blob?ref_name=main&ref+name=evil1", "GET", 403, /no allow rule/],
  ["allow-php-leading-space", DL, "/archive?ref=main&%20ref=evil1", "GET", 403, /no allow rule/],
  ["allow-semicolon", DL, "/tags?name=v1.0;name=evil1", "GET", 403, /no allow rule/],
  ["allow-case", DL, "/archive?ref=main&REF=evil1", "GET", 403, /no allow rule/],
];

/**
 * IPv6 spellings of 127.0.0.1 and of a private address that a translator or tunnel would
 * deliver there; a policy names each one, and the proxy must refuse it as the IPv4 address.
 */
const EMBEDDED: Array<[string, string, RegExp]> = [
  ["nat64-loopback", "64:ff9b::7f00:1", /loopback address, always blocked/],
  ["nat64-private", "64:ff9b::a00:5", /private \(RFC 1918\) address; the endpoint needs allowed_ips/],
  ["6to4-loopback", "2002:7f00:1::1", /loopback address, always blocked/],
  ["compatible-loopback", "::7f00:1", /loopback address, always blocked/],
  ["translated-loopback", "::ffff:0:7f00:1", /loopback address, always blocked/],
  ["local-nat64", "64:ff9b:1::7f00:1", /local-use NAT64 address; the endpoint needs allowed_ips/],
];

describe("how rules read a request, attacked from inside airlock run", () => {
  let dir: string;
  let api: RecordingUpstream;
  let dl: RecordingUpstream;
  let listener: Server;
  let heard = 0;
  let run: SandboxRun;
  before(async () => {
    dir = scratchDir("sec-readings");
    api = await recordingUpstream([API], dir);
    dl = await recordingUpstream([DL], dir);
    // A listener on loopback: what the embedded addresses would reach through a translator.
    listener = createServer((s) => {
      heard++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const port = (listener.address() as AddressInfo).port;
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
        "        allow_encoded_slash: true",
        "        rules:",
        '          - allow: { method: GET, path: "/matrix;v=1/**" }',
        "        deny_rules:",
        '          - { method: "*", path: "/repos/*/*/rulesets/**" }',
        '          - { method: "*", path: "/matrix/admin/**" }',
        '          - { method: GET, path: "/admin" }',
        '          - { method: GET, path: "/search", query: { q: "secret*" } }',
        `      - host: ${DL}`,
        "        port: 443",
        "        protocol: rest",
        "        rules:",
        '          - allow: { method: GET, path: "/archive", query: { ref: main } }',
        '          - allow: { method: GET, path: "/blob", query: { ref_name: main } }',
        '          - allow: { method: GET, path: "/tags", query: { name: "v1.*" } }',
        ...EMBEDDED.map(([, address]) => `      - { host: "${address}", port: ${port} }`),
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    const cases: RawCase[] = [
      ...CASES.map(([name, host, target, method]) => ({
        name,
        mode: "tls" as const,
        target: `${host}:443`,
        data: get(host, target, method),
      })),
      ...FRONTING.map(([name, header]) => ({
        name,
        mode: "tls" as const,
        target: `${API}:443`,
        data: get(API, `/repos/o/${name}`, "GET", header),
      })),
      ...EMBEDDED.map(([name, address]) => ({
        name,
        mode: "forward" as const,
        target: "",
        data: get(`[${address}]:${port}`, `http://[${address}]:${port}/`),
      })),
      ...EMBEDDED.map(([name, address]) => ({
        name: `${name}-connect`,
        mode: "forward" as const,
        target: "",
        data: `CONNECT [${address}]:${port} HTTP/1.1\r\nHost: [${address}]:${port}\r\n\r\n`,
      })),
    ];
    run = await runCases(
      join(dir, "home"),
      wd,
      pinnedRunArgs(
        policy,
        [
          [API, 443, api],
          [DL, 443, dl],
        ],
        api,
      ).concat("--upstream-ca", dl.caFile as string),
      cases,
    );
  });
  after(async () => {
    await api?.close();
    await dl?.close();
    await new Promise<void>((r) => (listener ? listener.close(() => r()) : r()));
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.replies.size, CASES.length + FRONTING.length + 2 * EMBEDDED.length, run.stdout);
  });

  for (const [name, , target, method, status, reason] of CASES) {
    test(`${name} (${method} ${target}): the proxy answers ${status}`, () => {
      const reply = run.replies.get(name) as CaseReply;
      assert.ok(reply, `no reply for ${name}`);
      assert.equal(reply.status, status, reply.raw);
      // A HEAD answer has no body: its status is what it says.
      if (reason && method !== "HEAD") assert.match(denyBody(reply).reason, reason);
    });
  }

  for (const [name, , status] of FRONTING) {
    test(`${name}: a host a server may route by must be the decided one (${status})`, () => {
      const reply = run.replies.get(name) as CaseReply;
      assert.ok(reply, `no reply for ${name}`);
      assert.equal(reply.status, status, reply.raw);
      if (status === 403)
        assert.match(denyBody(reply).reason, /names another host than api\.example\.com:443/);
    });
  }

  test("the upstreams received exactly the allowed requests", () => {
    assert.deepEqual(api.requests.map((r) => `${r.method} ${r.url}`).sort(), [
      "GET /matrix;v=1/docs",
      "GET /repos/o%2Fr/x",
      "GET /repos/o/fronting-control",
      "GET /repos/o/r",
      "GET /search?q=public",
    ]);
    assert.deepEqual(dl.requests.map((r) => `${r.method} ${r.url}`).sort(), [
      "GET /archive?ref=main",
      "GET /blob?ref_name=main",
    ]);
    const raw = api.raw() + dl.raw();
    for (const never of [
      "secret1",
      "evil1",
      "RuleSets",
      "rulesets",
      "admin",
      "ADMIN",
      "HEAD",
      "evil.example.com",
    ]) {
      assert.ok(!raw.includes(never), `an upstream received ${JSON.stringify(never)}:\n${raw}`);
    }
  });

  for (const [name, address, reason] of EMBEDDED) {
    test(`${name} (${address}) is judged as the IPv4 address it carries, forward and CONNECT`, () => {
      for (const key of [name, `${name}-connect`]) {
        const reply = run.replies.get(key) as CaseReply;
        assert.ok(reply, `no reply for ${key}`);
        assert.equal(reply.status, 403, reply.raw);
        assert.match(denyBody(reply).reason, reason);
      }
    });
  }

  test("the loopback listener heard nothing", () => {
    assert.equal(heard, 0);
  });
});
