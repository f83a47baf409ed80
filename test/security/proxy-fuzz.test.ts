// A bounded differential fuzz of the request path: generated request heads (methods, paths,
// queries, framing, upgrade and override headers, pipelining) go through the proxy, over
// CONNECT + TLS and to the forward proxy, to an upstream where Node's own parser (llhttp)
// reads what arrived. Every request the upstream parsed is put to the pure decideRequest (for
// its method and for each method an override carrier there names) and to the canonical-form
// checks: anything the policy would deny, or anything not in the form that was decided, is a
// failure. Deterministic (seeded), bounded in count and time.
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { connect as netConnect } from "node:net";
import { after, before, describe, test } from "node:test";
import { compilePolicy, decideRequest } from "../../src/policy/engine.ts";
import { normalizePath, parseQuery } from "../../src/policy/path.ts";
import { HOP_BY_HOP } from "../../src/proxy/upstream.ts";
import { pick, rng } from "../gate/helpers.ts";
import {
  connectTunnel,
  policyFrom,
  startProxy,
  type TestProxy,
  tempDir,
  tlsOverTunnel,
} from "../proxy/helpers.ts";
import { type RecordingUpstream, recordingUpstream, type SeenRequest } from "./proxy-helpers.ts";

const SEED = Number(process.env.AIRLOCK_FUZZ_SEED ?? 20261201);
const CASES = Number(process.env.AIRLOCK_FUZZ_CASES ?? 240);
/** The whole fuzz stops generating after this long (the count is the usual bound). */
const BUDGET_MS = 30_000;
const CASE_TIMEOUT_MS = 2_000;
const BATCH = 8;

const POLICY_TEXT = `
version: 1
network_policies:
  app:
    endpoints:
      - host: api.example.com
        port: 443
        protocol: rest
        access: read-only
        rules:
          - allow: { method: POST, path: "/repos/*/*/issues" }
          - allow: { method: PATCH, path: "/repos/o/r/**" }
          - allow: { method: GET, path: "/m;v=1/**" }
        deny_rules:
          - { method: "*", path: "/repos/*/*/secrets/**" }
      - host: plain.example.com
        port: 80
        protocol: rest
        access: read-only
        rules:
          - allow: { method: POST, path: "/repos/*/*/issues" }
    binaries:
      - path: /usr/bin/curl
`;
const policy = policyFrom(POLICY_TEXT);
const cp = compilePolicy(policy);

