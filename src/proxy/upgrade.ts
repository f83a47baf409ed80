// Connection upgrades. An upgrade is a permission of its own, never a side effect of an allowed
// GET: only `Upgrade: websocket` can be granted, and only where the policy allows raw bytes to
// the endpoint (today: an L4 endpoint reached through the forward proxy; a `protocol: rest`
// endpoint never grants one). Even then the connection is spliced only after the upstream
// answered `101 Switching Protocols`: until then not one byte the client sent after the
// request head reaches the upstream. Any other answer is relayed and the connection closed.
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { buildNetworkEvent } from "../audit/ocsf.ts";
import type { RequestDecision } from "../policy/engine.ts";
import { actorOf, type ProxyCore } from "./core.ts";
import { type DenyBase, logAllowedRequest } from "./decide-http.ts";
import { errorResponse, rawResponse } from "./deny.ts";
import { type ResponseHead, ResponseParser, type ResponseSink } from "./http1-response.ts";
import { type Destination, holdWhileGranted, splice, upstreamTarget } from "./relay.ts";
import { decidedAuthority, forwardableHeaders } from "./upstream.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z/]{1,32}$/;

/** Every token of every Upgrade header, lower-cased, versions kept (`websocket`, `h2c`, `foo/2`). */
function upgradeTokens(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() !== "upgrade") continue;
    for (const t of (rawHeaders[i + 1] as string).split(",")) out.push(t.trim().toLowerCase());
  }
  return out;
}

function hasBody(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === "transfer-encoding") return true;
    if (name === "content-length" && (rawHeaders[i + 1] as string).trim() !== "0") return true;
  }
  return false;
}

/**
 * Null when the policy allows this upgrade (the request itself was allowed as `d`), else why
 * not. Pure.
 */
export function upgradeRefusal(
  method: string,
  rawHeaders: readonly string[],
  d: Pick<RequestDecision, "layer">,
): string | null {
  const tokens = upgradeTokens(rawHeaders);
  if (tokens.length !== 1 || tokens[0] !== "websocket") {
    const shown = tokens.length === 1 && TOKEN.test(tokens[0] as string) ? `"${tokens[0]}"` : "that protocol";
    return `upgrade to ${shown} refused: only a WebSocket upgrade (Upgrade: websocket alone) can be granted`;
  }
  if (method.toUpperCase() !== "GET") return "a WebSocket upgrade is a GET request";
  if (hasBody(rawHeaders)) return "an upgrade request carries no body";
  if (d.layer === "l7") {
    return (
      "WebSocket upgrade refused: it is a permission of its own, and a protocol: rest endpoint " +
      "does not grant it (its GET rules allow plain requests only)"
    );
  }
  return null;
}

/** The request head sent upstream: the decided method, path and Host, end-to-end headers, one canonical upgrade. */
export function upgradeRequestHead(
  method: string,
  path: string,
  authority: string,
  rawHeaders: readonly string[],
): string {
  const headers = forwardableHeaders(rawHeaders, false, authority);
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
}

export type UpgradeOutcome =
  | { switched: true; bytesUp: number; bytesDown: number }
  | { switched: false; status: number | null; detail: string };

export interface UpgradeExchange {
  /** The client's socket, handed over by the HTTP server's 'upgrade' event (not read until 101). */
  client: Socket;
  /** A connected upstream socket. */
  upstream: Socket;
  /** The request head to send (upgradeRequestHead). */
  requestHead: string;
  /** Bytes the client sent after its request head: held back until the upstream switched. */
  clientHead: Buffer;
  maxHeadBytes: number;
  idleMs: number;
  /** Named in a 502 detail. */
  upstreamName: string;
  /** Called once: switched (when the tunnel ended) or not (when the answer was relayed). */
  onEnd(outcome: UpgradeOutcome): void;
  /** Called once both sides are spliced. */
  onSpliced?(client: Socket, upstream: Socket): void;
}

function switchesToWebsocket(head: ResponseHead): boolean {
  let upgrade = false;
  let connection = false;
  for (let i = 0; i < head.rawHeaders.length; i += 2) {
    const name = (head.rawHeaders[i] as string).toLowerCase();
    const value = (head.rawHeaders[i + 1] as string).toLowerCase();
    if (name === "upgrade") upgrade = value.trim() === "websocket";
    else if (name === "connection") connection = value.split(",").some((t) => t.trim() === "upgrade");
  }
  return upgrade && connection;
}

/**
 * Sends the upgrade request and waits for the answer. A 101 that switches to websocket: the
 * 101 goes to the client, then the held-back bytes, then both directions are spliced. Anything
 * else is relayed to the client (close-delimited) and both connections are closed.
 */
