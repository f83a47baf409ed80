// The request-form checks and method-override carriers (src/proxy/request-checks.ts). Pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { compilePolicy } from "../../src/policy/engine.ts";
import {
  bodyMethods,
  carriedHostProblem,
  carriedMethods,
  carriedTargets,
  decideCarried,
  decideCarriedTargets,
  decodedBody,
  everyMethodAllowed,
  expectsFormBody,
  requestFormProblem,
} from "../../src/proxy/request-checks.ts";
import { policyFrom } from "./helpers.ts";

test("Connection may name hop-by-hop headers only", () => {
  assert.equal(requestFormProblem("POST", "/a", ["Connection", "keep-alive, Upgrade, close, TE"]), null);
  for (const named of ["Host", "content-length", "Authorization", "X-HTTP-Method-Override", "x-anything"]) {
    assert.match(
      requestFormProblem("POST", "/a", ["Host", "h", "Connection", `close, ${named}`]) ?? "",
      /Connection names/,
    );
  }
});

test("a transfer coding other than chunked alone is refused; the query is printable ASCII", () => {
  assert.equal(requestFormProblem("POST", "/a", ["Transfer-Encoding", "chunked"]), null);
  assert.match(
    requestFormProblem("POST", "/a", ["Transfer-Encoding", "gzip, chunked"]) ?? "",
    /chunked alone/,
  );
  assert.match(
    requestFormProblem("POST", "/a", ["Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"]) ?? "",
    /chunked alone/,
  );
  assert.equal(requestFormProblem("POST", "/a?x=[1]&y=a|b", []), null);
  assert.match(requestFormProblem("POST", "/a?x=\u00e9", []) ?? "", /query/);
  assert.match(requestFormProblem("POST", "/a?x=1#frag", []) ?? "", /query/);
});

test("override carriers: three headers, _method in the query and in a form, escaped or not", () => {
  const got = carriedMethods(
    ["X-HTTP-Method-Override", "delete", "x-http-method", "PUT", "X-Method-Override", " patch "],
    "a=1&%5Fmethod=purge",
  );
  assert.ok(got.ok);
  assert.deepEqual(
    got.methods.map((m) => m.method),
    ["DELETE", "PUT", "PATCH", "PURGE"],
  );
  assert.deepEqual(carriedMethods([], "_%6d%65thod=DELETE"), {
    ok: true,
    methods: [{ method: "DELETE", carrier: "_method in the query" }],
  });
  assert.deepEqual(bodyMethods(["form"], Buffer.from("a=1;_method=DELETE")), {
    ok: true,
    methods: [{ method: "DELETE", carrier: "_method in the form" }],
  });
  assert.equal(carriedMethods(["X-HTTP-Method", "DELETE /x"], "").ok, false);
  assert.equal(carriedMethods([], "_method=%zz").ok, false);
});

test("carriers as PHP and CGI servers read them: _ for -, PHP's field-name mangling", () => {
  const names = (c: ReturnType<typeof carriedMethods>) => (c.ok ? c.methods.map((m) => m.method) : c.reason);
  assert.deepEqual(names(carriedMethods(["X_HTTP_Method_Override", "DELETE"], "")), ["DELETE"]);
  for (const key of [".method", "[method", "_method[]", "_METHOD", "%20_method"]) {
    assert.deepEqual(names(carriedMethods([], `${key}=DELETE`)), ["DELETE"], key);
  }
  assert.deepEqual(names(carriedMethods([], "method=card&x_method=card")), []);
});

test("_method fields in multipart and JSON bodies", () => {
  const mp = (name: string, value: string) =>
    Buffer.from(`--b\r\nContent-Disposition: form-data; name=${name}\r\n\r\n${value}\r\n--b--\r\n`);
  const methods = (c: ReturnType<typeof bodyMethods>) => (c.ok ? c.methods.map((m) => m.method) : c.reason);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp('"_method"', "DELETE"))), ["DELETE"]);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp("_method", "put"))), ["PUT"]);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp("'_method'", "PUT"))), ["PUT"]);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp('"\\_method"', "PUT"))), ["PUT"]);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp('\r\n\t"_method"', "PUT"))), ["PUT"]);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp(`"a"; filename="_method"`, "DELETE"))), []);
  assert.deepEqual(methods(bodyMethods(["multipart"], mp("\"x\"; name*=utf-8''%5Fmethod", "PATCH"))), [
    "PATCH",
  ]);
  assert.match(
    String(
      methods(bodyMethods(["multipart"], Buffer.from('Content-Disposition: form-data; name="_method"'))),
    ),
    /malformed/,
  );
  assert.deepEqual(methods(bodyMethods(["json"], Buffer.from('{"\\u005fmethod":"delete","a":1}'))), [
    "DELETE",
  ]);
  assert.deepEqual(methods(bodyMethods(["json"], Buffer.from('[{"_method":"DELETE"}]'))), ["DELETE"]);
  assert.match(
    String(methods(bodyMethods(["json"], Buffer.from('{"_method":["DELETE"]}')))),
    /does not name/,
  );
  assert.match(String(methods(bodyMethods(["json"], Buffer.from("{nope")))), /malformed JSON/);
});