const METHODS = [
  "GET",
  "GET",
  "HEAD",
  "OPTIONS",
  "POST",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "TRACE",
  "PROPFIND",
  "get",
  "CONNECT",
];
const PLAIN_SEGMENTS = ["repos", "o", "r", "issues", "secrets", "admin", "x", "m;v=1", "~u"];
// biome-ignore format: one line per kind of trick
const TRICKY_SEGMENTS = [
  "..", ".", "%2e%2e", "%2E", ".%2e", "..;", "..;x", "a;b=c", "%2f", "%2F..", "%5c", "\\", "\\..",
  "%00", "%25", "%252e", "%3b", "a%20b", "\u00e9", "#frag", "", "%C3%A9", "%zz", "%", "a|b", "[x]",
];
const QUERIES = [
  "",
  "",
  "",
  "?a=1",
  "?_method=DELETE",
  "?%5Fmethod=PUT",
  "?_METHOD=patch",
  "?x=%zz",
  "?q=\u00e9",
  "?a=1#f",
];
const OVERRIDE = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x-http-method-override"];
const CONNECTION = [
  "Content-Length",
  "host",
  "close",
  "keep-alive",
  "Upgrade",
  "host",
  "Content-Length",
  "x-a",
  "te",
  "HTTP2-Settings",
  "Transfer-Encoding",
];
const UPGRADES = ["websocket", "h2c", "websocket, h2c", "WebSocket", "TLS/1.0"];
const SMUGGLED = (host: string) => `DELETE /repos/o/r HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

type Mode = "tls" | "forward";

const TRICKS = [
  "path",
  "path",
  "query",
  "host",
  "override",
  "connection",
  "connection",
  "upgrade",
  "fold",
  "body",
  "body",
  "framing",
  "version",
  "absolute",
  "pipelined",
  "method",
] as const;

/**
 * One generated request: a plausible one (a read, or a POST to an allowed path) with up to three
 * tricks applied, so that many arrive and the tricky ones meet every check.
 */
function generate(rand: () => number, mode: Mode, id: number): { text: string; body: string } {
  const host = mode === "tls" ? "api.example.com" : "plain.example.com";
  const tricks = new Set<string>();
  const count = Math.floor(rand() * 4);
  for (let i = 0; i < count; i++) tricks.add(pick(rand, TRICKS));
  let method = rand() < 0.7 ? "GET" : "POST";
  if (tricks.has("method")) method = pick(rand, METHODS);
  const depth = 1 + Math.floor(rand() * 4);
  let path = method === "POST" ? "/repos/o/r/issues" : "";
  if (method !== "POST" || tricks.has("path")) {
    path = "";
    for (let i = 0; i < depth; i++) {
      path += `/${pick(rand, tricks.has("path") && rand() < 0.5 ? TRICKY_SEGMENTS : PLAIN_SEGMENTS)}`;
    }
  }
  let target = `${path}${tricks.has("query") ? pick(rand, QUERIES) : ""}`;
  if (mode === "forward") target = `http://${tricks.has("absolute") ? "evil.example.com" : host}${target}`;
  else if (tricks.has("absolute")) target = `https://${rand() < 0.5 ? host : "evil.example.com"}${target}`;
  const version = tricks.has("version")
    ? pick(rand, ["HTTP/1.0", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0"])
    : "HTTP/1.1";
  // Ties what the upstream parsed to what was generated (a request without one was smuggled).
  const headers: string[] = [`X-Case: ${id}`];
  if (!tricks.has("host")) headers.push(`Host: ${host}`);
  else {
    const r = rand();
    if (r < 0.4) headers.push(`Host: ${host}`, "Host: evil.example.com");
    else if (r < 0.8) headers.push("Host: evil.example.com");
    else headers.push(`Host: ${host}:${mode === "tls" ? 443 : 80}`);
  }
  if (tricks.has("override")) headers.push(`${pick(rand, OVERRIDE)}: ${pick(rand, METHODS)}`);
  if (tricks.has("connection")) {
    const tokens = [pick(rand, CONNECTION)];
    if (rand() < 0.2) tokens.push(pick(rand, CONNECTION));
    headers.push(`Connection: ${tokens.join(", ")}`);
  }
  if (tricks.has("upgrade")) {
    headers.push(`Upgrade: ${pick(rand, UPGRADES)}`);
    if (rand() < 0.7) headers.push("Connection: Upgrade");
  }
  if (tricks.has("fold")) headers.push(rand() < 0.5 ? "X-Fold: a\r\n folded: b" : "Bad Name: x");
  let body = "";
  /** The body the request carries if its framing is read as written. */
  let intended = "";
  if (method === "POST" || tricks.has("body") || tricks.has("framing")) {
    const type = rand();
    if (type < 0.45) headers.push("Content-Type: application/x-www-form-urlencoded");
    else if (type < 0.75) headers.push("Content-Type: application/json");
    const content = tricks.has("body")
      ? pick(rand, [
          "_method=DELETE",
          "a=1&%5Fmethod=PUT",
          "_method=PATCH",
          SMUGGLED(host),
          SMUGGLED(host),
          "%zz",
        ])
      : "title=x";
    const f = tricks.has("framing") ? Math.floor(rand() * 5) : rand() < 0.7 ? 0 : 1;
    if (f === 0 || f === 1 || f === 4) intended = content;
    if (f === 0) {
      headers.push(`Content-Length: ${content.length}`);
      body = content;
    } else if (f === 1) {
      headers.push(
        pick(rand, [
          "Transfer-Encoding: chunked",
          "Transfer-Encoding: chunked",
          "Transfer-Encoding: gzip, chunked",
          "Transfer-Encoding: chunked, chunked",
        ]),
      );
      body = `${content.length.toString(16)}\r\n${content}\r\n0\r\n\r\n`;
    } else if (f === 2) {
      headers.push("Content-Length: 4", "Transfer-Encoding: chunked");
      body = `0\r\n\r\n${SMUGGLED(host)}`;
    } else if (f === 3) {
      headers.push("Content-Length: 0", `Content-Length: ${SMUGGLED(host).length}`);
      body = SMUGGLED(host);
    } else {
      headers.push(`Content-Length: ${content.length}`);
      body = `${content}${SMUGGLED(host)}`;
    }
  }
  let text = `${method} ${target} ${version}\r\n${headers.join("\r\n")}${headers.length ? "\r\n" : ""}\r\n${body}`;
  if (tricks.has("pipelined"))
    text += `${pick(rand, ["DELETE", "GET", "PUT"])} ${mode === "forward" ? `http://${host}` : ""}/repos/o/r/piped HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  return { text, body: intended };
}

/** One known attack per class, sent first (the random cases explore around them). */
function corpus(id: number): Array<{ mode: Mode; text: string; body: string }> {
  const h = "api.example.com";
  const smuggled = SMUGGLED(h);
  const head = (first: string, ...headers: string[]) =>
    `${first}\r\nX-Case: ${id}\r\nHost: ${h}\r\n${headers.map((x) => `${x}\r\n`).join("")}\r\n`;
  const cases = [
    {
      text: `${head("POST /repos/o/r/issues HTTP/1.1", "Content-Type: application/json", "Connection: Content-Length", `Content-Length: ${smuggled.length}`)}${smuggled}`,
      body: smuggled,
    },
    { text: `${head("GET /ws HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket")}${smuggled}`, body: "" },
    { text: `${head("GET /repos/o/r HTTP/1.1", "Connection: close, Host")}`, body: "" },
    {
      text: `${head("POST /repos/o/r/issues HTTP/1.1", "Content-Length: 4", "Transfer-Encoding: chunked")}0\r\n\r\n${smuggled}`,
      body: "",
    },
    { text: head("GET /repos/o/r/..;/secrets/x HTTP/1.1"), body: "" },
    {
      text: head("POST /repos/o/r/issues HTTP/1.1", "X-HTTP-Method-Override: DELETE", "Content-Length: 0"),
      body: "",
    },
  ];
  return cases.map((c) => ({ mode: "tls" as const, ...c }));
}

/** Always allowed, and closes the connection: the case is over when the proxy closes it. */
function sentinel(mode: Mode): string {
  return mode === "tls"
    ? "GET /sentinel HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"
    : "GET http://plain.example.com/sentinel HTTP/1.1\r\nHost: plain.example.com\r\nConnection: close\r\n\r\n";
}

function drain(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), CASE_TIMEOUT_MS);
    socket.on("data", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => socket.destroy());
  });
}

