// CONNECT host:port (docs/design.md §4.2): identity, the L4 decision, the SSRF guard, then
// either a spliced tunnel (L4-only endpoints) or TLS terminated with a leaf from the sandbox CA
// so every request inside can be decided at L7 (inspect.ts).
import type { IncomingMessage } from "node:http";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { buildNetworkEvent } from "../audit/ocsf.ts";
import { decideConnect } from "../policy/engine.ts";
import { normalizeHost } from "../policy/host.ts";
import { actorOf, type InspectedTunnel, type ProxyCore, UNIDENTIFIED_REASON } from "./core.ts";
import { errorResponse, type ProxyResponse, rawResponse } from "./deny.ts";
import { parseAuthority } from "./http-target.ts";
import { POLICY_LOCAL_HOST } from "./policy-local-api.ts";
import { holdWhileGranted, splice } from "./relay.ts";
import { pinDestination } from "./upstream.ts";

/** A tunnel's read buffer for the upstream→client direction: first size, and size once it filled. */
const TUNNEL_FIRST_READ_BYTES = 16 * 1024;
const TUNNEL_READ_BYTES = 256 * 1024;
const ESTABLISHED = "HTTP/1.1 200 Connection Established\r\n\r\n";
const HOSTNAME = /^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$/i;

function answer(socket: Socket, resp: ProxyResponse): void {
  if (socket.writable) socket.end(rawResponse(resp));
  else socket.destroy();
}

export async function handleConnect(
  core: ProxyCore,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => socket.destroy());
  const target = parseAuthority(req.url ?? "");
  if (!target) {
    answer(socket, errorResponse("invalid_request", "CONNECT needs host:port"));
    return;
  }
  const { host, port } = target;
  if (host === POLICY_LOCAL_HOST) {
    answer(
      socket,
      errorResponse(
        "invalid_policy_local_scheme",
        "policy.local is plain http://policy.local/ (port 80), no CONNECT",
      ),
    );
    return;
  }
  const { identity, unidentified } = await core.identify(socket);
  const base = {
    layer: "l4" as const,
    scheme: "https" as const,
    method: "CONNECT",
    path: null,
    host,
    port,
    identity,
  };
  if (!identity) {
    answer(
      socket,
      core.deny({
        ...base,
        engine: "identity",
        policy: null,
        reason: unidentified ?? UNIDENTIFIED_REASON,
      }),
    );
    return;
  }
  const gen = core.generation();
  const decision = decideConnect(gen.cp, host, port, identity);
  if (decision.decision === "deny") {
    answer(
      socket,
      core.deny({
        ...base,
        engine: "l4",
        policy: decision.policy,
        reason: decision.reason,
        ruleMissing: decision.ruleMissing,
      }),
    );
    return;
  }
  const pin = await pinDestination(core.resolver, core.connectTo, decision.endpoints, host, port, () =>
    core.hostAddresses(),
  );
  if (!pin.ok) {
    answer(
      socket,
      pin.policy
        ? core.deny({ ...base, engine: "ssrf", policy: decision.policy, reason: pin.reason })
        : errorResponse("upstream_unreachable", pin.reason),
    );
    return;
  }
  // The allow event is built from the decision's values and time, and written once the client has
  // its answer (the 200, or the 502 when no tunnel came of it): the audit write then never sits
  // between the upstream's connect and the 200 the client waits for.
  const decidedAt = core.now();
  let logged = false;
  const logAllowed = (ip: string) => {
    if (logged) return;
    logged = true;
    core.log(
      buildNetworkEvent({
        time: decidedAt,
        allowed: true,
        host,
        port,
        ip,
        actor: actorOf(identity),
        policy: decision.policy,
        engine: decision.inspect ? "l7" : "l4",
        reason: decision.reason,
      }),
    );
  };
  const tunnel: InspectedTunnel = {
    host,
    port,
    address: pin.address,
    addressPort: pin.port,
    trusted: pin.trusted,
    generation: gen.id,
    identity,
    client: socket,
  };
  if (decision.inspect) await terminate(core, socket, head, tunnel, logAllowed);
  else openTunnel(core, socket, head, tunnel, pin.addresses, logAllowed);
}

