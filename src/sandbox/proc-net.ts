// /proc/<pid>/net/tcp{,6} parsing: which socket inode belongs to a TCP 4-tuple. Pure.

export interface TcpEntry {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: number;
  inode: number;
}

const LISTEN = 0x0a;

/** The kernel prints each 32-bit word of the address in host byte order (little-endian here). */
export function decodeProcAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(Number.parseInt(word.slice(b, b + 2), 16));
  }
  if (bytes.length === 4) return bytes.join(".");
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return bytes.slice(12).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`;
}

/** Node reports IPv4 peers of a dual-stack socket as `::ffff:a.b.c.d`. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice(7) : lower;
}

/** One entry of the table, or null for a line that is not one (the header, a short line). */
function parseEntry(line: string): TcpEntry | null {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 10) return null;
  const [local, remote, state, inode] = [fields[1], fields[2], fields[3], fields[9]] as [
    string,
    string,
    string,
    string,
  ];
  const [la, lp] = local.split(":") as [string, string];
  const [ra, rp] = remote.split(":") as [string, string];
  return {
    localAddress: decodeProcAddress(la),
    localPort: Number.parseInt(lp, 16),
    remoteAddress: decodeProcAddress(ra),
    remotePort: Number.parseInt(rp, 16),
    state: Number.parseInt(state, 16),
    inode: Number(inode),
  };
}

/** How the kernel prints a port in the table: `:` and four upper-case hex digits, then a space. */
function portField(port: number): string {
  return `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
}

/**
 * The inode of the CLIENT end of a connection the supervisor accepted, from the text of
 * /proc/<pid>/net/tcp{,6}: its local end is the accepted socket's peer, its remote end the
 * listener's address. The table lists every socket of the sandbox (TIME_WAIT ones too), and a
 * lookup runs for every connection: only the lines that name the peer's port are decoded.
 */
export function findClientInode(
  table: string,
  peer: { address: string; port: number },
  listener: { address: string; port: number },
): number | null {
  const pa = normalizeAddress(peer.address);
  const la = normalizeAddress(listener.address);
  const peerPort = portField(peer.port);
  const header = table.indexOf("\n");
  if (header === -1) return null;
  for (let at = table.indexOf(peerPort, header); at !== -1; ) {
    const start = table.lastIndexOf("\n", at) + 1;
    const newline = table.indexOf("\n", at);
    const end = newline === -1 ? table.length : newline;
    at = newline === -1 ? -1 : table.indexOf(peerPort, end);
    const e = parseEntry(table.slice(start, end));
    if (!e || e.state === LISTEN || e.inode === 0) continue;
    if (
      e.localPort === peer.port &&
      e.remotePort === listener.port &&
      e.localAddress === pa &&
      e.remoteAddress === la
    ) {
      return e.inode;
    }
  }
  return null;
}
