// What the upstream sees must be what was decided. Before the policy decides a request, its
// form is checked for what common servers would read differently from the decision; after, the
// method-override carriers are decided as the method they name (both must be allowed). Pure.
import {
  type CompiledPolicy,
  decideRequest,
  type RequestDecision,
  type RequestInput,
} from "../policy/engine.ts";
import { parseQuery } from "../policy/path.ts";
import { HOP_BY_HOP } from "./upstream.ts";

/** A query is forwarded as received: printable ASCII only, and no fragment. */
const QUERY = /^[\x21\x22\x24-\x7e]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/** Shown in a reason only when it is a plain, short header name (values never reach a log). */
function shownName(name: string): string {
  return TOKEN.test(name) ? name : "a header";
}

/**
 * Null when the request can be forwarded as decided, else why not: a query with characters
 * outside printable ASCII, a Connection header that would make the proxy drop an end-to-end
 * header (Host, Content-Length, the ones the decision read), a transfer coding other than
 * `chunked` alone (the proxy forwards the body it decoded, re-chunked).
 */
export function requestFormProblem(target: string, rawHeaders: readonly string[]): string | null {
  const q = target.indexOf("?");
  if (q !== -1 && !QUERY.test(target.slice(q + 1))) {
    return "character outside printable ASCII (or a #) in the query";
  }
  let codings: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 10 && name.toLowerCase() === "connection") {
      for (const raw of (rawHeaders[i + 1] as string).split(",")) {
        const token = raw.trim().toLowerCase();
        if (token === "" || token === "close" || HOP_BY_HOP.has(token)) continue;
        return `Connection names ${shownName(token)}: only hop-by-hop headers may be dropped on the way (the upstream must see what was decided)`;
      }
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      const value = (rawHeaders[i + 1] as string).trim().toLowerCase();
      codings = codings === undefined ? value : `${codings}, ${value}`;
    }
  }
  if (codings !== undefined && codings !== "chunked") {
    return "Transfer-Encoding other than chunked alone: the body is forwarded as decoded, re-chunked";
  }
  return null;
}

/** Headers that common frameworks (Rails, Laravel, Symfony, Express) read as the request's method. */
const OVERRIDE_HEADERS = new Set(["x-http-method-override", "x-http-method", "x-method-override"]);
/** The form field and query parameter they read (Rails, Laravel, Symfony). */
const OVERRIDE_PARAM = "_method";
const METHOD = /^[A-Za-z]{1,20}$/;

export interface CarriedMethod {
  method: string;
  /** Where it came from, for the reason: a header name, or `_method in the query|form`. */
  carrier: string;
}

export type Carried = { ok: true; methods: CarriedMethod[] } | { ok: false; reason: string };

function addValue(out: CarriedMethod[], value: string, carrier: string): string | null {
  const method = value.trim();
  if (!METHOD.test(method)) return `${carrier} does not name an HTTP method`;
  out.push({ method: method.toUpperCase(), carrier });
  return null;
}

function fromParams(out: CarriedMethod[], text: string, where: "query" | "form"): string | null {
  // `;` separates parameters too for some parsers (Rack 2): read as one, the result is a superset.
  const params = parseQuery(text.replaceAll(";", "&"));
  if (params === null)
    return `malformed ${where === "query" ? "query string" : "form body"}: the method it may carry cannot be read`;
  for (const [key, values] of params) {
    if (key.trim().toLowerCase() !== OVERRIDE_PARAM) continue;
    for (const value of values) {
      const problem = addValue(out, value, `_method in the ${where}`);
      if (problem) return problem;
    }
  }
  return null;
}

/** The methods a request's override carriers name: headers, `_method` in the query and in a urlencoded form body. */
export function carriedMethods(rawHeaders: readonly string[], query: string, form: string | null): Carried {
  const methods: CarriedMethod[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length < 12 || name.length > 22 || !OVERRIDE_HEADERS.has(name.toLowerCase())) continue;
    const problem = addValue(methods, rawHeaders[i + 1] as string, name);
    if (problem) return { ok: false, reason: problem };
  }
  // Only a query that could spell the name (plainly or escaped) is parsed.
  if (query.includes("%") || query.toLowerCase().includes("method")) {
    const problem = fromParams(methods, query, "query");
    if (problem) return { ok: false, reason: problem };
  }
  if (form !== null) {
    const problem = fromParams(methods, form, "form");
    if (problem) return { ok: false, reason: problem };
  }
  return { ok: true, methods };
}

/**
 * The request decided as each method its carriers name (the request's own method was decided
 * already): the first denial, or null when every one is allowed.
 */
export function decideCarried(
  cp: CompiledPolicy,
  input: RequestInput,
  methods: readonly CarriedMethod[],
): RequestDecision | null {
  const own = input.method.toUpperCase();
  for (const { method, carrier } of methods) {
    if (method === own) continue;
    const d = decideRequest(cp, { ...input, method });
    if (d.decision === "deny") return { ...d, reason: `${carrier} asks for ${method}: ${d.reason}` };
  }
  return null;
}

const FORM_TYPE = "application/x-www-form-urlencoded";

/**
 * A urlencoded form body is on its way (Rack also reads a POST body without Content-Type as
 * one): its `_method` field must be read before the request is decided.
 */
export function expectsFormBody(method: string, rawHeaders: readonly string[]): boolean {
  let type: string | undefined;
  let body = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string;
    // Only these three lengths can name a header that matters here: no lower-casing for the rest.
    if (raw.length !== 12 && raw.length !== 14 && raw.length !== 17) continue;
    const name = raw.toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (name === "content-type") type = `${type ?? ""}${value.trim().toLowerCase()}`;
    else if (name === "transfer-encoding" || (name === "content-length" && value.trim() !== "0")) body = true;
  }
  if (!body) return false;
  return type === undefined ? method.toUpperCase() === "POST" : type.includes(FORM_TYPE);
}
