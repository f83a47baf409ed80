import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkAddresses,
  compilePolicy,
  decideConnect,
  decideRequest,
  grantsToChildren,
} from "../../src/policy/engine.ts";
import { parseIp } from "../../src/policy/ip.ts";
import { policyFrom } from "./helpers.ts";

function compile(yaml: string) {
  return compilePolicy(policyFrom(yaml));
}

const cp = compile(`
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
          - allow: { method: GET, path: "/search/code", query: { q: "repo:acme/*", per_page: { any: ["10", "50"] } } }
        deny_rules:
          - { method: "*", path: "/repos/*/*/rulesets/**" }
          - { method: GET, path: "/repos/acme/secret/**" }
    binaries:
      - path: /usr/bin/curl
  registry:
    endpoints:
      - { host: registry.npmjs.org, port: 443 }
      - { host: "*.pkg.example.com", ports: [443, 8443] }
      - { host: "**.cdn.example.com", port: 443 }
    binaries:
      - path: /usr/**/node
      - path: /opt/tools/bin/np?
  github_raw_for_git:
    endpoints:
      - { host: api.github.com, port: 443 }
    binaries:
      - path: /usr/lib/git-core/git-remote-https
  audited:
    endpoints:
      - host: audit.example.com
        port: 443
        protocol: rest
        enforcement: audit
        access: read-only
        deny_rules: [{ path: "/admin/**" }]
    binaries: [{ path: /usr/bin/curl }]
  internal:
    endpoints:
      - host: cache.internal.example.com
        port: 443
        allowed_ips: [10.20.0.0/16]
    binaries: [{ path: /usr/bin/curl }]
  encoded:
    endpoints:
      - host: gitlab.example.com
        port: 443
        protocol: rest
        allow_encoded_slash: true
        rules: [{ allow: { method: GET, path: "/api/v4/projects/*/issues" } }]
    binaries: [{ path: /usr/bin/curl }]
`);

const curl = { binary: "/usr/bin/curl" };
function req(method: string, path: string, host = "api.github.com", identity = curl) {
  return decideRequest(cp, { ...identity, host, port: 443, method, path });
}

test("L4: unknown host is denied with an l4_allow rule_missing", () => {
  const d = decideConnect(cp, "evil.example.org", 443, curl);
  assert.equal(d.decision, "deny");
  assert.equal(d.policy, null);
  assert.match(d.reason, /no rule allows evil\.example\.org:443/);
  assert.deepEqual(d.ruleMissing, {
    type: "l4_allow",
    layer: "l4",
    host: "evil.example.org",
    port: 443,
    binary: "/usr/bin/curl",
  });
});

test("L4: right host, wrong port is denied", () => {
  assert.equal(decideConnect(cp, "api.github.com", 80, curl).decision, "deny");
});

test("L4: rest endpoint allows the connection and asks for inspection", () => {
  const d = decideConnect(cp, "API.GITHUB.COM.", 443, curl);
  assert.equal(d.decision, "allow");
  assert.equal(d.inspect, true);
  assert.equal(d.policy, "github_api");
});

test("binaries: another binary is denied and the reason names the rules that would match", () => {
  const d = decideConnect(cp, "api.github.com", 443, { binary: "/usr/bin/python3" });
  assert.equal(d.decision, "deny");
  assert.match(
    d.reason,
    /binary not allowed: \/usr\/bin\/python3 is not listed for api\.github\.com:443 \(rules: github_api, github_raw_for_git\)/,
  );
  assert.equal(d.ruleMissing?.type, "l4_allow");
});

test("binaries: a listed symlink is not its target, and the reason says so", () => {
  const policy = policyFrom(`
version: 1
network_policies:
  py:
    endpoints: [{ host: pypi.org, port: 443 }]
    binaries: [{ path: /usr/bin/python3 }, { path: /usr/bin/curl }]
`);
  const facts = { symlinks: new Map([["/usr/bin/python3", "/usr/bin/python3.11"]]) };
  const d = decideConnect(compilePolicy(policy, facts), "pypi.org", 443, { binary: "/usr/bin/python3.11" });
  assert.equal(d.decision, "deny");
  assert.match(
    d.reason,
    /; the policy lists \/usr\/bin\/python3, a symlink to \/usr\/bin\/python3\.11: programs are identified by the file they run, so list \/usr\/bin\/python3\.11$/,
  );
  const other = decideConnect(compilePolicy(policy, facts), "pypi.org", 443, { binary: "/usr/bin/node" });
  assert.doesNotMatch(other.reason, /symlink/);
  const noFacts = decideConnect(compilePolicy(policy), "pypi.org", 443, { binary: "/usr/bin/python3.11" });
  assert.doesNotMatch(noFacts.reason, /symlink/);
});

