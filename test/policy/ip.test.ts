// parseIp: Airlock's own IPv6 check agrees with node:net on which strings are IPv6 literals, and
// the addresses come out right (the SSRF guard classifies by them).
import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import { test } from "node:test";
import { classifyAddress, parseCidr, parseIp, sameAddress } from "../../src/policy/ip.ts";

const LITERALS = [
  "::",
  "::1",
  "1::",
  "fe80::1",
  "FE80::A:b:C",
  "2001:db8::8a2e:370:7334",
  "2001:0db8:0000:0000:0000:ff00:0042:8329",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "::ffff:192.0.2.1",
  "::192.0.2.1",
  "64:ff9b::10.0.0.1",
  "1:2:3:4:5:6:1.2.3.4",
  "fe80::1%eth0",
  "fe80::1%1",
];
const NOT_LITERALS = [
  "",
  ":",
  ":::",
  "1:::2",
  ":1::2",
  "1::2:",
  "1::2::3",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7:8::",
  "::1:2:3:4:5:6:7:8",
  "12345::",
  "g::1",
  "1.2.3.4",
  "::256.0.0.1",
  "::1.2.3",
  "1.2.3.4::",
  "::ffff:1.2.3.4:5",
  "fe80::1%",
  "fe80::1%eth 0",
  "localhost",
  "[::1",
  " ::1",
];

test("every literal node:net accepts is parsed, and every string it rejects is refused", () => {
  for (const text of LITERALS) {
    assert.equal(isIPv6(text), true, `node:net calls ${text} IPv6`);
    assert.equal(parseIp(text)?.version, 6, text);
  }
  for (const text of NOT_LITERALS) {
    assert.equal(isIPv6(text), false, `node:net refuses ${JSON.stringify(text)}`);
    assert.notEqual(parseIp(text)?.version, 6, text);
  }
});

test("addresses: zero runs, embedded IPv4, case, zones and brackets", () => {
  const value = (text: string) => parseIp(text)?.value;
  assert.equal(value("::"), 0n);
  assert.equal(value("::1"), 1n);
  assert.equal(value("[::1]"), 1n);
  assert.equal(value("1::"), 1n << 112n);
  assert.equal(value("::ffff:192.0.2.1"), 0xffffc0000201n);
  assert.equal(value("::ffff:c000:201"), 0xffffc0000201n);
  assert.equal(value("FE80::1"), value("fe80::1"));
  assert.equal(value("fe80::1%eth0"), value("fe80::1"));
  assert.equal(value("1:2:3:4:5:6:7:8"), 0x00010002000300040005000600070008n);
  assert.deepEqual(parseIp("10.1.2.3"), { version: 4, value: 0x0a010203n });
});

test("ranges over IPv6 literals", () => {
  assert.deepEqual(parseCidr("fe80::/10"), {
    version: 6,
    base: 0xfe80n << 112n,
    bits: 10,
    text: "fe80::/10",
  });
  assert.equal(parseCidr("1:::2/64"), null);
  assert.equal(parseCidr("::1/129"), null);
});

test("IPv6 forms that carry an IPv4 address to a translator or tunnel are judged as that address", () => {
  const kind = (text: string) => {
    const c = classifyAddress(parseIp(text) as NonNullable<ReturnType<typeof parseIp>>);
    return c.kind === "public" ? "public" : `${c.kind}: ${c.label}`;
  };
  // The address itself first: ::1 is loopback, not the IPv4-compatible 0.0.0.1.
  assert.equal(kind("::1"), "always_blocked: loopback");
  assert.equal(kind("::ffff:127.0.0.1"), "always_blocked: loopback");
  assert.equal(kind("::ffff:0:7f00:1"), "always_blocked: loopback");
  assert.equal(kind("64:ff9b::169.254.169.254"), "always_blocked: link-local");
  assert.equal(kind("64:ff9b::a00:5"), "private: private (RFC 1918)");
  assert.equal(kind("::10.0.0.5"), "private: private (RFC 1918)");
  assert.equal(kind("2002:c0a8:101::1"), "private: private (RFC 1918)");
  assert.equal(kind("2002:7f00:1:ffff::1"), "always_blocked: loopback");
  assert.equal(kind("64:ff9b:1:ab::1"), "private: local-use NAT64");
  // What they carry is public: so are they; other space is judged as itself.
  assert.equal(kind("64:ff9b::8.8.8.8"), "public");
  assert.equal(kind("2002:808:808::1"), "public");
  assert.equal(kind("2606:4700::1111"), "public");
  assert.equal(kind("64:ff9c::7f00:1"), "public");
  // The host's own 203.0.113.10 is the same address through NAT64.
  const own = parseIp("203.0.113.10") as NonNullable<ReturnType<typeof parseIp>>;
  assert.ok(sameAddress(own, parseIp("64:ff9b::cb00:710a") as NonNullable<ReturnType<typeof parseIp>>));
});