async function send(p: TestProxy, caPem: string, mode: Mode, request: string): Promise<void> {
  const bytes = Buffer.from(request + sentinel(mode), "latin1");
  if (mode === "tls") {
    const t = await connectTunnel(p.port, "api.example.com:443");
    const tls = await tlsOverTunnel(t.socket, "api.example.com", caPem);
    const done = drain(tls);
    tls.write(bytes);
    await done;
    t.socket.destroy();
    return;
  }
  const socket = netConnect(p.port, "127.0.0.1");
  const done = drain(socket);
  socket.write(bytes);
  await done;
}

const OVERRIDE_NAMES = new Set(OVERRIDE.map((h) => h.toLowerCase()));

/** Why the upstream should never have seen this request, or null. */
function violation(seen: SeenRequest, host: string, port: number): string | null {
  const input = { host, port, binary: "/usr/bin/curl", method: seen.method, path: seen.url };
  const d = decideRequest(cp, input);
  if (d.decision !== "allow" || d.layer !== "l7" || d.auditViolation) return `policy denies it: ${d.reason}`;
  const q = seen.url.indexOf("?");
  const path = q === -1 ? seen.url : seen.url.slice(0, q);
  const canonical = normalizePath(path);
  if (!canonical.ok || canonical.forwardPath !== path) return "the path is not in canonical form";
  const methods: string[] = [];
  let hosts = 0;
  let form = false;
  let typed = false;
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    const name = (seen.rawHeaders[i] as string).toLowerCase();
    const value = seen.rawHeaders[i + 1] as string;
    if (OVERRIDE_NAMES.has(name)) methods.push(value.trim());
    if (name === "host") {
      hosts++;
      if (value !== host && value !== `${host}:${port}`) return `Host header ${value}`;
    }
    if (name === "upgrade" || name === "http2-settings") return `${name} header forwarded`;
    if (
      name === "connection" &&
      value
        .split(",")
        .some((t) => !HOP_BY_HOP.has(t.trim().toLowerCase()) && t.trim().toLowerCase() !== "close")
    )
      return `Connection: ${value}`;
    if (name === "transfer-encoding" && value.toLowerCase() !== "chunked")
      return `Transfer-Encoding: ${value}`;
    if (name === "content-type") {
      typed = true;
      form ||= value.toLowerCase().includes("application/x-www-form-urlencoded");
    }
  }
  if (hosts !== 1) return `${hosts} Host headers`;
  const params = (text: string) => {
    const parsed = parseQuery(text);
    if (parsed === null) return null;
    return [...parsed].filter(([k]) => k.trim().toLowerCase() === "_method").flatMap(([, v]) => v);
  };
  const fromQuery = params(q === -1 ? "" : seen.url.slice(q + 1));
  if (fromQuery === null) return "malformed query forwarded";
  methods.push(...fromQuery);
  if (form || (!typed && seen.method === "POST")) {
    const fromForm = params(seen.body);
    if (fromForm === null && seen.body !== "") return "malformed form body forwarded";
    methods.push(...(fromForm ?? []));
  }
  for (const method of methods) {
    const other = decideRequest(cp, { ...input, method });
    if (other.decision !== "allow") return `override to ${method}, which the policy denies: ${other.reason}`;
  }
  return null;
}

