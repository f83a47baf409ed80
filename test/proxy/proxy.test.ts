// The egress proxy end to end: real TLS upstreams on loopback with their own CA, Debian curl
// and raw node clients through the proxy (the cases of docs/design.md §4.2).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { type AddressInfo, createServer, connect as netConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { POLICY_LOCAL_ROUTES } from "../../src/proxy/policy-local-api.ts";
import {
  connectTunnel,
  curl,
  policyFrom,
  readAll,
  requestOn,
  startHttpUpstream,
  startProxy,
  startTlsUpstream,
  type TestProxy,
  tlsOverTunnel,
  type Upstream,
} from "./helpers.ts";

const POLICY = `
version: 1
network_policies:
  github_api:
    endpoints:
      - host: api.github.com
        port: 443
        protocol: rest
        access: read-only
        rules:
          - allow: { method: PUT, path: "/repos/acme/site/contents/docs/**" }
          - allow: { method: POST, path: "/search", query: { project: { any: ["web", "api"] } } }
          - allow: { method: PUT, path: "/upload" }
        deny_rules:
          - { method: "*", path: "/repos/*/*/rulesets/**" }
      - host: audit.example.com
        port: 443
        protocol: rest
        enforcement: audit
        access: read-only
      - host: plain.example.com
        port: 80
        protocol: rest
        access: read-only
      - host: down.example.com
        port: 443
        protocol: rest
        access: read-only
    binaries:
      - path: /usr/bin/curl
  raw_tcp:
    endpoints:
      - host: tunnel.example.com
        port: 443
      - host: internal.example.com
        port: 443
      - host: loop.example.com
        port: 443
      - host: rebind.example.com
        port: 443
      - host: 127.0.0.1
        ports: [443, 80]
      - host: plainl4.example.com
        port: 80
      - host: down4.example.com
        port: 443
    binaries:
      - path: /usr/bin/curl
`;

const TEST_NET = "203.0.113.10";

let up: Upstream;
let plain: Upstream;
let p: TestProxy;
let rebindLookups = 0;
let closedPort = 0;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

before(async () => {
  closedPort = await freePort();
  up = await startTlsUpstream(["api.github.com", "tunnel.example.com", "audit.example.com"]);
  plain = await startHttpUpstream();
  p = await startProxy(policyFrom(POLICY), {
    connectTo: [
      `api.github.com:443:127.0.0.1:${up.port}`,
      `tunnel.example.com:443:127.0.0.1:${up.port}`,
      `audit.example.com:443:127.0.0.1:${up.port}`,
      `plain.example.com:80:127.0.0.1:${plain.port}`,
      `plainl4.example.com:80:127.0.0.1:${plain.port}`,
      `down.example.com:443:127.0.0.1:${closedPort}`,
      `down4.example.com:443:127.0.0.1:${closedPort}`,
    ],
    upstreamCAs: [up.ca.certPem],
    resolver: async (host) => {
      if (host === "internal.example.com") return ["10.1.2.3"];
      if (host === "loop.example.com") return ["127.0.0.1"];
      if (host === "rebind.example.com") return rebindLookups++ === 0 ? [TEST_NET] : ["127.0.0.1"];
      throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    },
    limits: { headerTimeoutMs: 1500 },
  });
});

after(async () => {
  await p.close();
  await up.close();
  await plain.close();
});

const viaCurl = (args: string[]) => curl(p.port, args);
const l7 = (args: string[]) => viaCurl(["--cacert", p.caFile, ...args]);