test("a body on GET, HEAD or TRACE is refused; X-Original-URL is a target of its own", () => {
  assert.match(requestFormProblem("GET", "/a", ["Content-Length", "5"]) ?? "", /body on GET/);
  assert.match(requestFormProblem("HEAD", "/a", ["Transfer-Encoding", "chunked"]) ?? "", /body on HEAD/);
  assert.equal(requestFormProblem("GET", "/a", ["Content-Length", "0"]), null);
  assert.deepEqual(carriedTargets(["X-Original-URL", "/admin", "X_Rewrite_URL", "/b"]), {
    ok: true,
    targets: [
      { target: "/admin", carrier: "X-Original-URL" },
      { target: "/b", carrier: "X_Rewrite_URL" },
    ],
  });
  assert.equal(carriedTargets(["X-Rewrite-URL", "admin"]).ok, false);
});

test("each carried method must be allowed too", () => {
  const cp = compilePolicy(
    policyFrom(`
version: 1
network_policies:
  gh:
    endpoints:
      - { host: api.github.com, port: 443, protocol: rest, access: read-write }
    binaries: [{ path: /usr/bin/curl }]
`),
  );
  const input = {
    host: "api.github.com",
    port: 443,
    binary: "/usr/bin/curl",
    method: "POST",
    path: "/repos/o/r",
  };
  assert.equal(decideCarried(cp, input, [{ method: "PUT", carrier: "X-HTTP-Method" }]), null);
  const d = decideCarried(cp, input, [{ method: "DELETE", carrier: "X-HTTP-Method" }]);
  assert.equal(d?.decision, "deny");
  assert.match(d?.reason ?? "", /^X-HTTP-Method asks for DELETE: no allow rule matches/);
});

test("every method allowed: only when no rule the request meets tells methods apart", () => {
  const cp = compilePolicy(
    policyFrom(`
version: 1
network_policies:
  web:
    endpoints:
      - { host: full.test, port: 80, protocol: rest, access: full }
      - host: guarded.test
        port: 80
        protocol: rest
        access: full
        deny_rules:
          - { method: DELETE, path: "/admin/**" }
      - { host: some.test, port: 80, protocol: rest, access: read-write }
      - host: ruled.test
        port: 80
        protocol: rest
        rules:
          - allow: { method: "*", path: "/open/**" }
          - allow: { method: POST, path: "/forms/**" }
    binaries: [{ path: /usr/bin/curl }]
`),
  );
  const on = (host: string, path: string) => ({
    host,
    port: 80,
    binary: "/usr/bin/curl",
    method: "POST",
    path,
  });
  assert.equal(everyMethodAllowed(cp, on("full.test", "/a")), true);
  assert.equal(everyMethodAllowed(cp, on("guarded.test", "/a")), true, "the deny rule is on another path");
  assert.equal(everyMethodAllowed(cp, on("guarded.test", "/admin/x")), false);
  assert.equal(everyMethodAllowed(cp, on("some.test", "/a")), false);
  assert.equal(everyMethodAllowed(cp, on("ruled.test", "/open/x")), true);
  assert.equal(everyMethodAllowed(cp, on("ruled.test", "/forms/x")), false);
  assert.equal(everyMethodAllowed(cp, { ...on("full.test", "/a"), binary: "/usr/bin/wget" }), false);
});

test("a urlencoded body, or a POST body without a type, is read for its _method field", () => {
  const form = ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8", "Content-Length", "9"];
  assert.deepEqual(expectsFormBody("POST", form), ["form"]);
  assert.deepEqual(expectsFormBody("PUT", form), ["form"]);
  assert.deepEqual(expectsFormBody("POST", ["Content-Length", "9"]), ["form"]);
  assert.deepEqual(expectsFormBody("PUT", ["Content-Length", "9"]), []);
  assert.deepEqual(expectsFormBody("POST", ["Content-Type", "application/json", "Content-Length", "9"]), [
    "json",
  ]);
  assert.deepEqual(
    expectsFormBody("POST", ["Content-Type", "multipart/form-data; boundary=b", "Content-Length", "9"]),
    ["multipart"],
  );
  assert.deepEqual(expectsFormBody("POST", ["Content-Type", "text/plain", "Content-Length", "9"]), []);
  assert.deepEqual(
    expectsFormBody("POST", ["Content-Type", "application/x-www-form-urlencoded", "Content-Length", "0"]),
    [],
  );
  // An empty media type is none (Rack reads the POST as a form); several types: each one.
  assert.deepEqual(expectsFormBody("POST", ["Content-Type", "", "Content-Length", "9"]), ["form"]);
  assert.deepEqual(expectsFormBody("POST", ["Content-Type", "; charset=utf-8", "Content-Length", "9"]), [
    "form",
  ]);
  assert.deepEqual(
    expectsFormBody("POST", [
      "Content-Type",
      "application/json",
      "Content-Type",
      "multipart/form-data; boundary=b",
      "Content-Length",
      "9",
    ]),
    ["multipart", "json"],
  );
});