/** What the upstream parsed against what was generated: same case, same body; no request from nowhere. */
function differsFromSent(seen: SeenRequest, sent: ReadonlyArray<{ body: string }>): string | null {
  const ids: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    if ((seen.rawHeaders[i] as string).toLowerCase() === "x-case") ids.push(seen.rawHeaders[i + 1] as string);
  }
  if (ids.length === 0) {
    const extra = seen.url === "/sentinel" || seen.url === "/repos/o/r/piped";
    return extra ? null : "a request that was never sent as one (smuggled)";
  }
  const generated = sent[Number(ids[0])];
  if (ids.length !== 1 || !generated) return `X-Case ${ids.join(",")}`;
  return seen.body === generated.body
    ? null
    : `body ${JSON.stringify(seen.body)} instead of ${JSON.stringify(generated.body)}`;
}

describe("differential fuzz of the request path", () => {
  let p: TestProxy;
  let tlsUp: RecordingUpstream;
  let plainUp: RecordingUpstream;
  let caPem: string;
  const allowed: string[] = [];
  before(async () => {
    const dir = tempDir("airlock-fuzz-");
    tlsUp = await recordingUpstream(["api.example.com"], dir);
    plainUp = await recordingUpstream(["plain.example.com"]);
    const { readFileSync } = await import("node:fs");
    p = await startProxy(policy, {
      // Every allowed request the proxy decided (HTTP events): the upstream may parse no more.
      audit: {
        write: (e) => {
          if (e.class_uid === 4002 && e.action === "Allowed") allowed.push(e.http_request?.url.path ?? "");
        },
      },
      connectTo: [
        `api.example.com:443:127.0.0.1:${tlsUp.port}`,
        `plain.example.com:80:127.0.0.1:${plainUp.port}`,
      ],
      upstreamCAs: [readFileSync(tlsUp.caFile as string, "utf8")],
    });
    caPem = p.ca.certPem;
  });
  after(async () => {
    await p?.close();
    await tlsUp?.close();
    await plainUp?.close();
  });

  test(`${CASES} generated requests (seed ${SEED}): the upstream sees only what the policy allows, as decided`, async () => {
    const rand = rng(SEED);
    const started = Date.now();
    const sent: Array<{ mode: Mode; request: string; body: string }> = [];
    const known = corpus(0).map((_, i) => corpus(i)[i] as { mode: Mode; text: string; body: string });
    for (const c of known) sent.push({ mode: c.mode, request: c.text, body: c.body });
    await Promise.all(known.map((c) => send(p, caPem, c.mode, c.text)));
    for (let i = sent.length; i < CASES && Date.now() - started < BUDGET_MS; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(CASES, i + BATCH); j++) {
        const mode: Mode = rand() < 0.6 ? "tls" : "forward";
        const request = generate(rand, mode, j);
        sent.push({ mode, request: request.text, body: request.body });
        batch.push(send(p, caPem, mode, request.text));
      }
      await Promise.all(batch);
    }
    const failures: string[] = [];
    for (const [up, host, port] of [
      [tlsUp, "api.example.com", 443],
      [plainUp, "plain.example.com", 80],
    ] as const) {
      for (const seen of up.requests) {
        const why = violation(seen, host, port) ?? differsFromSent(seen, sent);
        if (why)
          failures.push(`${host}: ${seen.method} ${seen.url} ${JSON.stringify(seen.rawHeaders)}: ${why}`);
      }
      // Words the generator puts only in request lines and headers (bodies are data, and are framed).
      for (const never of ["h2c", "evil.example.com", "HTTP2-Settings"]) {
        if (up.raw().includes(never))
          failures.push(`${host}: the upstream received ${JSON.stringify(never)}`);
      }
    }
    const parsed = tlsUp.requests.length + plainUp.requests.length;
    if (parsed > allowed.length)
      failures.push(`the upstreams parsed ${parsed} requests, the proxy allowed ${allowed.length}`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
    const fuzzed = [...tlsUp.requests, ...plainUp.requests].filter((r) => r.url !== "/sentinel");
    if (process.env.AIRLOCK_FUZZ_VERBOSE) console.log(`${fuzzed.length} of ${sent.length} arrived`);
    // Not vacuous: a good share of the generated requests was allowed and arrived.
    assert.ok(
      fuzzed.length >= sent.length / 10,
      `only ${fuzzed.length} of ${sent.length} generated requests arrived`,
    );
    assert.ok(sent.length >= Math.min(CASES, 40), `only ${sent.length} cases ran within the budget`);
  });
});