test("binaries: an ancestor grants only where its rule says children: true", () => {
  // A process can exec into a listed binary and leave children behind: without the opt-in the
  // ancestor chain grants nothing.
  const execd = { binary: "/usr/bin/python3", ancestors: ["/usr/bin/bash", "/usr/bin/curl"] };
  assert.equal(decideConnect(cp, "api.github.com", 443, execd).decision, "deny");
  const parents = compile(`
version: 1
network_policies:
  agent:
    endpoints: [{ host: api.example.com, port: 443 }]
    binaries: [{ path: /usr/bin/claude, children: true }, { path: /usr/bin/curl }]
`);
  const child = { binary: "/usr/bin/python3", ancestors: ["/usr/bin/bash", "/usr/bin/claude"] };
  assert.equal(decideConnect(parents, "api.example.com", 443, child).decision, "allow");
  const underCurl = { binary: "/usr/bin/python3", ancestors: ["/usr/bin/curl"] };
  assert.equal(decideConnect(parents, "api.example.com", 443, underCurl).decision, "deny");
  assert.equal(grantsToChildren(parents.policy), true);
  assert.equal(grantsToChildren(cp.policy), false);
});

test("binaries: ** and ? globs", () => {
  assert.equal(
    decideConnect(cp, "registry.npmjs.org", 443, { binary: "/usr/local/bin/node" }).decision,
    "allow",
  );
  assert.equal(decideConnect(cp, "registry.npmjs.org", 443, { binary: "/usr/bin/node" }).decision, "allow");
  assert.equal(
    decideConnect(cp, "registry.npmjs.org", 443, { binary: "/opt/tools/bin/npx" }).decision,
    "allow",
  );
  assert.equal(
    decideConnect(cp, "registry.npmjs.org", 443, { binary: "/opt/tools/bin/npxx" }).decision,
    "deny",
  );
  assert.equal(decideConnect(cp, "registry.npmjs.org", 443, { binary: "/home/u/node" }).decision, "deny");
});

test("binaries: a glob matches only an executable the host put there; an exact path wherever it lies", () => {
  const copy = { binary: "/usr/local/bin/node", writable: ["/usr/local/bin/node"] };
  const denied = decideConnect(cp, "registry.npmjs.org", 443, copy);
  assert.equal(denied.decision, "deny");
  assert.match(
    denied.reason,
    /\/usr\/local\/bin\/node matches the glob \/usr\/\*\*\/node but lies on a writable mount: a glob names only host-installed executables/,
  );
  assert.equal(
    decideConnect(cp, "registry.npmjs.org", 443, { binary: "/usr/local/bin/node" }).decision,
    "allow",
  );
  const exact = { binary: "/usr/bin/curl", writable: ["/usr/bin/curl"] };
  assert.equal(decideConnect(cp, "api.github.com", 443, exact).decision, "allow");
  const parents = compile(`
version: 1
network_policies:
  agent:
    endpoints: [{ host: api.example.com, port: 443 }]
    binaries: [{ path: /**/claude, children: true }]
`);
  const child = { binary: "/usr/bin/python3", ancestors: ["/tmp/claude"] };
  assert.equal(decideConnect(parents, "api.example.com", 443, child).decision, "allow");
  const underCopy = { ...child, writable: ["/tmp/claude"] };
  assert.equal(decideConnect(parents, "api.example.com", 443, underCopy).decision, "deny");
  const noNote = decideConnect(cp, "registry.npmjs.org", 443, { binary: "/tmp/x", writable: ["/tmp/x"] });
  assert.doesNotMatch(noNote.reason, /writable mount/);
});

test("a raw L4 endpoint for the same host:port wins over inspection for its binary only", () => {
  const git = decideConnect(cp, "api.github.com", 443, { binary: "/usr/lib/git-core/git-remote-https" });
  assert.equal(git.decision, "allow");
  assert.equal(git.inspect, false);
  assert.equal(git.policy, "github_raw_for_git");
  const r = decideRequest(cp, {
    binary: "/usr/lib/git-core/git-remote-https",
    host: "api.github.com",
    port: 443,
    method: "DELETE",
    path: "/x",
  });
  assert.equal(r.decision, "allow");
  assert.equal(r.layer, "l4");
});

