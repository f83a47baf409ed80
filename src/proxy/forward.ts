// Absolute-form `http://` requests (forward proxy): the same identity, L4, SSRF and L7 checks
// and the same structured bodies as CONNECT tunnels; `policy.local` goes to the local router.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { decideConnect, type RequestInput } from "../policy/engine.ts";
import { type ProcessIdentity, type ProxyCore, UNIDENTIFIED_REASON } from "./core.ts";
import { type DecidedRequest, decideHttp, forwardDecided } from "./decide-http.ts";
import { errorResponse, type ProxyResponse, rawResponse, sendResponse } from "./deny.ts";
import { hostHeaderIn, hostHeaderProblem, parseAbsoluteForm } from "./http-target.ts";
import { POLICY_LOCAL_HOST, POLICY_LOCAL_PORT } from "./policy-local-api.ts";
import { handleUpgrade } from "./upgrade.ts";
import { pinDestination } from "./upstream.ts";

type Verdict =
  | { kind: "answer"; response: ProxyResponse }
  | { kind: "local"; identity: ProcessIdentity | null }
  | ({ kind: "forward" } & DecidedRequest);

async function decideForward(core: ProxyCore, req: IncomingMessage): Promise<Verdict> {
  const abs = parseAbsoluteForm(req.url ?? "");
  if (!abs) {
    return {
      kind: "answer",
      response: errorResponse(
        "invalid_request",
        "this is a proxy: send absolute-form http:// requests, or CONNECT host:port for TLS",
      ),
    };
  }
  const { identity, unidentified } = await core.identify(req.socket as Socket);
  const { host, port, target } = abs;
  if (host === POLICY_LOCAL_HOST) {
    if (abs.scheme !== "http" || port !== POLICY_LOCAL_PORT) {
      return {
        kind: "answer",
        response: errorResponse(
          "invalid_policy_local_scheme",
          "policy.local is plain http://policy.local/ (port 80)",
        ),
      };
    }
    return { kind: "local", identity };
  }
  if (abs.scheme !== "http" && abs.scheme !== "ws") {
    return {
      kind: "answer",
      response: errorResponse("invalid_request", `${abs.scheme}:// is not forwarded; use CONNECT for TLS`),
    };
  }
  const method = (req.method ?? "GET").toUpperCase();
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  const base = { scheme: "http" as const, host, port, identity, method, target };
  if (!identity) {
    return {
      kind: "answer",
      response: core.deny({
        ...base,
        layer: "l4",
        engine: "identity",
        policy: null,
        reason: unidentified ?? UNIDENTIFIED_REASON,
        path: rawPath,
      }),
    };
  }
  const gen = core.generation();
  const connect = decideConnect(gen.cp, host, port, identity);
  if (connect.decision === "allow") {
    const hostProblem = hostHeaderProblem(hostHeaderIn(req.rawHeaders), host, port, 80);
    if (hostProblem) {
      return {
        kind: "answer",
        response: core.deny({
          ...base,
          layer: "l7",
          engine: "host_header",
          policy: null,
          reason: hostProblem,
          path: rawPath,
        }),
      };
    }
  }
  const input: RequestInput = {
    host,
    port,
    binary: identity.binary,
    ancestors: identity.ancestors,
    writable: identity.writable,
    method,
    path: target,
  };
  const verdict = decideHttp(core, gen.cp, base, input, req.rawHeaders);
  if (!verdict.ok) return { kind: "answer", response: verdict.response };
  const { d } = verdict;
  const pin = await pinDestination(core.resolver, core.connectTo, connect.endpoints, host, port, () =>
    core.hostAddresses(),
  );
  if (!pin.ok) {
    return {
      kind: "answer",
      response: pin.policy
        ? core.deny({
            ...base,
            layer: "l4",
            engine: "ssrf",
            policy: d.policy,
            reason: pin.reason,
            path: d.path,
          })
        : errorResponse("upstream_unreachable", pin.reason),
    };
  }
  const forwardPath = d.forwardPath ?? rawPath;
  return {
    kind: "forward",
    dest: { scheme: "http", host, port, address: pin.address, addressPort: pin.port, trusted: pin.trusted },
    path: q === -1 ? forwardPath : `${forwardPath}${target.slice(q)}`,
    d,
    base,
    input,
    cp: gen.cp,
    formBody: verdict.formBody,
  };
}

export async function handleForwardRequest(
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  expectsContinue = false,
): Promise<void> {
  const verdict = await decideForward(core, req);
  if (verdict.kind === "answer") sendResponse(res, verdict.response);
  else if (verdict.kind === "local") {
    if (core.localRouter) {
      if (expectsContinue) res.writeContinue();
      core.localRouter(req, res, verdict.identity);
    } else sendResponse(res, errorResponse("not_found", "policy.local is not served by this proxy"));
  } else {
    if (expectsContinue) res.writeContinue();
    await forwardDecided(core, req, res, verdict);
  }
}

export async function handleForwardUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => socket.destroy());
  const verdict = await decideForward(core, req);
  if (verdict.kind === "forward") {
    handleUpgrade(core, req, socket, head, verdict.base, verdict.d, verdict.dest, verdict.path);
  } else if (verdict.kind === "answer") socket.end(rawResponse(verdict.response));
  else socket.end(rawResponse(errorResponse("invalid_request", "policy.local does not upgrade connections")));
}
