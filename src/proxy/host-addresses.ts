// The host's own interface addresses: facts the edge hands to the SSRF verdict (checkAddresses),
// which blocks them like loopback. Read on every check (a few tens of microseconds): an address
// the host gained a moment ago is as reachable as the others.
import { networkInterfaces } from "node:os";
import { type IpAddress, parseIp } from "../policy/ip.ts";

/** Every address of every interface, all families (scope zones dropped). */
export function hostInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) out.push(info.address);
  }
  return out;
}

export function parseAddresses(texts: readonly string[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const text of texts) {
    const ip = parseIp(text);
    if (ip) out.push(ip);
  }
  return out;
}