test("a carried target is decided with every carried method too", () => {
  const cp = compilePolicy(
    policyFrom(`
version: 1
network_policies:
  gh:
    endpoints:
      - host: api.github.com
        port: 443
        protocol: rest
        rules:
          - allow: { method: POST, path: "/a/**" }
          - allow: { method: DELETE, path: "/a/**" }
          - allow: { method: POST, path: "/b" }
    binaries: [{ path: /usr/bin/curl }]
`),
  );
  const input = { host: "api.github.com", port: 443, binary: "/usr/bin/curl", method: "POST", path: "/a/x" };
  const targets = [{ target: "/b", carrier: "X-Original-URL" }];
  assert.equal(decideCarriedTargets(cp, input, targets, []), null);
  const d = decideCarriedTargets(cp, input, targets, [{ method: "DELETE", carrier: "X-HTTP-Method" }]);
  assert.match(d?.reason ?? "", /^X-Original-URL asks for DELETE \/b: /);
});

test("decodedBody: a body is read as a server that inflates it reads it, or refused", () => {
  const form = Buffer.from("_method=DELETE");
  const read = (encoding: string | null, body: Buffer, max = 1024) => {
    const r = decodedBody(encoding === null ? [] : ["Content-Encoding", encoding], body, max);
    return r.ok ? r.body.toString() : r.reason;
  };
  assert.equal(read(null, form), "_method=DELETE");
  assert.equal(read("identity", form), "_method=DELETE");
  assert.equal(read("gzip", gzipSync(form)), "_method=DELETE");
  assert.equal(read("X-GZIP", gzipSync(form)), "_method=DELETE");
  assert.equal(read("deflate", deflateSync(form)), "_method=DELETE");
  assert.equal(read("br", brotliCompressSync(form)), "_method=DELETE");
  assert.equal(read("deflate, gzip", gzipSync(deflateSync(form))), "_method=DELETE", "undone last first");
  assert.match(read("compress", form), /Content-Encoding compress: the body cannot be read/);
  assert.match(read("gzip", form), /does not decode within 1024 bytes/);
  assert.match(read("gzip", gzipSync(Buffer.alloc(4096))), /does not decode within 1024 bytes/);
});

test("bodyMethods: every string member of a JSON body at any depth, repeated keys included", () => {
  const methods = (text: string) => {
    const r = bodyMethods(["json"], Buffer.from(text));
    return r.ok ? r.methods.map((m) => m.method) : r.reason;
  };
  assert.deepEqual(methods('{"_method":"DELETE","_method":"POST"}'), ["DELETE", "POST"]);
  assert.deepEqual(methods('{"title":"\\"_method\\":\\"DELETE\\"","n":1}'), [], "inside a string is text");
  assert.deepEqual(methods('{"\\u005fmethod":"delete"}'), ["DELETE"]);
  assert.deepEqual(
    methods('{"a":{"_method":"PATCH"},"b":["_method"]}'),
    ["PATCH"],
    "nested; an element is no key",
  );
  assert.deepEqual(methods('[{"x":[{"_METHOD":"put"}]}]'), ["PUT"], "inside arrays, any case");
  assert.deepEqual(methods(`${"[".repeat(50_000)}{"_method":"DELETE"}${"]".repeat(50_000)}`), ["DELETE"]);
  assert.deepEqual(methods('{"a":{"b":"_method"},"c":"x"}'), [], "a value is no key");
  assert.match(methods('{"_method":5}') as string, /does not name an HTTP method/);
  assert.match(methods('{"a":{"_method":["DELETE"]}}') as string, /does not name an HTTP method/);
});

test("carriedHostProblem: hosts a server may route by must be the decided one", () => {
  const check = (name: string, value: string) =>
    carriedHostProblem([name, value], "API.example.com", 443, 443);
  assert.equal(check("X-Forwarded-Host", "api.example.com"), null);
  assert.equal(check("X-Forwarded-Host", "api.example.com:443, API.EXAMPLE.COM."), null);
  assert.equal(check("Forwarded", 'for=192.0.2.1;host="api.example.com";proto=https'), null);
  assert.equal(check("X-Forwarded-For", "evil.example.com"), null, "not a host header");
  for (const [name, value] of [
    ["X-Forwarded-Host", "evil.example.com"],
    ["x_forwarded_host", "evil.example.com"],
    ["X-Forwarded-Host", "api.example.com:8443"],
    ["X-Forwarded-Host", "api.example.com, evil.example.com"],
    ["X-Host", "evil.example.com"],
    ["X-Original-Host", "evil.example.com"],
    ["Forwarded", "for=x, host=evil.example.com"],
    ["X-Forwarded-Host", ""],
  ] as const) {
    assert.match(
      check(name, value) ?? "",
      /names another host than api\.example\.com:443/,
      `${name}: ${value}`,
    );
  }
});