/** Dials the checked addresses in order (the next one only if a dial fails), then splices. */
function openTunnel(
  core: ProxyCore,
  socket: Socket,
  head: Buffer,
  t: InspectedTunnel,
  addresses: string[],
  logAllowed: (ip: string) => void,
): void {
  const dialAt = (index: number) => {
    const address = addresses[index] ?? t.address;
    // Upstream→client is the bulk direction (downloads): the kernel reads into a buffer owned by
    // this tunnel, handed to the client socket without a copy, and read into again only once the
    // client socket took every byte (no per-read allocation). It starts small (most tunnels carry
    // a handshake and a few requests: thousands of large buffers would keep the garbage collector
    // busy) and grows once when a read fills it (a download).
    let buffer = Buffer.allocUnsafe(TUNNEL_FIRST_READ_BYTES);
    let waiting = false;
    const flushed = () => {
      if (waiting && socket.writableLength === 0) {
        waiting = false;
        upstream.resume();
      }
    };
    const upstream = netConnect({
      host: address,
      port: t.addressPort,
      noDelay: true,
      onread: {
        // Asked after every read: the next one goes where this points.
        buffer: () => buffer,
        callback: (n: number, buf: Buffer) => {
          if (socket.destroyed) return false;
          socket.write(buf.subarray(0, n), flushed);
          if (n === buffer.length && buffer.length < TUNNEL_READ_BYTES) {
            // A fresh buffer: the old one stays with its write until the socket is done with it.
            buffer = Buffer.allocUnsafe(TUNNEL_READ_BYTES);
          }
          // Written through to the kernel already (the usual case): read on into the same buffer.
          if (socket.writableLength === 0) return true;
          waiting = true;
          return false;
        },
      },
    } as import("node:net").NetConnectOpts);
    const onError = (err: Error) => {
      upstream.destroy();
      if (index + 1 < addresses.length && !socket.destroyed) {
        dialAt(index + 1);
        return;
      }
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      answer(socket, errorResponse("upstream_unreachable", `${t.host}:${t.port} (${address}): ${code}`));
      logAllowed(address);
    };
    upstream.once("error", onError);
    upstream.setTimeout(core.limits.headerTimeoutMs, () => upstream.destroy(new Error("connect timeout")));
    upstream.once("connect", () => {
      upstream.off("error", onError);
      upstream.setTimeout(0);
      socket.write(ESTABLISHED);
      splice(socket, upstream, head, core.limits.idleTimeoutMs, true);
      holdWhileGranted(core, { ...t, address }, socket, upstream);
      logAllowed(address);
    });
    const onClientClose = () => {
      logAllowed(address);
      upstream.destroy();
    };
    socket.once("close", onClientClose);
    upstream.once("close", () => socket.off("close", onClientClose));
  };
  dialAt(0);
}

/** Answers 200, then speaks TLS to the client as the CONNECT host with a leaf from the sandbox CA. */
async function terminate(
  core: ProxyCore,
  socket: Socket,
  head: Buffer,
  t: InspectedTunnel,
  logAllowed: (ip: string) => void,
): Promise<void> {
  const leaves = core.leaves;
  if (!leaves) {
    answer(socket, errorResponse("upstream_unreachable", "this proxy has no CA to inspect TLS"));
    logAllowed(t.address);
    return;
  }
  let context: Awaited<ReturnType<typeof leaves.context>>;
  try {
    context = await leaves.context(t.host);
  } catch (err) {
    answer(
      socket,
      errorResponse("upstream_unreachable", `cannot mint a certificate: ${(err as Error).message}`),
    );
    logAllowed(t.address);
    return;
  }
  if (socket.destroyed) {
    logAllowed(t.address);
    return;
  }
  socket.write(ESTABLISHED);
  logAllowed(t.address);
  if (head.length > 0) socket.unshift(head);
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ["http/1.1"],
    SNICallback: (name, cb) => {
      const sni = normalizeHost(name);
      if (sni === t.host) return cb(null, context);
      // Domain fronting: finish the handshake as the name asked for so the client can read
      // the structured 403 that answers every request on this connection.
      t.sniMismatch = name.slice(0, 253);
      if (!HOSTNAME.test(sni) || isIP(sni)) return cb(null, context);
      leaves.context(sni).then(
        (ctx) => cb(null, ctx),
        () => cb(null, context),
      );
    },
  });
  const handshake = setTimeout(() => tls.destroy(), core.limits.headerTimeoutMs);
  tls.on("error", () => {
    clearTimeout(handshake);
    tls.destroy();
  });
  tls.once("close", () => clearTimeout(handshake));
  tls.once("secure", () => {
    clearTimeout(handshake);
    core.setTunnel(tls, t);
    core.inner.emit("connection", tls);
  });
}