test("wildcards: one label, many labels, ports", () => {
  const node = { binary: "/usr/bin/node" };
  assert.equal(decideConnect(cp, "eu.pkg.example.com", 8443, node).decision, "allow");
  assert.equal(decideConnect(cp, "a.eu.pkg.example.com", 443, node).decision, "deny");
  assert.equal(decideConnect(cp, "pkg.example.com", 443, node).decision, "deny");
  assert.equal(decideConnect(cp, "a.b.cdn.example.com", 443, node).decision, "allow");
  assert.equal(decideConnect(cp, "cdn.example.com", 443, node).decision, "deny");
});

test("L7: access preset allows reads, denies writes", () => {
  assert.equal(req("GET", "/repos/o/r").decision, "allow");
  assert.equal(req("head", "/repos/o/r").decision, "allow");
  assert.equal(req("OPTIONS", "/").decision, "allow");
  const put = req("PUT", "/repos/o/r/contents/x.md?ref=main&token=s3cret");
  assert.equal(put.decision, "deny");
  assert.equal(put.layer, "l7");
  assert.equal(put.policy, "github_api");
  assert.equal(put.reason, "no allow rule matches");
  assert.equal(put.path, "/repos/o/r/contents/x.md");
  assert.deepEqual(put.ruleMissing, {
    type: "rest_allow",
    layer: "l7",
    host: "api.github.com",
    port: 443,
    method: "PUT",
    path: "/repos/o/r/contents/x.md",
    binary: "/usr/bin/curl",
  });
  assert.equal(req("DELETE", "/repos/o/r").decision, "deny");
  assert.equal(req("POST", "/graphql").decision, "deny");
});

test("L7: methods compare case-insensitively and are reported upper-case", () => {
  const d = req("put", "/repos/acme/site/contents/docs/a.md");
  assert.equal(d.decision, "allow");
  assert.equal(d.method, "PUT");
});

test("L7: narrow rule allows exactly its path", () => {
  assert.equal(req("PUT", "/repos/acme/site/contents/docs/a/b.md").decision, "allow");
  assert.equal(req("PUT", "/repos/acme/site/contents/README.md").decision, "deny");
  assert.equal(req("PUT", "/repos/acme/site/contents/docs/../README.md").decision, "deny");
  assert.equal(req("PUT", "/repos/acme/site/contents/docs/%2e%2e/README.md").decision, "deny");
  assert.equal(req("PUT", "/repos/acme/site/contents/docs%2F..%2FREADME.md").decision, "deny");
});

test("L7: deny rules beat allows, and carry no rule_missing", () => {
  const d = req("GET", "/repos/acme/site/rulesets/1");
  assert.equal(d.decision, "deny");
  assert.match(d.reason, /blocked by deny rule "\* \/repos\/\*\/\*\/rulesets\/\*\*" in github_api/);
  assert.equal(d.ruleMissing, undefined);
  assert.equal(req("GET", "/repos/acme/secret/x").decision, "deny");
  assert.equal(req("GET", "/repos/acme/secret2/x").decision, "allow");
  assert.equal(req("GET", "/repos/acme/./secret/x").decision, "deny");
  assert.equal(req("GET", "//repos/acme/secret/x").decision, "deny");
});

test("L7: query matchers are matched separately from the path", () => {
  assert.equal(req("GET", "/search/code?q=repo:acme/site&per_page=10").decision, "allow");
  assert.equal(req("GET", "/search/code?q=repo%3Aacme%2Fsite&per_page=50").decision, "allow");
  assert.equal(req("GET", "/search/code?q=repo:other/site&per_page=10").decision, "allow"); // read-only preset allows any GET
  const strict = compile(`
version: 1
network_policies:
  s:
    endpoints:
      - host: s.example.com
        port: 443
        protocol: rest
        rules: [{ allow: { method: GET, path: /search, query: { q: "repo:acme/*", per_page: { any: ["10", "50"] } } } }]
    binaries: [{ path: /usr/bin/curl }]
`);
  const ask = (path: string) =>
    decideRequest(strict, { ...curl, host: "s.example.com", port: 443, method: "GET", path }).decision;
  assert.equal(ask("/search?q=repo:acme/site&per_page=10"), "allow");
  assert.equal(ask("/search?per_page=10&q=repo:acme/x&extra=1"), "allow");
  assert.equal(ask("/search?q=repo:other/site&per_page=10"), "deny");
  assert.equal(ask("/search?q=repo:acme/site&per_page=11"), "deny");
  assert.equal(ask("/search?q=repo:acme/site"), "deny");
  assert.equal(ask("/search?q=repo:acme/site&q=repo:evil/x&per_page=10"), "deny");
  assert.equal(ask("/search?q=%zz&per_page=10"), "deny");
});

