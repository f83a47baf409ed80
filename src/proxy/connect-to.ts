// curl's `--connect-to` entries, parsed: pure, and apart from the proxy so a sandbox start can
// check its flags before it loads the proxy (which brings Node's HTTP and TLS with it).
import { normalizeHost } from "../policy/host.ts";

/** curl's `--connect-to HOST:PORT:ADDR:PORT2`: policy decided on HOST:PORT, the dial goes to ADDR:PORT2. */
export interface ConnectToEntry {
  host: string;
  port: number;
  address: string;
  addressPort: number;
}

function parsePort(text: string, spec: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new Error(`--connect-to ${spec}: "${text}" is not a port (1..65535)`);
  }
  return port;
}

/** Parses `HOST:PORT:ADDR:PORT2` (ADDR may be `[v6]`); throws a message naming the entry. */
export function parseConnectTo(spec: string): ConnectToEntry {
  const m = /^([^:[\]]+):(\d+):(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--connect-to ${spec}: expected HOST:PORT:ADDR:PORT2`);
  return {
    host: normalizeHost(m[1] as string),
    port: parsePort(m[2] as string, spec),
    address: (m[3] as string).replace(/^\[|\]$/g, ""),
    addressPort: parsePort(m[4] as string, spec),
  };
}
