// The request-form checks and method-override carriers (src/proxy/request-checks.ts). Pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy } from "../../src/policy/engine.ts";
import {
  carriedMethods,
  decideCarried,
  expectsFormBody,
  requestFormProblem,
} from "../../src/proxy/request-checks.ts";
import { policyFrom } from "./helpers.ts";

test("Connection may name hop-by-hop headers only", () => {
  assert.equal(requestFormProblem("/a", ["Connection", "keep-alive, Upgrade, close, TE"]), null);
  for (const named of ["Host", "content-length", "Authorization", "X-HTTP-Method-Override", "x-anything"]) {
    assert.match(
      requestFormProblem("/a", ["Host", "h", "Connection", `close, ${named}`]) ?? "",
      /Connection names/,
    );
  }
});

test("a transfer coding other than chunked alone is refused; the query is printable ASCII", () => {
  assert.equal(requestFormProblem("/a", ["Transfer-Encoding", "chunked"]), null);
  assert.match(requestFormProblem("/a", ["Transfer-Encoding", "gzip, chunked"]) ?? "", /chunked alone/);
  assert.match(
    requestFormProblem("/a", ["Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"]) ?? "",
    /chunked alone/,
  );
  assert.equal(requestFormProblem("/a?x=[1]&y=a|b", []), null);
  assert.match(requestFormProblem("/a?x=\u00e9", []) ?? "", /query/);
  assert.match(requestFormProblem("/a?x=1#frag", []) ?? "", /query/);
});

test("override carriers: three headers, _method in the query and in a form, escaped or not", () => {
  const got = carriedMethods(
    ["X-HTTP-Method-Override", "delete", "x-http-method", "PUT", "X-Method-Override", " patch "],
    "a=1&%5Fmethod=purge",
    "x=1&_method=Trace",
  );
  assert.ok(got.ok);
  assert.deepEqual(
    got.methods.map((m) => m.method),
    ["DELETE", "PUT", "PATCH", "PURGE", "TRACE"],
  );
  assert.deepEqual(carriedMethods([], "_%6d%65thod=DELETE", null), {
    ok: true,
    methods: [{ method: "DELETE", carrier: "_method in the query" }],
  });
  assert.deepEqual(
    carriedMethods([], "", "a=1;_method=DELETE").ok && carriedMethods([], "", "a=1;_method=DELETE"),
    { ok: true, methods: [{ method: "DELETE", carrier: "_method in the form" }] },
  );
  assert.equal(carriedMethods(["X-HTTP-Method", "DELETE /x"], "", null).ok, false);
  assert.equal(carriedMethods([], "_method=%zz", null).ok, false);
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

test("a urlencoded body, or a POST body without a type, is read for its _method field", () => {
  const form = ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8", "Content-Length", "9"];
  assert.equal(expectsFormBody("POST", form), true);
  assert.equal(expectsFormBody("PUT", form), true);
  assert.equal(expectsFormBody("POST", ["Content-Length", "9"]), true);
  assert.equal(expectsFormBody("PUT", ["Content-Length", "9"]), false);
  assert.equal(expectsFormBody("POST", ["Content-Type", "application/json", "Content-Length", "9"]), false);
  assert.equal(
    expectsFormBody("POST", ["Content-Type", "application/x-www-form-urlencoded", "Content-Length", "0"]),
    false,
  );
});
