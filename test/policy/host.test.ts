import assert from "node:assert/strict";
import { test } from "node:test";
import { hostPatternMatches, parseHostPattern } from "../../src/policy/host.ts";

function pattern(raw: string) {
  const p = parseHostPattern(raw);
  if ("error" in p) throw new Error(p.error);
  return p;
}

const cases: Array<[string, string, boolean]> = [
  ["api.github.com", "api.github.com", true],
  ["api.github.com", "API.GitHub.com", true],
  ["api.github.com", "api.github.com.", true],
  ["API.github.com.", "api.github.com", true],
  ["api.github.com", "xapi.github.com", false],
  ["api.github.com", "api.github.com.evil.com", false],
  ["api.github.com", "github.com", false],
  ["*.example.com", "a.example.com", true],
  ["*.example.com", "example.com", false],
  ["*.example.com", "a.b.example.com", false],
  ["*.example.com", "aexample.com", false],
  ["*.example.com", "a.example.com.", true],
  ["*.example.com", "A.EXAMPLE.COM", true],
  ["*.example.com", ".example.com", false],
  ["**.example.com", "a.example.com", true],
  ["**.example.com", "a.b.c.example.com", true],
  ["**.example.com", "example.com", false],
  ["**.example.com", "evilexample.com", false],
  ["**.example.com", "a..example.com", false],
  ["*.tracker.example.com", "eu.tracker.example.com", true],
  ["*.tracker.example.com", "tracker.example.com", false],
  ["10.0.0.5", "10.0.0.5", true],
  ["10.0.0.5", "10.0.0.50", false],
  ["::1", "[::1]", true],
  ["2001:db8::1", "2001:db8::1", true],
];

for (const [raw, host, expected] of cases) {
  test(`host ${raw} ${expected ? "matches" : "does not match"} ${host}`, () => {
    assert.equal(hostPatternMatches(pattern(raw), host), expected);
  });
}

const invalid: Array<[string, RegExp]> = [
  ["*", /bare "\*"/],
  ["**", /bare "\*\*"/],
  ["*.com", /public suffix "com"/],
  ["**.io", /public suffix "io"/],
  ["*.co.uk", /public suffix "co.uk"/],
  // The Public Suffix List's private section: each of these hosts many unrelated owners.
  ["*.r2.dev", /public suffix "r2.dev"/],
  ["*.web.app", /public suffix "web.app"/],
  ["**.fly.dev", /public suffix "fly.dev"/],
  ["*.gitlab.io", /public suffix "gitlab.io"/],
  ["*.ngrok-free.app", /public suffix "ngrok-free.app"/],
  ["*.github.io", /public suffix "github.io"/],
  ["*.s3.amazonaws.com", /public suffix "s3.amazonaws.com"/],
  // A wildcard rule of the list (`*.compute.amazonaws.com`) makes every name under it public.
  ["*.eu-west-1.compute.amazonaws.com", /public suffix "eu-west-1.compute.amazonaws.com"/],
  ["a.*.example.com", /whole first label/],
  ["api-*.example.com", /whole first label/],
  ["exa mple.com", /not a valid DNS label/],
  ["-bad.example.com", /not a valid DNS label/],
  ["", /must not be empty/],
  ["a..example.com", /not a valid DNS label/],
];
for (const [raw, message] of invalid) {
  test(`host pattern ${JSON.stringify(raw)} is rejected`, () => {
    const p = parseHostPattern(raw);
    assert.ok("error" in p, `expected an error for ${raw}`);
    assert.match(p.error, message);
  });
}