test("L7: a deny rule matches every reading a server gives the request; an allow's query holds for all", () => {
  const denies = compile(`
version: 1
network_policies:
  d:
    endpoints:
      - host: d.example.com
        port: 443
        protocol: rest
        access: read-only
        deny_rules:
          - { method: GET, path: /admin }
          - { path: "/search", query: { q: "secret*" } }
      - host: q.example.com
        port: 443
        protocol: rest
        rules: [{ allow: { method: GET, path: /dl, query: { ref: main } } }]
    binaries: [{ path: /usr/bin/curl }]
`);
  const ask = (host: string, method: string, path: string) =>
    decideRequest(denies, { ...curl, host, port: 443, method, path }).decision;
  for (const path of ["/admin", "/ADMIN", "/Admin/", "/admin.json", "/admin/.", "/x/../admin"]) {
    assert.equal(ask("d.example.com", "GET", path), "deny", path);
  }
  assert.equal(ask("d.example.com", "HEAD", "/admin"), "deny", "servers run GET routes for HEAD");
  assert.equal(ask("d.example.com", "GET", "/admin/users"), "allow", "the deny names /admin alone");
  assert.equal(ask("d.example.com", "GET", "/administrator"), "allow");
  for (const query of ["q=x&q=secret", "q[]=secret", "Q=secret", "q=x;q=secret", "q=%zz"]) {
    assert.equal(ask("d.example.com", "GET", `/search?${query}`), "deny", query);
  }
  assert.equal(ask("d.example.com", "GET", "/search?q=public&other=secret"), "allow");
  assert.equal(ask("q.example.com", "GET", "/dl?ref=main"), "allow");
  for (const query of [
    "ref=main&ref[]=x",
    "ref=main&REF=x",
    "ref=main&%20ref=x",
    "ref=main;ref=x",
    "REF=main",
  ]) {
    assert.equal(ask("q.example.com", "GET", `/dl?${query}`), "deny", query);
  }
});

test("L7: encoded slashes only where allowed", () => {
  assert.equal(req("GET", "/api/v4/projects/group%2Fproj/issues", "gitlab.example.com").decision, "allow");
  assert.match(req("GET", "/repos/a%2Fb", "api.github.com").reason, /encoded slash/);
});

test("L7: audit enforcement lets violations through and says so", () => {
  const d = req("POST", "/admin/users", "audit.example.com");
  assert.equal(d.decision, "allow");
  assert.match(d.auditViolation ?? "", /deny rule/);
  const e = req("POST", "/items", "audit.example.com");
  assert.equal(e.decision, "allow");
  assert.equal(e.auditViolation, "no allow rule matches");
});

test("always blocked: loopback, link-local, metadata names, whatever the policy", () => {
  const open = compile(`
version: 1
network_policies:
  everything:
    endpoints:
      - { host: 127.0.0.1, port: 80 }
      - { host: 169.254.169.254, port: 80 }
      - { host: metadata.google.internal, port: 80 }
      - { host: localhost, port: 80 }
    binaries: [{ path: /usr/bin/curl }]
`);
  for (const host of [
    "127.0.0.1",
    "169.254.169.254",
    "metadata.google.internal",
    "localhost",
    "[::1]",
    "0.0.0.0",
    "x.localhost",
  ]) {
    const d = decideConnect(open, host, 80, curl);
    assert.equal(d.decision, "deny", host);
    assert.match(d.reason, /always blocked/);
    assert.equal(d.ruleMissing, undefined);
  }
});

