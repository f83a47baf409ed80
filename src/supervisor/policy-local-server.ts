// `policy.local` (docs/design.md §5): the agent's API inside the sandbox, served by the supervisor
// through the proxy's local-router hook. Dispatch comes from the one route table in
// src/proxy/policy-local-api.ts (the deny body's next_steps come from it too). Proposal
// routes delegate to a `ProposalsHandler` that the gateway connection provides; without one
// they answer 503 gateway_unavailable.
import type { IncomingMessage, ServerResponse } from "node:http";
import { readRecentDenials } from "../audit/reader.ts";
import { dumpPolicyYaml, policyHash } from "../policy/canonical.ts";
import type { Policy } from "../policy/schema.ts";
import {
  matchPolicyLocalRoute,
  POLICY_LOCAL_MAX_BODY,
  type PolicyLocalAction,
} from "../proxy/policy-local-api.ts";
import type { LocalRouter, ProcessIdentity } from "../proxy/proxy.ts";
import { GATE_HOOK_MAX_BODY, type GateHookHandler, NO_GATEWAY } from "./gate-hook.ts";

export interface JsonAnswer {
  status: number;
  body: unknown;
  /** Sent as it is instead of `body` (the gate hook's answer is the agent's own format). */
  raw?: string;
}

/** What the gateway session (session.ts) supplies for the proposal routes. */
export interface ProposalsHandler {
  submit(body: unknown, identity: ProcessIdentity | null): Promise<JsonAnswer>;
  get(id: string): Promise<JsonAnswer>;
  /** `timeoutSeconds` already clamped to 1..300; resolves when decided or timed out. */
  wait(id: string, timeoutSeconds: number, signal: AbortSignal): Promise<JsonAnswer>;
}

export interface LocalRoutesOptions {
  /** The policy the proxy enforces now and its revision number. */
  current(): { policy: Policy; version: number };
  /** The sandbox's audit log folder (shorthand lines are read back from it). */
  logDir: string;
  proposalsEnabled(): boolean;
  proposals?: () => ProposalsHandler | undefined;
  /** The gate route for an agent's hook inside (gate-hook.ts); absent → 503, the hook denies. */
  gateHook?: () => GateHookHandler | undefined;
  bodyTimeoutMs?: number;
}

export function errorBody(error: string, detail: string): { error: string; detail: string } {
  return { error, detail };
}

export const FEATURE_DISABLED: JsonAnswer = {
  status: 404,
  body: errorBody(
    "feature_disabled",
    "agent policy proposals are disabled for this sandbox; tell the developer what you need " +
      "(they can enable proposals with `airlock run --enable-proposals`)",
  ),
};

export const GATEWAY_UNAVAILABLE: JsonAnswer = {
  status: 503,
  body: errorBody(
    "gateway_unavailable",
    "no Airlock gateway is connected to this sandbox, so proposals cannot be submitted or decided now",
  ),
};

/** `last` for /v1/denials: default 10, clamped to 1..100, 0 → 1, anything not an integer → 10. */
export function parseLast(value: string | null): number {
  if (value === null || !/^[+-]?\d+$/.test(value.trim())) return 10;
  const n = Number(value.trim());
  return Math.min(100, Math.max(1, n));
}

/** `timeout` for /wait: default 60, clamped to 1..300, anything not an integer → 60. */
export function parseWaitTimeout(value: string | null): number {
  if (value === null || !/^[+-]?\d+$/.test(value.trim())) return 60;
  return Math.min(300, Math.max(1, Number(value.trim())));
}

export function denialsAnswer(logDir: string, lastParam: string | null): JsonAnswer {
  const last = parseLast(lastParam);
  const recent = readRecentDenials(logDir, last);
  const body: { denials: string[]; log_available: boolean; note?: string } = {
    denials: recent.lines,
    log_available: recent.logAvailable,
  };
  if (!recent.logAvailable) body.note = "this sandbox has not written its log yet; no denials are recorded";
  else if (recent.lines.length === 0) body.note = "no denials recorded in this sandbox";
  else if (lastParam !== null && String(last) !== lastParam.trim()) {
    body.note = `last=${lastParam.slice(0, 32)} read as ${last} (1..100)`;
  }
  return { status: 200, body };
}