describe("L4", () => {
  test("allowed L4 tunnel: curl speaks TLS end to end with the upstream", async () => {
    const caFile = join(p.logDir, "..", "upstream-ca.crt");
    (await import("node:fs")).writeFileSync(caFile, up.ca.certPem);
    const r = await viaCurl(["--cacert", caFile, "https://tunnel.example.com/hello"]);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).host, "tunnel.example.com");
  });

  test("denied host: 403 with the L4 body", async () => {
    const t = await connectTunnel(p.port, "evil.example.com:443");
    const text = await readAll(t.socket, t.rest);
    assert.equal(t.status, 403);
    assert.match(t.head, /X-Airlock-Policy: -/);
    assert.match(t.head, /Content-Type: application\/json/);
    const body = JSON.parse(text);
    assert.equal(body.layer, "l4");
    assert.equal(body.protocol, null);
    assert.equal(body.method, "CONNECT");
    assert.equal(body.rule_missing.type, "l4_allow");
    assert.equal(body.rule_missing.host, "evil.example.com");
    const curlR = await viaCurl(["https://evil.example.com/"]);
    assert.notEqual(curlR.code, 0);
    assert.match(curlR.headers, /403/);
  });

  test("denied binary: the same endpoint for another executable", async () => {
    const other = await startProxy(policyFrom(POLICY), { fixedIdentity: { binary: "/usr/bin/python3" } });
    try {
      const t = await connectTunnel(other.port, "api.github.com:443");
      const body = JSON.parse(await readAll(t.socket, t.rest));
      assert.equal(t.status, 403);
      assert.match(body.reason, /binary not allowed: \/usr\/bin\/python3/);
      assert.equal(body.binary, "/usr/bin/python3");
      assert.equal(other.denials[0]?.binary, "/usr/bin/python3");
    } finally {
      await other.close();
    }
  });

  test("hot swap: new connections use the newest policy", async () => {
    p.proxy.setPolicy(policyFrom(POLICY.replace("tunnel.example.com", "other.example.com")));
    try {
      const t = await connectTunnel(p.port, "tunnel.example.com:443");
      assert.equal(t.status, 403);
      await readAll(t.socket, t.rest);
    } finally {
      p.proxy.setPolicy(policyFrom(POLICY));
    }
    const again = await connectTunnel(p.port, "tunnel.example.com:443");
    assert.equal(again.status, 200);
    again.socket.destroy();
  });

  test("with proposals off: next_steps is [] and there is no agent_guidance", async () => {
    const off = await startProxy(policyFrom(POLICY), { proposalsEnabled: () => false });
    try {
      const t = await connectTunnel(off.port, "evil.example.com:443");
      const body = JSON.parse(await readAll(t.socket, t.rest));
      assert.deepEqual(body.next_steps, []);
      assert.equal("agent_guidance" in body, false);
    } finally {
      await off.close();
    }
  });

  test("unknown identity is a deny", async () => {
    const other = await startProxy(policyFrom(POLICY), {
      fixedIdentity: undefined,
      identify: async () => {
        throw new Error("no /proc entry");
      },
    });
    try {
      const t = await connectTunnel(other.port, "api.github.com:443");
      const body = JSON.parse(await readAll(t.socket, t.rest));
      assert.equal(t.status, 403);
      assert.equal(body.binary, "unknown");
    } finally {
      await other.close();
    }
  });
});