export function exchangeUpgrade(x: UpgradeExchange): void {
  const { client, upstream } = x;
  let ended = false;
  const end = (outcome: UpgradeOutcome) => {
    if (ended) return;
    ended = true;
    x.onEnd(outcome);
  };
  let status: number | null = null;
  const fail = (detail: string) => {
    upstream.destroy();
    if (status === null && client.writable) {
      client.end(rawResponse(errorResponse("upstream_unreachable", `${x.upstreamName}: ${detail}`)));
    } else client.destroy();
    end({ switched: false, status, detail });
  };
  const sink: ResponseSink = {
    onHead(head) {
      status = head.status;
      const headers = forwardableHeaders(head.rawHeaders);
      let text = `HTTP/1.1 ${head.status} ${STATUS_CODES[head.status] ?? "Unknown"}\r\n`;
      for (let i = 0; i < headers.length; i += 2) {
        // The body goes out close-delimited (it may have been chunked): no length of its own.
        if ((headers[i] as string).toLowerCase() === "content-length") continue;
        text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      }
      client.write(`${text}Connection: close\r\n\r\n`, "latin1");
    },
    onBody(chunk) {
      client.write(chunk);
    },
    onEnd() {
      upstream.destroy();
      client.end();
      end({ switched: false, status, detail: `the upstream answered ${status}, not 101: not switched` });
    },
    onError(reason) {
      fail(`invalid response: ${reason}`);
    },
    onSwitch(head, rest) {
      upstream.off("data", onData);
      upstream.off("end", onUpstreamEnd);
      upstream.off("error", onUpstreamError);
      upstream.off("timeout", onTimeout);
      upstream.setTimeout(0);
      if (!switchesToWebsocket(head)) {
        fail("101 that does not switch to websocket");
        return;
      }
      status = 101;
      const headers = forwardableHeaders(head.rawHeaders, true);
      let text = "HTTP/1.1 101 Switching Protocols\r\n";
      for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      client.write(`${text}\r\n`, "latin1");
      if (rest.length > 0) client.write(rest);
      let bytesUp = x.clientHead.length;
      let bytesDown = rest.length;
      client.on("data", (d: Buffer) => {
        bytesUp += d.length;
      });
      upstream.on("data", (d: Buffer) => {
        bytesDown += d.length;
      });
      const report = () => end({ switched: true, bytesUp, bytesDown });
      client.once("close", report);
      upstream.once("close", report);
      splice(client, upstream, x.clientHead, x.idleMs);
      x.onSpliced?.(client, upstream);
    },
  };
  const parser = new ResponseParser(
    { headRequest: false, maxHeadBytes: x.maxHeadBytes, upgrade: true },
    sink,
  );
  const onData = (chunk: Buffer) => parser.feed(chunk);
  const onUpstreamEnd = () => parser.finish();
  upstream.on("data", onData);
  upstream.once("end", onUpstreamEnd);
  const onUpstreamError = (err: NodeJS.ErrnoException) => fail(err.code ?? err.message);
  const onTimeout = () => fail("timed out");
  upstream.on("error", onUpstreamError);
  upstream.setTimeout(x.idleMs, onTimeout);
  // The client is not read before the switch; if it goes away, so does the upstream exchange.
  client.once("close", () => {
    if (status !== 101) {
      upstream.destroy();
      end({ switched: false, status, detail: "the client went away" });
    }
  });
  client.on("error", () => client.destroy());
  upstream.write(x.requestHead, "latin1");
}

/**
 * Opens the upstream for an allowed upgrade and hands both sockets to exchangeUpgrade
 * (upgrade.ts): spliced only once the upstream answered 101.
 */
export function relayUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  dest: Destination,
  path: string,
  onEnd: (outcome: UpgradeOutcome) => void,
  onSpliced?: (client: Socket, upstream: Socket) => void,
): void {
  const { host, port, tls } = upstreamTarget(core, dest);
  const upstreamName = `${dest.host}:${dest.port} (${dest.address})`;
  const onReady = () => {
    upstream.off("error", onDialError);
    exchangeUpgrade({
      client,
      upstream,
      requestHead: upgradeRequestHead(
        req.method ?? "GET",
        path,
        decidedAuthority(dest.scheme, dest.host, dest.port),
        req.rawHeaders,
      ),
      clientHead: head,
      maxHeadBytes: core.limits.maxHeaderBytes,
      idleMs: core.limits.idleTimeoutMs,
      upstreamName,
      onEnd,
      onSpliced,
    });
  };
  const upstream: Socket = tls
    ? tlsConnect({ host, port, ...tls }, onReady)
    : netConnect({ host, port }, onReady);
  const onDialError = (err: NodeJS.ErrnoException) => {
    const code = err.code ?? err.message;
    if (client.writable) {
      client.end(rawResponse(errorResponse("upstream_unreachable", `${upstreamName}: ${code}`)));
    }
    onEnd({ switched: false, status: null, detail: code });
  };
  upstream.once("error", onDialError);
}

/**
 * An upgrade request whose plain request the policy allowed as `d`: refused with the structured
 * 403 unless the upgrade itself is allowed; then logged, relayed, and its end logged with the
 * bytes each way.
 */
export function handleUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  base: DenyBase,
  d: RequestDecision,
  dest: Destination,
  path: string,
): void {
  const refusal = upgradeRefusal(base.method, req.rawHeaders, d);
  if (refusal) {
    const response = core.deny({
      ...base,
      layer: "l7",
      engine: "upgrade",
      policy: d.policy,
      reason: refusal,
      path: d.path,
    });
    client.end(rawResponse(response));
    return;
  }
  logAllowedRequest(
    core,
    base,
    d,
    `${d.reason}; upgrade to websocket, spliced only after the upstream's 101`,
  );
  const identity = base.identity;
  const granted = identity
    ? (c: Socket, u: Socket) =>
        holdWhileGranted(
          core,
          { host: base.host, port: base.port, identity, address: dest.address, trusted: dest.trusted },
          c,
          u,
        )
    : undefined;
  relayUpgrade(
    core,
    req,
    client,
    head,
    dest,
    path,
    (outcome) =>
      core.log(
        buildNetworkEvent({
          time: core.now(),
          allowed: true,
          closed: true,
          host: base.host,
          port: base.port,
          ip: dest.address,
          actor: actorOf(base.identity),
          policy: d.policy,
          engine: "upgrade",
          reason: outcome.switched
            ? `websocket tunnel closed: ${outcome.bytesUp} bytes sent, ${outcome.bytesDown} bytes received`
            : `upgrade not switched: ${outcome.detail}`,
        }),
      ),
    granted,
  );
}