test("SSRF: resolved addresses are classified and private ones need allowed_ips", () => {
  const internal = decideConnect(cp, "cache.internal.example.com", 443, curl);
  assert.equal(internal.decision, "allow");
  assert.deepEqual(checkAddresses(internal.endpoints, "cache.internal.example.com", ["10.20.1.2"]), {
    ok: true,
  });
  assert.match(checkAddresses(internal.endpoints, "h", ["10.21.0.1"]).ok ? "" : "private", /private/);
  const registry = decideConnect(cp, "registry.npmjs.org", 443, { binary: "/usr/bin/node" });
  assert.deepEqual(checkAddresses(registry.endpoints, "r", ["104.16.1.1", "2606:4700::1"]), { ok: true });
  for (const address of [
    "127.0.0.1",
    "::1",
    "169.254.169.254",
    "fe80::1",
    "::ffff:127.0.0.1",
    "0.0.0.0",
    "10.0.0.1",
    "192.168.1.1",
    "172.16.5.4",
    "100.64.0.1",
    "fd00::1",
  ]) {
    const verdict = checkAddresses(registry.endpoints, "registry.npmjs.org", ["104.16.1.1", address]);
    assert.equal(verdict.ok, false, address);
  }
  assert.equal(checkAddresses(registry.endpoints, "x", []).ok, false);
});

test("SSRF: the host's own addresses are blocked like loopback unless allowed_ips names exactly one", () => {
  const own = [parseIp("192.0.2.2"), parseIp("fd00::2")].filter((ip) => ip !== null);
  const local = compilePolicy(
    policyFrom(`
version: 1
network_policies:
  host_public:
    endpoints:
      - { host: 192.0.2.2, port: 8080 }
      - { host: box.example.com, port: 443, allowed_ips: [192.0.2.0/24, "fd00::/64"] }
      - { host: exact.example.com, port: 443, allowed_ips: [192.0.2.2/32] }
    binaries: [{ path: /usr/bin/curl }]
`),
  );
  const endpoints = (host: string, port: number) => decideConnect(local, host, port, curl).endpoints;
  // A public address of the host: open to any rule until the host's facts say whose it is.
  assert.equal(checkAddresses(endpoints("192.0.2.2", 8080), "192.0.2.2", ["192.0.2.2"]).ok, true);
  const literal = checkAddresses(endpoints("192.0.2.2", 8080), "192.0.2.2", ["192.0.2.2"], own);
  assert.equal(literal.ok, false);
  assert.match(
    literal.ok ? "" : literal.reason,
    /an address of this host, always blocked unless allowed_ips names exactly 192\.0\.2\.2/,
  );
  // A range that covers the host's address is not enough; the exact address is.
  assert.equal(checkAddresses(endpoints("box.example.com", 443), "box", ["192.0.2.2"], own).ok, false);
  assert.equal(checkAddresses(endpoints("box.example.com", 443), "box", ["fd00::2"], own).ok, false);
  assert.equal(checkAddresses(endpoints("box.example.com", 443), "box", ["192.0.2.9"], own).ok, true);
  assert.equal(checkAddresses(endpoints("exact.example.com", 443), "e", ["192.0.2.2"], own).ok, true);
  assert.equal(checkAddresses(endpoints("exact.example.com", 443), "e", ["::ffff:192.0.2.2"], own).ok, true);
  assert.equal(checkAddresses(endpoints("192.0.2.2", 8080), "m", ["::ffff:192.0.2.2"], own).ok, false);
});

test("L7: a path with ; is allowed only by a rule whose path names the ;", () => {
  const semi = compilePolicy(
    policyFrom(`
version: 1
network_policies:
  app:
    endpoints:
      - host: app.example.com
        port: 443
        protocol: rest
        access: read-only
        rules:
          - allow: { method: GET, path: "/matrix;v=1/**" }
    binaries: [{ path: /usr/bin/curl }]
`),
  );
  const get = (path: string) =>
    decideRequest(semi, { host: "app.example.com", port: 443, ...curl, method: "GET", path });
  assert.equal(get("/a/b").decision, "allow");
  const params = get("/a;jsessionid=1/b");
  assert.equal(params.decision, "deny");
  assert.match(params.reason, /needs a rule whose path names the ;/);
  assert.equal(get("/a%3Bx/b").decision, "deny");
  assert.equal(get("/matrix;v=1/x").decision, "allow");
  assert.match(get("/matrix;v=1/..;/admin").reason, /dot segment with parameters/);
});