describe("L7 over terminated TLS", () => {
  test("GET allowed and forwarded with the right Host", async () => {
    const r = await l7(["https://api.github.com/repos/o/r"]);
    assert.equal(r.status, 200, r.body);
    const echo = JSON.parse(r.body);
    assert.deepEqual([echo.method, echo.url, echo.host], ["GET", "/repos/o/r", "api.github.com"]);
  });

  test("PUT denied: every field of the structured body", async () => {
    const before = up.seen.length;
    const r = await l7([
      "-X",
      "PUT",
      "--data",
      "x",
      "https://api.github.com/repos/o/r/contents/x.md?ref=main",
    ]);
    assert.equal(r.status, 403);
    assert.match(r.headers, /content-type: application\/json/i);
    assert.match(r.headers, /x-airlock-policy: github_api/i);
    assert.match(r.headers, /connection: close/i);
    const body = JSON.parse(r.body);
    const routes = POLICY_LOCAL_ROUTES.filter((x) => x.nextStep);
    assert.deepEqual(Object.keys(body), [
      "error",
      "layer",
      "protocol",
      "method",
      "path",
      "host",
      "port",
      "binary",
      "policy",
      "rule",
      "reason",
      "detail",
      "rule_missing",
      "next_steps",
      "agent_guidance",
    ]);
    assert.deepEqual(
      { ...body, agent_guidance: typeof body.agent_guidance },
      {
        error: "policy_denied",
        layer: "l7",
        protocol: "rest",
        method: "PUT",
        path: "/repos/o/r/contents/x.md",
        host: "api.github.com",
        port: 443,
        binary: "/usr/bin/curl",
        policy: "github_api",
        rule: "PUT /repos/o/r/contents/x.md",
        reason: "no allow rule matches",
        detail: "PUT /repos/o/r/contents/x.md not permitted by policy",
        rule_missing: {
          type: "rest_allow",
          layer: "l7",
          host: "api.github.com",
          port: 443,
          method: "PUT",
          path: "/repos/o/r/contents/x.md",
          binary: "/usr/bin/curl",
        },
        next_steps: [
          { action: "read_skill", path: "/etc/airlock/skills/policy_advisor.md" },
          { action: "inspect_policy", method: "GET", url: "http://policy.local/v1/policy/current" },
          { action: "inspect_recent_denials", method: "GET", url: "http://policy.local/v1/denials?last=5" },
          { action: "submit_proposal", method: "POST", url: "http://policy.local/v1/proposals" },
        ],
        agent_guidance: "string",
      },
    );
    assert.equal(routes.length, 3);
    assert.equal(up.seen.length, before, "a denied request never reaches the upstream");
    const denial = p.denials.at(-1);
    assert.equal(denial?.layer, "l7");
    assert.equal(denial?.path, "/repos/o/r/contents/x.md");
  });

  test("an allowed narrow PUT goes through", async () => {
    const r = await l7([
      "-X",
      "PUT",
      "--data",
      "hello",
      "https://api.github.com/repos/acme/site/contents/docs/a.md",
    ]);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).bytes, 5);
  });

  test("deny rule beats allow (GET is read-only-allowed)", async () => {
    const r = await l7(["https://api.github.com/repos/o/r/rulesets/7"]);
    assert.equal(r.status, 403);
    const body = JSON.parse(r.body);
    assert.match(body.reason, /blocked by deny rule/);
    assert.equal(body.rule_missing, undefined);
  });

  test("query matching", async () => {
    const ok = await l7(["-X", "POST", "--data", "", "https://api.github.com/search?project=web&q=x"]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).url, "/search?project=web&q=x");
    const no = await l7(["-X", "POST", "--data", "", "https://api.github.com/search?project=evil"]);
    assert.equal(no.status, 403);
    assert.equal(JSON.parse(no.body).path, "/search");
  });

  test("%2F and %2e%2e traversal are refused; forwarded path is the canonical one", async () => {
    const slash = await l7([
      "--path-as-is",
      "-X",
      "PUT",
      "--data",
      "x",
      "https://api.github.com/repos/acme/site/contents/docs/a%2F..%2F..%2Fx",
    ]);
    assert.equal(slash.status, 403);
    const dots = await l7([
      "--path-as-is",
      "-X",
      "PUT",
      "--data",
      "x",
      "https://api.github.com/repos/acme/site/contents/docs/%2e%2e/%2e%2e/secrets",
    ]);
    assert.equal(dots.status, 403);
    assert.match(JSON.parse(dots.body).reason, /dot segment written with escapes/);
    const canon = await l7(["--path-as-is", "https://api.github.com/repos/o/./r/x/../y"]);
    assert.equal(canon.status, 200);
    assert.equal(JSON.parse(canon.body).url, "/repos/o/r/y");
  });

  test("SNI mismatch is denied (domain fronting)", async () => {
    const t = await connectTunnel(p.port, "api.github.com:443");
    assert.equal(t.status, 200);
    const tls = await tlsOverTunnel(t.socket, "evil.example.com", p.ca.certPem);
    const r = await requestOn(tls, "GET /repos/o/r HTTP/1.1\r\nHost: evil.example.com\r\n\r\n");
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).reason, /SNI "evil.example.com" does not match/);
    tls.destroy();
  });

  test("Host header mismatch is denied", async () => {
    const t = await connectTunnel(p.port, "api.github.com:443");
    const tls = await tlsOverTunnel(t.socket, "api.github.com", p.ca.certPem);
    const r = await requestOn(tls, "GET /repos/o/r HTTP/1.1\r\nHost: evil.example.com\r\n\r\n");
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).reason, /Host header evil\.example\.com:443 does not match/);
    tls.destroy();
  });

  test("a second Host header is denied (the upstream would see both)", async () => {
    const t = await connectTunnel(p.port, "api.github.com:443");
    const tls = await tlsOverTunnel(t.socket, "api.github.com", p.ca.certPem);
    const r = await requestOn(
      tls,
      "GET /repos/o/r HTTP/1.1\r\nHost: api.github.com\r\nHost: evil.example.com\r\n\r\n",
    );
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).reason, /more than one Host header/);
    tls.destroy();
    const plain = netConnect(p.port, "127.0.0.1");
    plain.write(
      "GET http://plain.example.com/a HTTP/1.1\r\nHost: plain.example.com\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n",
    );
    const text = await readAll(plain);
    assert.match(text, /^HTTP\/1.1 403/);
    assert.match(text, /more than one Host header/);
  });

  test("two requests on one keep-alive connection are decided separately; hot swap applies per request", async () => {
    const t = await connectTunnel(p.port, "api.github.com:443");
    const tls = await tlsOverTunnel(t.socket, "api.github.com", p.ca.certPem);
    assert.equal(tls.alpnProtocol, "http/1.1");
    const a = await requestOn(tls, "GET /repos/o/r HTTP/1.1\r\nHost: api.github.com\r\n\r\n");
    assert.equal(a.status, 200);
    const b = await requestOn(tls, "GET /repos/o/r/issues HTTP/1.1\r\nHost: api.github.com\r\n\r\n");
    assert.equal(b.status, 200);
    const gen = p.proxy.generationId;
    p.proxy.setPolicy(policyFrom(POLICY.replace('path: "/repos/*/*/rulesets/**"', 'path: "/repos/**"')));
    try {
      assert.equal(p.proxy.generationId, gen + 1);
      const c = await requestOn(tls, "GET /repos/o/r HTTP/1.1\r\nHost: api.github.com\r\n\r\n");
      assert.equal(c.status, 403);
      assert.match(JSON.parse(c.body).reason, /blocked by deny rule "\* \/repos\/\*\*"/);
    } finally {
      p.proxy.setPolicy(policyFrom(POLICY));
      tls.destroy();
    }
    const d = await connectTunnel(p.port, "api.github.com:443");
    const tls2 = await tlsOverTunnel(d.socket, "api.github.com", p.ca.certPem);
    const e = await requestOn(
      tls2,
      "PUT /repos/o/r/x HTTP/1.1\r\nHost: api.github.com\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(e.status, 403);
    tls2.destroy();
  });

  test("an upgrade on a protocol: rest endpoint is refused even where GET is allowed", async () => {
    const seen = up.seen.length;
    const t = await connectTunnel(p.port, "api.github.com:443");
    const tls = await tlsOverTunnel(t.socket, "api.github.com", p.ca.certPem);
    tls.write(
      "GET /ws HTTP/1.1\r\nHost: api.github.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nDELETE /repos/o/r HTTP/1.1\r\nHost: api.github.com\r\n\r\n",
    );
    const got = await readAll(tls);
    assert.match(got, /^HTTP\/1.1 403/);
    const body = JSON.parse(got.slice(got.indexOf("\r\n\r\n") + 4));
    assert.equal(body.error, "policy_denied");
    assert.match(body.reason, /protocol: rest endpoint does not grant it/);
    const t2 = await connectTunnel(p.port, "api.github.com:443");
    const tls2 = await tlsOverTunnel(t2.socket, "api.github.com", p.ca.certPem);
    tls2.write("GET /ws HTTP/1.1\r\nHost: api.github.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    assert.match(JSON.parse((await readAll(tls2)).split("\r\n\r\n")[1] as string).reason, /"h2c" refused/);
    assert.equal(up.seen.length, seen, "the upstream saw none of it");
  });

  test("audit-mode endpoints let violations through and log them", async () => {
    const r = await l7(["-X", "DELETE", "https://audit.example.com/things/1"]);
    assert.equal(r.status, 200, r.body);
    const log = readLogs(p.logDir).shorthand;
    assert.match(log, /HTTP:DELETE \[LOW\] AUDIT DELETE https:\/\/audit.example.com:443\/things\/1/);
  });
});

