// One HTTP request's verdict, shared by inspected (inspect.ts) and forward-proxy (forward.ts)
// requests: the form checks, the policy on the method, then on every method an override
// carrier names (headers and query first; a form, multipart or JSON body once it has been read).
import type { IncomingMessage, ServerResponse } from "node:http";
import { buildHttpEvent } from "../audit/ocsf.ts";
import {
  type CompiledPolicy,
  decideRequest,
  type RequestDecision,
  type RequestInput,
} from "../policy/engine.ts";
import { actorOf, type DenyRecord, type ProxyCore, requestDenial } from "./core.ts";
import { type ProxyResponse, sendResponse } from "./deny.ts";
import { type Destination, relayRequest } from "./relay.ts";
import {
  bodyMethods,
  carriedHostProblem,
  carriedMethods,
  carriedTargets,
  decideCarried,
  decideCarriedTargets,
  decodedBody,
  everyMethodAllowed,
  expectsFormBody,
  type FieldBody,
  requestFormProblem,
} from "./request-checks.ts";

export type DenyBase = Pick<DenyRecord, "scheme" | "host" | "port" | "identity" | "method" | "target">;

/** An allowed request, ready to go upstream (once its form body, if any, was checked). */
export interface DecidedRequest {
  dest: Destination;
  /** The canonical path that was matched, with the query as received. */
  path: string;
  d: RequestDecision;
  base: DenyBase;
  input: RequestInput;
  cp: CompiledPolicy;
  formBody: FieldBody[];
}

export type HttpVerdict =
  | { ok: false; response: ProxyResponse }
  | { ok: true; d: RequestDecision; formBody: FieldBody[] };

function queryOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? "" : target.slice(q + 1);
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

/** A refusal of the request's form (before or beside the policy). */
function refuseForm(core: ProxyCore, base: DenyBase, reason: string, engine = "canonical"): ProxyResponse {
  return core.deny({
    ...base,
    layer: "l7",
    engine,
    policy: null,
    reason,
    path: pathOf(base.target ?? "/"),
  });
}

/** `input.path` is the origin-form target (query included). */
export function decideHttp(
  core: ProxyCore,
  cp: CompiledPolicy,
  base: DenyBase,
  input: RequestInput,
  rawHeaders: readonly string[],
): HttpVerdict {
  // The policy first: a request no rule allows is denied as such (with what rule is missing).
  const d = decideRequest(cp, input);
  if (d.decision === "deny") return { ok: false, response: core.deny(requestDenial(base, d)) };
  const problem = requestFormProblem(input.method, input.path, rawHeaders);
  if (problem) return { ok: false, response: refuseForm(core, base, problem) };
  const fronted = carriedHostProblem(rawHeaders, base.host, base.port, base.scheme === "https" ? 443 : 80);
  if (fronted) return { ok: false, response: refuseForm(core, base, fronted, "host_header") };
  const carried = carriedMethods(rawHeaders, queryOf(input.path));
  if (!carried.ok) return { ok: false, response: refuseForm(core, base, carried.reason) };
  const other = decideCarried(cp, input, carried.methods);
  if (other)
    return { ok: false, response: core.deny(requestDenial({ ...base, method: other.method }, other)) };
  const targets = carriedTargets(rawHeaders);
  if (!targets.ok) return { ok: false, response: refuseForm(core, base, targets.reason) };
  const elsewhere = decideCarriedTargets(cp, input, targets.targets, carried.methods);
  if (elsewhere) return { ok: false, response: core.deny(requestDenial(base, elsewhere)) };
  // A body is read whole before it goes upstream only when a `_method` field in it could
  // change the decision: not when the request is allowed whatever method it names.
  const formBody = expectsFormBody(input.method, rawHeaders);
  if (formBody.length > 0 && everyMethodAllowed(cp, input)) return { ok: true, d, formBody: [] };
  return { ok: true, d, formBody };
}

/** Logs and relays an allowed request; a body with fields (form, multipart, JSON) is read whole and its `_method` fields decided first. */
export async function forwardDecided(
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  v: DecidedRequest,
): Promise<void> {
  if (v.formBody.length === 0) {
    // The request goes upstream first and its event is built while the upstream answers; the
    // event keeps the time of the decision.
    const time = core.now();
    try {
      relayRequest(core, req, res, v.dest, v.path);
    } finally {
      logAllowedRequest(core, v.base, v.d, v.d.reason, time);
    }
    return;
  }
  const body = await readFormBody(req, core.limits.maxFormBodyBytes);
  const refused = decideForm(core, v, req.rawHeaders, body);
  if (refused) {
    sendResponse(res, refused);
    return;
  }
  logAllowedRequest(core, v.base, v.d);
  relayRequest(core, req, res, v.dest, v.path, body ?? undefined);
}

/** Reads a whole form body (up to `max` bytes; null beyond, or when the client went away). */
function readFormBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        done(null);
        return;
      }
      chunks.push(chunk);
    };
    const done = (body: Buffer | null) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      resolve(body);
    };
    const onEnd = () => done(Buffer.concat(chunks));
    const onClose = () => done(null);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
  });
}

/** The verdict on the `_method` fields of a form body that has been read. */
function decideForm(
  core: ProxyCore,
  v: DecidedRequest,
  rawHeaders: readonly string[],
  body: Buffer | null,
): ProxyResponse | null {
  const { cp, base, input } = v;
  if (body === null) {
    return refuseForm(
      core,
      base,
      `a form or JSON body larger than ${core.limits.maxFormBodyBytes} bytes cannot be checked for a _method field`,
    );
  }
  const decoded = decodedBody(rawHeaders, body, core.limits.maxFormBodyBytes);
  if (!decoded.ok) return refuseForm(core, base, decoded.reason);
  const carried = bodyMethods(v.formBody, decoded.body);
  if (!carried.ok) return refuseForm(core, base, carried.reason);
  const other = decideCarried(cp, input, carried.methods);
  return other ? core.deny(requestDenial({ ...base, method: other.method }, other)) : null;
}

/** The audit event of an allowed request. */
export function logAllowedRequest(
  core: ProxyCore,
  base: DenyBase,
  d: RequestDecision,
  reason = d.reason,
  time = core.now(),
): void {
  core.log(
    buildHttpEvent({
      time,
      allowed: true,
      scheme: base.scheme,
      host: base.host,
      port: base.port,
      method: base.method,
      target: base.target ?? "/",
      actor: actorOf(base.identity),
      policy: d.policy,
      engine: d.layer,
      reason,
      auditViolation: d.auditViolation,
    }),
  );
}
