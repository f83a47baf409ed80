// IP literals, CIDR ranges and address classification for the SSRF guard. Pure.
// IPv6 literals are checked here rather than with node:net's isIPv6, whose first call compiles
// a large regular expression (about 10 ms, paid at every CLI start by the built-in ranges below).
import { isIPv4 } from "node:net";

export type IpVersion = 4 | 6;
export interface IpAddress {
  version: IpVersion;
  value: bigint;
}
export interface Cidr {
  version: IpVersion;
  base: bigint;
  bits: number;
  text: string;
}

export function parseIp(text: string): IpAddress | null {
  const literal = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (isIPv4(literal)) return { version: 4, value: ipv4ToBigint(literal) };
  const value = literal.includes(":") ? ipv6ToBigint(literal) : null;
  return value === null ? null : { version: 6, value };
}

function ipv4ToBigint(text: string): bigint {
  return text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** A scope zone (`fe80::1%eth0`), as node:net accepts it; it does not change the address. */
const ZONE = /^[0-9a-zA-Z.:-]+$/;

/** The address of an IPv6 literal (RFC 4291 §2.2 text forms), or null if it is not one. */
function ipv6ToBigint(text: string): bigint | null {
  const percent = text.indexOf("%");
  if (percent !== -1 && !ZONE.test(text.slice(percent + 1))) return null;
  let literal = percent === -1 ? text : text.slice(0, percent);
  const lastColon = literal.lastIndexOf(":");
  const tail = literal.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return null;
    const v4 = ipv4ToBigint(tail);
    literal = `${literal.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = literal.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  if (!head.every((group) => HEX_GROUP.test(group)) || !rest.every((group) => HEX_GROUP.test(group)))
    return null;
  const missing = 8 - head.length - rest.length;
  // "::" stands for at least one group of zeros.
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...rest];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

export function parseCidr(text: string): Cidr | null {
  const [addressText, bitsText, extra] = text.split("/");
  if (extra !== undefined || addressText === undefined) return null;
  const address = parseIp(addressText);
  if (!address) return null;
  const width = address.version === 4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (bits > width) return null;
  return { version: address.version, base: address.value & mask(width, bits), bits, text };
}

function mask(width: number, bits: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return bits === 0 ? 0n : all ^ ((1n << BigInt(width - bits)) - 1n);
}

export function cidrContains(range: Cidr, address: IpAddress): boolean {
  if (range.version !== address.version) return false;
  const width = range.version === 4 ? 32 : 128;
  return (address.value & mask(width, range.bits)) === range.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.version !== b.version) return false;
  const width = a.version === 4 ? 32 : 128;
  const bits = Math.min(a.bits, b.bits);
  return (a.base & mask(width, bits)) === (b.base & mask(width, bits));
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed;
}

/** Destinations no policy can open: the host itself, link-local metadata services, reserved space. */
export const ALWAYS_BLOCKED_RANGES: ReadonlyArray<{ range: Cidr; label: string }> = [
  { range: cidr("0.0.0.0/8"), label: "unspecified" },
  { range: cidr("127.0.0.0/8"), label: "loopback" },
  { range: cidr("169.254.0.0/16"), label: "link-local" },
  { range: cidr("224.0.0.0/4"), label: "multicast" },
  { range: cidr("240.0.0.0/4"), label: "reserved" },
  { range: cidr("::/128"), label: "unspecified" },
  { range: cidr("::1/128"), label: "loopback" },
  { range: cidr("fe80::/10"), label: "link-local" },
  { range: cidr("ff00::/8"), label: "multicast" },
];

/** Private space: reachable only through a covering `allowed_ips`. */
export const PRIVATE_RANGES: ReadonlyArray<{ range: Cidr; label: string }> = [
  { range: cidr("10.0.0.0/8"), label: "private (RFC 1918)" },
  { range: cidr("172.16.0.0/12"), label: "private (RFC 1918)" },
  { range: cidr("192.168.0.0/16"), label: "private (RFC 1918)" },
  { range: cidr("100.64.0.0/10"), label: "carrier-grade NAT" },
  { range: cidr("198.18.0.0/15"), label: "benchmarking" },
  { range: cidr("fc00::/7"), label: "unique local (ULA)" },
];

export const ALWAYS_BLOCKED_HOSTS: ReadonlySet<string> = new Set([
  "metadata.google.internal",
  "localhost",
  "localhost.localdomain",
]);

export type AddressClass =
  | { kind: "always_blocked"; label: string }
  | { kind: "private"; label: string }
  | { kind: "public" };

/**
 * IPv6 forms that carry an IPv4 address to a translator or tunnel, which then delivers to that
 * IPv4 address: judged as it. `prefix` is the value shifted right by `shift` bits; the IPv4
 * address sits `at` bits from the right.
 */
const EMBEDDING: ReadonlyArray<{ shift: bigint; prefix: bigint; at: bigint }> = [
  // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated, SIIT)
  { shift: 32n, prefix: 0xffffn, at: 0n },
  { shift: 32n, prefix: 0xffff0000n, at: 0n },
  // 64:ff9b::a.b.c.d (NAT64's well-known prefix, RFC 6052: DNS64 answers with it)
  { shift: 32n, prefix: 0x64ff9b0000000000000000n, at: 0n },
  // ::a.b.c.d (IPv4-compatible, deprecated but still tunnelled by sit)
  { shift: 32n, prefix: 0n, at: 0n },
  // 2002:a.b.c.d::/48 (6to4)
  { shift: 112n, prefix: 0x2002n, at: 80n },
];

/** The IPv4 address an IPv6 one reaches through a translator or tunnel (itself otherwise). */
function unmap(address: IpAddress): IpAddress {
  if (address.version !== 6) return address;
  for (const { shift, prefix, at } of EMBEDDING) {
    if (address.value >> shift === prefix) {
      return { version: 4, value: (address.value >> at) & 0xffffffffn };
    }
  }
  return address;
}

/** NAT64 prefixes an operator picks the length of (RFC 8215): the IPv4 address cannot be read off. */
const LOCAL_NAT64 = cidr("64:ff9b:1::/48");

export function classifyAddress(address: IpAddress): AddressClass {
  // The address itself first (::1 is loopback, not 0.0.0.1), then what it carries.
  for (const view of [address, unmap(address)]) {
    for (const { range, label } of ALWAYS_BLOCKED_RANGES) {
      if (cidrContains(range, view)) return { kind: "always_blocked", label };
    }
  }
  for (const view of [address, unmap(address)]) {
    for (const { range, label } of PRIVATE_RANGES) {
      if (cidrContains(range, view)) return { kind: "private", label };
    }
  }
  if (cidrContains(LOCAL_NAT64, address)) return { kind: "private", label: "local-use NAT64" };
  return { kind: "public" };
}

/** The address as the engine compares it: IPv4-mapped IPv6 is the IPv4 address. */
export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  const x = unmap(a);
  const y = unmap(b);
  return x.version === y.version && x.value === y.value;
}

/** True when `ranges` lists exactly this one address (a /32 or /128 entry, or a bare address). */
export function namesExactAddress(ranges: readonly Cidr[], address: IpAddress): boolean {
  const plain = unmap(address);
  return ranges.some(
    (range) =>
      range.bits === (range.version === 4 ? 32 : 128) &&
      sameAddress({ version: range.version, value: range.base }, plain),
  );
}

export function anyCidrContains(ranges: readonly Cidr[], address: IpAddress): boolean {
  const plain = unmap(address);
  return ranges.some((range) => cidrContains(range, plain) || cidrContains(range, address));
}