describe("upstream failures", () => {
  test("502 upstream_unreachable as {error, detail} at L7 and for tunnels", async () => {
    const r = await l7(["https://down.example.com/x"]);
    assert.equal(r.status, 502);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ["error", "detail"]);
    assert.equal(body.error, "upstream_unreachable");
    assert.match(body.detail, /ECONNREFUSED/);
    const t = await connectTunnel(p.port, "down4.example.com:443");
    assert.equal(t.status, 502);
    assert.equal(JSON.parse(await readAll(t.socket, t.rest)).error, "upstream_unreachable");
  });
});

describe("SSRF guard and DNS pinning", () => {
  test("a name resolving to a private address is denied", async () => {
    const t = await connectTunnel(p.port, "internal.example.com:443");
    const body = JSON.parse(await readAll(t.socket, t.rest));
    assert.equal(t.status, 403);
    assert.match(body.reason, /10\.1\.2\.3.*allowed_ips/);
    const loop = await connectTunnel(p.port, "loop.example.com:443");
    assert.equal(loop.status, 403);
    assert.match(JSON.parse(await readAll(loop.socket, loop.rest)).reason, /loopback/);
  });

  test("loopback is denied without a connect-to override (CONNECT and forward)", async () => {
    const t = await connectTunnel(p.port, `127.0.0.1:${up.port}`);
    assert.equal(t.status, 403);
    await readAll(t.socket, t.rest);
    const f = await viaCurl([`http://127.0.0.1:${plain.port}/x`]);
    assert.equal(f.status, 403);
    assert.match(JSON.parse(f.body).reason, /loopback/);
  });

  test("a resolver that changes its answer cannot redirect the dial", async () => {
    rebindLookups = 0;
    const t = await connectTunnel(p.port, "rebind.example.com:443", 20_000);
    // 200 if something answers on the TEST-NET address here, 502 when the dial fails or times out.
    assert.ok([200, 502].includes(t.status), t.head);
    t.socket.destroy();
    assert.equal(rebindLookups, 1, "the name is resolved exactly once");
    const events = readLogs(p.logDir)
      .jsonl.trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((e) => e.dst_endpoint?.hostname === "rebind.example.com");
    assert.equal(events.length, 1);
    // The proxy dialled the address it checked, never the later 127.0.0.1.
    assert.equal(events[0].dst_endpoint.ip, TEST_NET);
    assert.equal(events[0].action, "Allowed");
  });
});

