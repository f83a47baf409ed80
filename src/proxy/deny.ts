// THE deny-body builder (docs/design.md §4.3): one structured 403 for L4, L7 and forward-proxy
// denials, plus the `{error, detail}` bodies of every other proxy answer (502, 400, 408, 431, 503).
// Pure: values in, a status, headers and a body out; proxy code only writes them.
import type { ServerResponse } from "node:http";
import type { RuleMissing } from "../policy/engine.ts";
import { denyNextSteps, type NextStep, POLICY_LOCAL_BASE, SKILL_PATH } from "./policy-local-api.ts";

export interface DenyInput {
  layer: "l4" | "l7";
  /** "rest" for L7 requests; null at L4. */
  protocol: "rest" | null;
  /** HTTP method (CONNECT for a tunnel request). */
  method: string;
  /** Path without the query; null for CONNECT. */
  path: string | null;
  host: string;
  port: number;
  binary: string;
  policy: string | null;
  reason: string;
  ruleMissing?: RuleMissing;
  /** `agent_policy_proposals_enabled`: next_steps and agent_guidance only when on. */
  proposalsEnabled: boolean;
}

export interface DenyBody {
  error: "policy_denied";
  layer: "l4" | "l7";
  protocol: "rest" | null;
  method: string;
  path: string | null;
  host: string;
  port: number;
  binary: string;
  policy: string | null;
  rule: string;
  reason: string;
  detail: string;
  rule_missing?: RuleMissing;
  next_steps: NextStep[];
  agent_guidance?: string;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function stripQuery(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

function guidance(input: DenyInput): string {
  if (input.ruleMissing === undefined) {
    return (
      `This was refused on purpose (${input.reason}); adding an allow rule will not change it. ` +
      "Do not try to get around the proxy. Tell the user what you needed and why, " +
      `or continue without it. The skill file ${SKILL_PATH} explains the policy.`
    );
  }
  return (
    "The sandbox's network policy does not allow this yet. Do not retry it unchanged and do not " +
    `try to get around the proxy. Read ${SKILL_PATH}, check ${POLICY_LOCAL_BASE}/v1/policy/current ` +
    `and ${POLICY_LOCAL_BASE}/v1/denials, then POST the narrowest rule that would allow exactly this ` +
    `(this host and port, this method and path, this binary) to ${POLICY_LOCAL_BASE}/v1/proposals ` +
    "and wait on /v1/proposals/{id}/wait for the developer's decision before retrying."
  );
}

/** The structured body agents parse. Exactly the fields of docs/design.md §4.3. */
export function buildDenyBody(input: DenyInput): DenyBody {
  const path = input.path === null ? null : stripQuery(input.path);
  const method = input.method.toUpperCase();
  const target = `${input.host}:${input.port}`;
  const rule = input.layer === "l7" && path !== null ? `${method} ${path}` : target;
  const detail =
    input.layer === "l7" && path !== null
      ? `${method} ${path} not permitted by policy`
      : `${method === "CONNECT" ? "CONNECT " : ""}${target} not permitted by policy`;
  const body: DenyBody = {
    error: "policy_denied",
    layer: input.layer,
    protocol: input.layer === "l7" ? input.protocol : null,
    method,
    path,
    host: input.host,
    port: input.port,
    binary: input.binary,
    policy: input.policy,
    rule,
    reason: input.reason,
    detail,
    ...(input.ruleMissing ? { rule_missing: input.ruleMissing } : {}),
    next_steps: input.proposalsEnabled ? denyNextSteps() : [],
  };
  if (input.proposalsEnabled) body.agent_guidance = guidance(input);
  return body;
}

const JSON_HEADERS = { "Content-Type": "application/json", Connection: "close" };

/** 403 with the structured body and `X-Airlock-Policy: <rule key or ->`. */
export function denyResponse(input: DenyInput): ProxyResponse {
  const body = `${JSON.stringify(buildDenyBody(input))}\n`;
  return {
    status: 403,
    headers: { ...JSON_HEADERS, "X-Airlock-Policy": input.policy ?? "-" },
    body,
  };
}

export type ProxyErrorCode =
  | "upstream_unreachable"
  | "invalid_request"
  | "invalid_policy_local_scheme"
  | "not_found"
  | "request_timeout"
  | "headers_too_large"
  | "connection_limit"
  | "method_not_allowed";

const ERROR_STATUS: Record<ProxyErrorCode, number> = {
  upstream_unreachable: 502,
  invalid_request: 400,
  invalid_policy_local_scheme: 400,
  not_found: 404,
  request_timeout: 408,
  headers_too_large: 431,
  connection_limit: 503,
  method_not_allowed: 405,
};

/** Every non-policy answer of the proxy: `{error, detail}` as JSON, connection closed. */
export function errorResponse(error: ProxyErrorCode, detail: string): ProxyResponse {
  return {
    status: ERROR_STATUS[error],
    headers: { ...JSON_HEADERS },
    body: `${JSON.stringify({ error, detail })}\n`,
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** The response as raw HTTP/1.1 bytes, for sockets that have no ServerResponse (CONNECT, clientError). */
export function rawResponse(resp: ProxyResponse): string {
  const headers = { ...resp.headers, "Content-Length": String(Buffer.byteLength(resp.body)) };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${resp.status} ${STATUS_TEXT[resp.status] ?? "Error"}\r\n${lines.join("\r\n")}\r\n\r\n${resp.body}`;
}

/** Writes the response on a ServerResponse and ends it (the connection closes after it). */
export function sendResponse(res: ServerResponse, resp: ProxyResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.shouldKeepAlive = false;
  res.writeHead(resp.status, { ...resp.headers, "Content-Length": Buffer.byteLength(resp.body) });
  res.end(resp.body);
}
