import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConnectTo } from "../../src/proxy/connect-to.ts";
import {
  hostHeaderIn,
  hostHeaderProblem,
  parseAbsoluteForm,
  parseAuthority,
  SEVERAL_HOST_HEADERS,
} from "../../src/proxy/http-target.ts";
import { decidedAuthority, forwardableHeaders } from "../../src/proxy/upstream.ts";

test("parseAuthority: names, IPv6, ports, junk", () => {
  assert.deepEqual(parseAuthority("API.GitHub.com:443"), { host: "api.github.com", port: 443 });
  assert.deepEqual(parseAuthority("[::1]:8443"), { host: "::1", port: 8443 });
  assert.deepEqual(parseAuthority("example.com", 80), { host: "example.com", port: 80 });
  assert.equal(parseAuthority("example.com"), null, "CONNECT needs a port");
  assert.equal(parseAuthority("example.com:0"), null);
  assert.equal(parseAuthority("example.com:70000"), null);
  assert.equal(parseAuthority("user@example.com:443"), null);
  assert.equal(parseAuthority("[nothex]:443"), null);
});

test("parseAbsoluteForm keeps the raw path (no dot-segment or %2e resolution), drops userinfo and fragment", () => {
  assert.deepEqual(parseAbsoluteForm("http://u:pw@Example.com:8080/a/%2e%2e/b?q=1#frag"), {
    scheme: "http",
    host: "example.com",
    port: 8080,
    target: "/a/%2e%2e/b?q=1",
  });
  assert.deepEqual(parseAbsoluteForm("http://example.com?x"), {
    scheme: "http",
    host: "example.com",
    port: 80,
    target: "/?x",
  });
  assert.equal(parseAbsoluteForm("/just/a/path"), null);
});

test("hostHeaderProblem never echoes a raw header value", () => {
  assert.equal(hostHeaderProblem("api.github.com", "api.github.com", 443, 443), null);
  assert.equal(hostHeaderProblem("api.github.com:443", "api.github.com", 443, 443), null);
  assert.match(hostHeaderProblem(undefined, "a.com", 443, 443) ?? "", /no Host header/);
  const weird = hostHeaderProblem("secret-token value!", "a.com", 443, 443) ?? "";
  assert.doesNotMatch(weird, /secret/);
  assert.match(
    hostHeaderProblem("b.com", "a.com", 443, 443) ?? "",
    /Host header b\.com:443 does not match a\.com:443/,
  );
});

test("hostHeaderIn sees every Host line", () => {
  assert.equal(hostHeaderIn(["HOST", "a.com", "Accept", "*/*"]), "a.com");
  assert.equal(hostHeaderIn(["Accept", "*/*"]), undefined);
  assert.equal(hostHeaderIn(["Host", "a.com", "host", "b.com"]), SEVERAL_HOST_HEADERS);
  assert.match(hostHeaderProblem(SEVERAL_HOST_HEADERS, "a.com", 443, 443) ?? "", /more than one Host header/);
});

test("parseConnectTo: curl syntax with clear errors", () => {
  assert.deepEqual(parseConnectTo("API.github.com:443:127.0.0.1:8443"), {
    host: "api.github.com",
    port: 443,
    address: "127.0.0.1",
    addressPort: 8443,
  });
  assert.equal(parseConnectTo("h:443:[::1]:8443").address, "::1");
  assert.throws(
    () => parseConnectTo("h:443:127.0.0.1"),
    /--connect-to h:443:127.0.0.1: expected HOST:PORT:ADDR:PORT2/,
  );
  assert.throws(() => parseConnectTo("h:99999:127.0.0.1:1"), /"99999" is not a port/);
});

test("hop-by-hop and proxy headers are not forwarded", () => {
  const raw = [
    "Host",
    "a.com",
    "Connection",
    "keep-alive, X-Drop",
    "X-Drop",
    "1",
    "Proxy-Authorization",
    "Basic x",
    "Transfer-Encoding",
    "chunked",
    "Accept",
    "*/*",
  ];
  assert.deepEqual(forwardableHeaders(raw), ["Host", "a.com", "Accept", "*/*"]);
});

test("decidedAuthority: the canonical name, the port only when not the scheme's default", () => {
  assert.equal(decidedAuthority("https", "API.Example.COM.", 443), "api.example.com");
  assert.equal(decidedAuthority("http", "plain.example.com.", 80), "plain.example.com");
  assert.equal(decidedAuthority("http", "a.com", 8080), "a.com:8080");
  assert.equal(decidedAuthority("https", "a.com", 80), "a.com:80");
  assert.equal(decidedAuthority("https", "[2001:DB8::1]", 8443), "[2001:db8::1]:8443");
  assert.deepEqual(forwardableHeaders(["hOsT", "A.COM", "Accept", "*/*"], false, "a.com"), [
    "hOsT",
    "a.com",
    "Accept",
    "*/*",
  ]);
});