describe("forward proxy and policy.local", () => {
  test("absolute-form http:// gets L4 and L7 checks", async () => {
    const ok = await viaCurl(["http://plain.example.com/a?x=1"]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).url, "/a?x=1");
    const denied = await viaCurl(["-X", "POST", "--data", "x", "http://plain.example.com/a"]);
    assert.equal(denied.status, 403);
    const body = JSON.parse(denied.body);
    assert.deepEqual([body.layer, body.protocol, body.method, body.path], ["l7", "rest", "POST", "/a"]);
    const l4 = await viaCurl(["-X", "POST", "--data", "x", "http://plainl4.example.com/b"]);
    assert.equal(l4.status, 200);
    const nohost = await viaCurl(["http://nowhere.example.com/"]);
    assert.equal(nohost.status, 403);
    assert.equal(JSON.parse(nohost.body).layer, "l4");
  });

  test("policy.local: port 80 only; router hook receives the identity", async () => {
    const bad = await viaCurl(["http://policy.local:8080/v1/policy/current"]);
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error, "invalid_policy_local_scheme");
    const none = await viaCurl(["http://policy.local/v1/policy/current"]);
    assert.equal(none.status, 404);
    const routed = await startProxy(policyFrom(POLICY), {
      localRouter: (req, res, identity) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ url: req.url, binary: identity?.binary }));
      },
    });
    try {
      const r = await curl(routed.port, ["http://policy.local/v1/denials?last=3"]);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), {
        url: "http://policy.local/v1/denials?last=3",
        binary: "/usr/bin/curl",
      });
    } finally {
      await routed.close();
    }
  });
});

