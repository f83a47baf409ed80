// L7 inspection inside a terminated CONNECT tunnel: every request on the keep-alive connection
// is decided on its own against the newest policy generation (SNI and Host must name the
// CONNECT host), then streamed to the pinned upstream in the canonical form that was decided;
// an upgrade is a permission of its own (upgrade.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { checkAddresses, decideConnect, type RequestInput } from "../policy/engine.ts";
import {
  type DenyRecord,
  type Identified,
  type InspectedTunnel,
  type ProxyCore,
  UNIDENTIFIED_REASON,
} from "./core.ts";
import { type DecidedRequest, type DenyBase, decideHttp, forwardDecided } from "./decide-http.ts";
import { errorResponse, type ProxyResponse, rawResponse, sendResponse } from "./deny.ts";
import { hostHeaderIn, hostHeaderProblem, parseAbsoluteForm } from "./http-target.ts";
import type { Destination } from "./relay.ts";
import { handleUpgrade } from "./upgrade.ts";

type Verdict = { ok: false; response: ProxyResponse } | ({ ok: true } & DecidedRequest);

/** Per tunnel: its destination (built once, so its TLS options are too) and the last Host header value that matched. */
const perTunnel = new WeakMap<InspectedTunnel, { dest: Destination; hostHeader?: string }>();

function tunnelCache(t: InspectedTunnel): { dest: Destination; hostHeader?: string } {
  let cached = perTunnel.get(t);
  if (!cached) {
    cached = {
      dest: {
        scheme: "https",
        host: t.host,
        port: t.port,
        address: t.address,
        addressPort: t.addressPort,
        trusted: t.trusted,
      },
    };
    perTunnel.set(t, cached);
  }
  return cached;
}

function splitQuery(target: string): { path: string; query: string | null } {
  const q = target.indexOf("?");
  return q === -1 ? { path: target, query: null } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

type Base = Pick<DenyRecord, "scheme" | "host" | "port" | "identity" | "method">;

/** A refusal by a check before the policy (no closure per request: tsx names every one it creates). */
function refuse(
  core: ProxyCore,
  base: Base,
  target: string,
  engine: string,
  reason: string,
  path: string | null,
): Verdict {
  return {
    ok: false,
    response: core.deny({ ...base, layer: "l7", engine, policy: null, reason, path, target }),
  };
}

/** Why the holder identified for this request may not use the tunnel, or null. */
function holderProblem(t: InspectedTunnel, now: Identified): string | null {
  if (!now.identity) return now.unidentified ?? UNIDENTIFIED_REASON;
  if (now.identity.binary !== t.identity.binary)
    return `the connection changed hands: ${t.identity.binary} opened it, ${now.identity.binary} holds it now`;
  return null;
}

function decideInspected(core: ProxyCore, req: IncomingMessage, now: Identified): Verdict {
  const t = core.tunnel(req.socket as Socket);
  if (!t) return { ok: false, response: errorResponse("invalid_request", "not an inspected connection") };
  const method = (req.method ?? "GET").toUpperCase();
  let target = req.url ?? "/";
  const identity = now.identity ?? t.identity;
  const base: Base = { scheme: "https", host: t.host, port: t.port, identity, method };
  const handedOver = holderProblem(t, now);
  if (handedOver) return refuse(core, base, target, "identity", handedOver, splitQuery(target).path);
  if (!target.startsWith("/")) {
    const abs = parseAbsoluteForm(target);
    if (abs?.scheme !== "https" || abs.host !== t.host || abs.port !== t.port) {
      return refuse(
        core,
        base,
        target,
        "host_header",
        `request target does not name ${t.host}:${t.port}`,
        null,
      );
    }
    target = abs.target;
  }
  const rawPath = splitQuery(target).path;
  if (t.sniMismatch !== undefined) {
    return refuse(
      core,
      base,
      target,
      "sni",
      `TLS SNI "${t.sniMismatch}" does not match CONNECT host ${t.host} (domain fronting is not allowed)`,
      rawPath,
    );
  }
  const cached = tunnelCache(t);
  const hostHeader = hostHeaderIn(req.rawHeaders);
  // The check is a pure function of the header's text: the same text as last time needs no new parse.
  if (typeof hostHeader !== "string" || hostHeader !== cached.hostHeader) {
    const hostProblem = hostHeaderProblem(hostHeader, t.host, t.port, 443);
    if (hostProblem) return refuse(core, base, target, "host_header", hostProblem, rawPath);
    if (typeof hostHeader === "string") cached.hostHeader = hostHeader;
  }

  const gen = core.generation();
  if (gen.id !== t.generation && !t.trusted) {
    // A newer policy applies: the pinned address must still pass its SSRF check.
    const endpoints = decideConnect(gen.cp, t.host, t.port, identity).endpoints;
    const check =
      endpoints.length > 0
        ? checkAddresses(endpoints, t.host, [t.address], core.hostAddresses())
        : { ok: true as const };
    if (!check.ok) return refuse(core, base, target, "ssrf", check.reason, rawPath);
    t.generation = gen.id;
  }
  const input: RequestInput = {
    host: t.host,
    port: t.port,
    binary: identity.binary,
    ancestors: identity.ancestors,
    writable: identity.writable,
    method,
    path: target,
  };
  const full: DenyBase = { ...base, target };
  const verdict = decideHttp(core, gen.cp, full, input, req.rawHeaders);
  if (!verdict.ok) return verdict;
  const { d } = verdict;
  const { query } = splitQuery(target);
  const forwardPath = d.forwardPath ?? rawPath;
  return {
    ok: true,
    dest: cached.dest,
    path: query === null ? forwardPath : `${forwardPath}?${query}`,
    d,
    base: full,
    input,
    cp: gen.cp,
    formBody: verdict.formBody,
  };
}

/** Who holds the tunnel's client socket as this request arrives (a keep-alive socket can change hands). */
function holderNow(core: ProxyCore, req: IncomingMessage): Promise<Identified> {
  const t = core.tunnel(req.socket as Socket);
  return t ? core.identify(t.client) : Promise.resolve({ identity: null });
}

export async function handleInspectedRequest(
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  expectsContinue = false,
): Promise<void> {
  const verdict = decideInspected(core, req, await holderNow(core, req));
  if (!verdict.ok) {
    sendResponse(res, verdict.response);
    return;
  }
  if (expectsContinue) res.writeContinue();
  forwardDecided(core, req, res, verdict).catch(() => res.destroy());
}

export async function handleInspectedUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => socket.destroy());
  const verdict = decideInspected(core, req, await holderNow(core, req));
  if (!verdict.ok) {
    socket.end(rawResponse(verdict.response));
    return;
  }
  handleUpgrade(core, req, socket, head, verdict.base, verdict.d, verdict.dest, verdict.path);
}
