import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compilePathGlob,
  globsDisjoint,
  globWithin,
  normalizePath,
  pathReadings,
  queryReadings,
  readQueryKey,
} from "../../src/policy/path.ts";

const normal: Array<[string, string, string?]> = [
  ["/a/b", "/a/b"],
  ["/a/./b", "/a/b"],
  ["/a/../b", "/b"],
  ["/a/b/..", "/a/"],
  ["/../../etc/passwd", "/etc/passwd"],
  ["/a/b%2e/c", "/a/b./c"],
  ["/a;v=1/b", "/a;v=1/b"],
  ["//a//b", "/a/b"],
  ["/a/b/", "/a/b/"],
  ["/", "/"],
  ["/%7Euser/x%20y", "/~user/x y", "/~user/x%20y"],
  ["/caf%C3%A9", "/café", "/caf%C3%A9"],
  ["/repos/o/r/contents/x.md", "/repos/o/r/contents/x.md"],
];
for (const [raw, path, forward] of normal) {
  test(`path ${raw} normalizes to ${path}`, () => {
    const n = normalizePath(raw);
    assert.ok(n.ok, JSON.stringify(n));
    assert.equal(n.path, path);
    if (forward) assert.equal(n.forwardPath, forward);
  });
}

const rejected: Array<[string, RegExp, boolean?]> = [
  ["/a%2Fb", /encoded slash/],
  ["/a%2fb", /encoded slash/],
  ["/a%5Cb", /encoded slash/],
  ["/a%252e%252e/b", /double percent-encoding/],
  ["/a%25", /double percent-encoding/],
  ["/a%zz", /malformed percent-encoding/],
  ["/a%2", /malformed percent-encoding/],
  ["/a%00b", /control character/],
  ["/a%0d%0aHost:x", /control character/],
  ["/%C3%28", /invalid UTF-8/],
  ["relative", /must start with \//],
  ["/a/%2e%2e/b", /dot segment written with escapes/],
  ["/a/%2E%2E/%2e/b", /dot segment written with escapes/],
  ["/a/.%2e/b", /dot segment written with escapes/],
  ["/a/..;/admin", /dot segment with parameters/],
  ["/a/.;x/admin", /dot segment with parameters/],
  ["/a/%2e%2e;/admin", /dot segment/],
  ["/a/..%3b/admin", /dot segment with parameters/],
  ["/a\\..\\admin", /outside RFC 3986/],
  ["/a\\b", /outside RFC 3986/],
  ["/a#frag", /outside RFC 3986/],
  ["/caf\u00e9", /outside RFC 3986/],
  ["/a b", /outside RFC 3986/],
  ["/a|b", /outside RFC 3986/],
];
for (const [raw, reason] of rejected) {
  test(`path ${raw} is rejected`, () => {
    const n = normalizePath(raw);
    assert.ok(!n.ok);
    assert.match(n.reason, reason);
  });
}

test("allow_encoded_slash keeps %2F encoded and inside one segment", () => {
  const n = normalizePath("/projects/group%2Fsub/issues", true);
  assert.ok(n.ok);
  assert.equal(n.path, "/projects/group%2Fsub/issues");
  assert.equal(n.forwardPath, "/projects/group%2Fsub/issues");
  assert.ok(compilePathGlob("/projects/*/issues").test(n.path));
});

const globs: Array<[string, string, boolean]> = [
  ["/repos/*/*/contents/**", "/repos/o/r/contents/docs/x.md", true],
  ["/repos/*/*/contents/**", "/repos/o/r/contents", true],
  ["/repos/*/*/contents/**", "/repos/o/r/contentsx", false],
  ["/repos/*/*/contents/**", "/repos/o/r/x/contents/a", false],
  ["/repos/*", "/repos/a", true],
  ["/repos/*", "/repos/a/b", false],
  ["/repos/*", "/repos/", true],
  ["/a/**/z", "/a/z", true],
  ["/a/**/z", "/a/b/c/z", true],
  ["/a/**/z", "/a/bz", false],
  ["/v?/x", "/v1/x", true],
  ["/v?/x", "/v10/x", false],
  ["/v?/x", "/v//x", false],
  ["/a.b", "/aXb", false],
  ["/**", "/", true],
  ["/**", "/anything/at/all", true],
  ["/search", "/search/", false],
];
for (const [glob, path, expected] of globs) {
  test(`glob ${glob} ${expected ? "matches" : "does not match"} ${path}`, () => {
    assert.equal(compilePathGlob(glob).test(path), expected);
  });
}

test("pathReadings: the routes servers may read a path as (what a deny rule must cover)", () => {
  assert.deepEqual(pathReadings("/admin"), ["/admin", "/admin", "/admin/"]);
  assert.deepEqual(pathReadings("/admin/"), ["/admin/", "/admin", "/admin/"]);
  assert.deepEqual(pathReadings("/a/admin.json"), [
    "/a/admin.json",
    "/a/admin.json",
    "/a/admin.json/",
    "/a/admin",
  ]);
  assert.deepEqual(pathReadings("/a/.env"), ["/a/.env", "/a/.env", "/a/.env/"]);
  assert.deepEqual(pathReadings("/"), ["/", "/", "//"]);
  assert.ok(pathReadings("/repos/o/r%2Frulesets").includes("/repos/o/r/rulesets"));
  assert.ok(pathReadings("/a%5cb").includes("/a/b"));
  assert.ok(pathReadings("/admin. /x").includes("/admin/x"), "IIS drops trailing dots and spaces");
  assert.ok(pathReadings("/admin::$DATA").includes("/admin"), "and an alternate data stream");
});

test("readQueryKey and queryReadings: every value a common parser may read for a key", () => {
  for (const [key, read] of [
    ["ref", "ref"],
    ["REF", "ref"],
    [" ref", "ref"],
    ["ref[]", "ref"],
    ["ref[0][x]", "ref"],
    ["ref.name", "ref_name"],
    ["ref name", "ref_name"],
    ["ref[name", "ref_name"],
    ["ref\u0000x", "ref"],
  ]) {
    assert.equal(readQueryKey(key as string), read, key);
  }
  assert.deepEqual(queryReadings("ref=main&REF=x&ref[]=y"), new Map([["ref", ["main", "x", "y"]]]));
  assert.deepEqual(
    queryReadings("ref=main;ref=evil"),
    new Map([["ref", ["main;ref=evil", "main", "evil"]]]),
    "split on & alone and on ; too",
  );
  assert.equal(queryReadings("q=%zz"), null);
});

test("allow_encoded_slash keeps %2F inside a segment, but no dot segment between them", () => {
  assert.deepEqual(normalizePath("/g%2Fp/issues", true), {
    ok: true,
    path: "/g%2Fp/issues",
    forwardPath: "/g%2Fp/issues",
  });
  for (const raw of ["/a/x%2F..%2F..%2Fb", "/a/x%2F..", "/a/..%5Cb", "/a/x%2F.;y%2Fb"]) {
    const n = normalizePath(raw, true);
    assert.equal(n.ok, false, raw);
    assert.match((n as { reason: string }).reason, /dot segment between encoded slashes/, raw);
  }
  assert.equal(normalizePath("/a/x%2F...%2Fb", true).ok, true, "three dots are a name");
});

test("globWithin and globsDisjoint: proven from segments, never sampled", () => {
  for (const [inner, outer, expected] of [
    ["/repos/acme/**", "/repos/acme/*/*", false],
    ["/repos/acme/docs/**", "/repos/acme/**", true],
    ["/a", "/a/**", true],
    ["/a/**", "/a/*/**", false],
    ["/a/x.md", "/a/*.md", true],
    ["/a/*", "/a/*.md", false],
    ["/a/b/c", "/a/*", false],
    ["/a/b**", "/a/*", false],
    ["/x/**", "/**", true],
  ] as const) {
    assert.equal(globWithin(inner, outer), expected, `${inner} within ${outer}`);
  }
  for (const [a, b, expected] of [
    ["/repos/acme/**", "/admin/**", true],
    ["/repos/**", "/repos/*/*/rulesets/**", false],
    ["/ADMIN.json", "/admin", false],
    ["/ａdmin", "/admin", false],
    ["/a/b;x", "/a/b", false],
    ["/admin.", "/admin", false],
    ["/admin::$DATA", "/admin", false],
    ["/a/b", "/a/c", true],
  ] as const) {
    assert.equal(globsDisjoint(a, b), expected, `${a} disjoint from ${b}`);
  }
});