export function policyAnswer(policy: Policy, version: number): JsonAnswer {
  return {
    status: 200,
    body: { format: "yaml", policy_yaml: dumpPolicyYaml(policy), version, hash: policyHash(policy) },
  };
}

function send(res: ServerResponse, answer: JsonAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = answer.raw ?? `${JSON.stringify(answer.body)}\n`;
  res.writeHead(answer.status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}

/** The request body, at most `limit` bytes, read within the time limit; null (and answered) otherwise. */
function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  timeoutMs: number,
  limit = POLICY_LOCAL_MAX_BODY,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | null, answer?: JsonAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (answer) {
        res.shouldKeepAlive = false;
        send(res, answer);
        req.resume();
      }
      resolve(value);
    };
    const timer = setTimeout(
      () =>
        finish(null, {
          status: 408,
          body: errorBody("request_timeout", `body not received within ${timeoutMs} ms`),
        }),
      timeoutMs,
    );
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish(null, {
          status: 413,
          body: errorBody("body_too_large", `this policy.local body is limited to ${limit} bytes`),
        });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => finish(Buffer.concat(chunks)));
    req.on("error", () => finish(null));
  });
}

async function dispatch(
  options: LocalRoutesOptions,
  action: PolicyLocalAction,
  params: Record<string, string>,
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  identity: ProcessIdentity | null,
): Promise<JsonAnswer | null> {
  switch (action) {
    case "inspect_policy": {
      const { policy, version } = options.current();
      return policyAnswer(policy, version);
    }
    case "inspect_recent_denials":
      return denialsAnswer(options.logDir, query.get("last"));
    case "submit_proposal": {
      const raw = await readBody(req, res, options.bodyTimeoutMs ?? 15_000);
      if (raw === null) return null;
      const handler = options.proposals?.();
      if (!handler) return GATEWAY_UNAVAILABLE;
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        return { status: 400, body: errorBody("invalid_proposal", "the body is not valid JSON") };
      }
      return handler.submit(body, identity);
    }
    case "get_proposal": {
      const handler = options.proposals?.();
      return handler ? handler.get(params["id"] ?? "") : GATEWAY_UNAVAILABLE;
    }
    case "wait_proposal": {
      const handler = options.proposals?.();
      if (!handler) return GATEWAY_UNAVAILABLE;
      const abort = new AbortController();
      res.once("close", () => abort.abort());
      return handler.wait(params["id"] ?? "", parseWaitTimeout(query.get("timeout")), abort.signal);
    }
    case "decide_tool_call": {
      const raw = await readBody(req, res, options.bodyTimeoutMs ?? 15_000, GATE_HOOK_MAX_BODY);
      if (raw === null) return null;
      const handler = options.gateHook?.();
      if (!handler) return NO_GATEWAY;
      const abort = new AbortController();
      res.once("close", () => abort.abort());
      return handler.decide(params["agent"] ?? "", raw.toString("utf8"), query.get("wait"), abort.signal);
    }
  }
}

export function createLocalRouter(options: LocalRoutesOptions): LocalRouter {
  return (req, res, identity) => {
    const url = new URL(req.url ?? "/", "http://policy.local");
    const match = matchPolicyLocalRoute(req.method ?? "GET", url.pathname);
    // The gate route serves the agent's own hook: it does not depend on proposals being enabled.
    const gateRoute = "route" in match && match.route.action === "decide_tool_call";
    if (!options.proposalsEnabled() && !gateRoute) {
      req.resume();
      send(res, FEATURE_DISABLED);
      return;
    }
    if ("error" in match) {
      req.resume();
      send(
        res,
        match.error === "not_found"
          ? { status: 404, body: errorBody("not_found", `no policy.local route ${url.pathname}`) }
          : {
              status: 405,
              body: errorBody("method_not_allowed", `${req.method} is not allowed on ${url.pathname}`),
            },
      );
      return;
    }
    if (match.route.method === "GET") req.resume();
    dispatch(options, match.route.action, match.params, url.searchParams, req, res, identity).then(
      (answer) => {
        if (answer) send(res, answer);
      },
      (error: Error) => send(res, { status: 500, body: errorBody("internal_error", error.message) }),
    );
  };
}