describe("limits", () => {
  test("a client that never finishes its headers is cut at the timeout", async () => {
    const socket = netConnect(p.port, "127.0.0.1");
    socket.write("GET http://plain.example.com/ HTTP/1.1\r\nHost: plain.example.com\r\nX-Slow: ");
    const text = await readAll(socket, Buffer.alloc(0), 15_000);
    assert.match(text, /^HTTP\/1.1 408/);
    assert.match(text, /request_timeout/);
    await new Promise((r) => setTimeout(r, 50));
    assert.match(
      readLogs(p.logDir).shorthand,
      /NET:REFUSE \[LOW\] DENIED CONNECT -:0 \[policy:- engine:limits\] \[reason:request head not received within 1500 ms\]/,
    );
  });

  test("oversized headers get 431", async () => {
    const r = await viaCurl(["-H", `X-Big: ${"a".repeat(40_000)}`, "http://plain.example.com/"]);
    assert.equal(r.status, 431);
  });

  test("the connection cap answers 503", async () => {
    const capped = await startProxy(policyFrom(POLICY), { limits: { maxConnections: 1 } });
    try {
      const first = netConnect(capped.port, "127.0.0.1");
      await new Promise((r) => first.once("connect", r));
      await new Promise((r) => setTimeout(r, 50));
      const second = netConnect(capped.port, "127.0.0.1");
      const text = await readAll(second);
      assert.match(text, /^HTTP\/1.1 503/);
      assert.match(text, /connection_limit/);
      first.destroy();
    } finally {
      await capped.close();
    }
  });
});

function readLogs(dir: string): { shorthand: string; jsonl: string } {
  let shorthand = "";
  let jsonl = "";
  for (const name of readdirSync(dir)) {
    const text = readFileSync(join(dir, name), "utf8");
    if (name.endsWith(".log")) shorthand += text;
    if (name.endsWith(".jsonl")) jsonl += text;
  }
  return { shorthand, jsonl };
}

describe("logs", () => {
  test("no secret from a query string, header or userinfo reaches either log", async () => {
    await l7([
      "-H",
      "Authorization: Bearer SECRET_HEADER_1",
      "https://api.github.com/repos/o/r?token=SECRET_QUERY_1",
    ]);
    await l7([
      "-X",
      "PUT",
      "-H",
      "X-Api-Key: SECRET_HEADER_2",
      "https://api.github.com/x?access_token=SECRET_QUERY_2",
    ]);
    await viaCurl([
      "-H",
      "Cookie: s=SECRET_HEADER_3",
      "http://user:SECRET_PASS_1@plain.example.com/p?k=SECRET_QUERY_3",
    ]);
    await viaCurl(["http://user:SECRET_PASS_2@nowhere.example.com/p?k=SECRET_QUERY_4"]);
    const { shorthand, jsonl } = readLogs(p.logDir);
    assert.ok(shorthand.length > 0 && jsonl.length > 0);
    for (const text of [shorthand, jsonl]) {
      assert.doesNotMatch(text, /SECRET_/);
      assert.match(text, /\?\[redacted\]/);
    }
    assert.match(
      shorthand,
      /OCSF HTTP:PUT \[MED\] DENIED PUT https:\/\/api.github.com:443\/x\?\[redacted\] \[policy:github_api engine:l7\] \[reason:no allow rule matches\]/,
    );
    for (const line of jsonl.trim().split("\n")) {
      const e = JSON.parse(line);
      assert.ok([4001, 4002].includes(e.class_uid));
      assert.equal(e.metadata.product.name, "Airlock");
    }
  });
});
