// What the upstream sees must be what was decided. Before the policy decides a request, its
// form is checked for what common servers would read differently from the decision; after, the
// method-override carriers are decided as the method they name (both must be allowed). Pure.
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import {
  type CompiledPolicy,
  decideRequest,
  type RequestDecision,
  type RequestInput,
} from "../policy/engine.ts";
import { normalizeHost } from "../policy/host.ts";
import { parseQuery } from "../policy/path.ts";
import { parseAuthority } from "./http-target.ts";
import { HOP_BY_HOP } from "./upstream.ts";

/** A query is forwarded as received: printable ASCII only, and no fragment. */
const QUERY = /^[\x21\x22\x24-\x7e]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/** Shown in a reason only when it is a plain, short header name (values never reach a log). */
function shownName(name: string): string {
  return TOKEN.test(name) ? name : "a header";
}

/**
 * Methods whose content has no defined meaning (RFC 9110 §9.3.1, §9.3.2, §9.3.8): servers that
 * ignore it read it as the next request on the connection, one the proxy never decided.
 */
const BODYLESS = new Set(["GET", "HEAD", "TRACE"]);

/**
 * Null when the request can be forwarded as decided, else why not: a query with characters
 * outside printable ASCII, a Connection header that would make the proxy drop an end-to-end
 * header (Host, Content-Length, the ones the decision read), a transfer coding other than
 * `chunked` alone (the proxy forwards the body it decoded, re-chunked), a body on a method
 * whose body has no meaning.
 */
export function requestFormProblem(
  method: string,
  target: string,
  rawHeaders: readonly string[],
): string | null {
  const q = target.indexOf("?");
  if (q !== -1 && !QUERY.test(target.slice(q + 1))) {
    return "character outside printable ASCII (or a #) in the query";
  }
  let codings: string | undefined;
  let body = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      if ((rawHeaders[i + 1] as string).trim() !== "0") body = true;
    } else if (name.length === 10 && name.toLowerCase() === "connection") {
      for (const raw of (rawHeaders[i + 1] as string).split(",")) {
        const token = raw.trim().toLowerCase();
        if (token === "" || token === "close" || HOP_BY_HOP.has(token)) continue;
        return `Connection names ${shownName(token)}: only hop-by-hop headers may be dropped on the way (the upstream must see what was decided)`;
      }
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      const value = (rawHeaders[i + 1] as string).trim().toLowerCase();
      codings = codings === undefined ? value : `${codings}, ${value}`;
      body = true;
    }
  }
  if (body && BODYLESS.has(method.toUpperCase())) {
    return `a body on ${method.toUpperCase()} has no defined meaning (RFC 9110): a server that ignores it reads it as the next request`;
  }
  if (codings !== undefined && codings !== "chunked") {
    return "Transfer-Encoding other than chunked alone: the body is forwarded as decoded, re-chunked";
  }
  return null;
}

/**
 * Headers that common frameworks (Rails, Laravel, Symfony, Express) read as the request's
 * method. Compared as CGI does (HTTP_X_HTTP_METHOD_OVERRIDE): `_` and `-` are the same there.
 */
const OVERRIDE_HEADERS = new Set(["x-http-method-override", "x-http-method", "x-method-override"]);

function cgiName(name: string): string {
  return name.toLowerCase().replaceAll("_", "-");
}

/**
 * The form field and query parameter they read (Rails, Laravel, Symfony), as PHP names it:
 * leading spaces dropped, `.`, ` ` and an unmatched `[` read as `_`, `[...]` making an array of
 * it. Any case, so the match is a superset of every framework's.
 */
const OVERRIDE_PARAM = /^[_. []method(?:\[.*)?$/;

export function isOverrideParam(key: string): boolean {
  return OVERRIDE_PARAM.test(key.trim().toLowerCase());
}
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
    if (!isOverrideParam(key)) continue;
    for (const value of values) {
      const problem = addValue(out, value, `_method in the ${where}`);
      if (problem) return problem;
    }
  }
  return null;
}

/** The methods a request's override carriers in its head name: headers and `_method` in the query. */
export function carriedMethods(rawHeaders: readonly string[], query: string): Carried {
  const methods: CarriedMethod[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length < 12 || name.length > 22 || !OVERRIDE_HEADERS.has(cgiName(name))) continue;
    const problem = addValue(methods, rawHeaders[i + 1] as string, name);
    if (problem) return { ok: false, reason: problem };
  }
  // Only a query that could spell the name (plainly or escaped) is parsed.
  if (query.includes("%") || query.toLowerCase().includes("method")) {
    const problem = fromParams(methods, query, "query");
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

/** The methods a compiled policy's rules name (allow and deny rules, `*` aside), per revision. */
const namedMethods = new WeakMap<CompiledPolicy, readonly string[]>();

function methodsNamedBy(cp: CompiledPolicy): readonly string[] {
  let named = namedMethods.get(cp);
  if (!named) {
    const set = new Set<string>();
    for (const table of [cp.exact, cp.wildcard])
      for (const endpoints of table.values())
        for (const ep of endpoints)
          for (const rule of [...ep.allows, ...ep.denies]) if (rule.method !== "*") set.add(rule.method);
    named = [...set];
    namedMethods.set(cp, named);
  }
  return named;
}

/**
 * Whether the request would be allowed whatever method it named. A rule names its method
 * exactly or as `*`, so every method no rule names is decided alike: the methods the rules
 * name, and one they do not, cover every method an override could carry.
 */
export function everyMethodAllowed(cp: CompiledPolicy, input: RequestInput): boolean {
  const named = methodsNamedBy(cp);
  let unnamed = "UNNAMED";
  while (named.includes(unnamed)) unnamed += "X";
  for (const method of [...named, unnamed]) {
    if (decideRequest(cp, { ...input, method }).decision === "deny") return false;
  }
  return true;
}

const FORM_TYPE = "application/x-www-form-urlencoded";

/** A body whose fields frameworks read as parameters (a `_method` among them). */
export type FieldBody = "form" | "multipart" | "json";

/**
 * The kinds of field-carrying body on their way (none, one, or several when the type names
 * several): urlencoded (Rack also reads a POST body without a media type as one), multipart
 * (PHP, Rack) or JSON (Laravel, Express). Their `_method` fields must be read before the
 * request is decided.
 */
export function expectsFormBody(method: string, rawHeaders: readonly string[]): FieldBody[] {
  // Several Content-Type lines: a parser may read any one of them, so every one counts.
  const types: string[] = [];
  let body = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string;
    // Only these three lengths can name a header that matters here: no lower-casing for the rest.
    if (raw.length !== 12 && raw.length !== 14 && raw.length !== 17) continue;
    const name = raw.toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (name === "content-type") types.push(value.trim().toLowerCase());
    else if (name === "transfer-encoding" || (name === "content-length" && value.trim() !== "0")) body = true;
  }
  if (!body) return [];
  const type = types.join(",");
  // No media type before its parameters is none at all (Rack: a POST without one is a form).
  const untyped = types.length === 0 || types.some((t) => /^\s*(?:[;,]|$)/.test(t));
  const kinds: FieldBody[] = [];
  if ((untyped && method.toUpperCase() === "POST") || type.includes(FORM_TYPE)) kinds.push("form");
  if (type.includes("multipart/")) kinds.push("multipart");
  if (type.includes("json")) kinds.push("json");
  return kinds;
}

const DECODERS: Record<string, (body: Buffer, max: number) => Buffer> = {
  gzip: (b, max) => gunzipSync(b, { maxOutputLength: max }),
  "x-gzip": (b, max) => gunzipSync(b, { maxOutputLength: max }),
  deflate: (b, max) => inflateSync(b, { maxOutputLength: max }),
  br: (b, max) => brotliDecompressSync(b, { maxOutputLength: max }),
};

/**
 * A body read whole, as a server that decodes its Content-Encoding reads it (body parsers
 * inflate gzip, deflate and br before they read fields): the decoded bytes, or why they cannot
 * be had (another coding, a broken stream, more than `max` bytes once decoded).
 */
export function decodedBody(
  rawHeaders: readonly string[],
  body: Buffer,
  max: number,
): { ok: true; body: Buffer } | { ok: false; reason: string } {
  const codings: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 16 || name.toLowerCase() !== "content-encoding") continue;
    for (const token of (rawHeaders[i + 1] as string).split(",")) {
      const coding = token.trim().toLowerCase();
      if (coding !== "" && coding !== "identity") codings.push(coding);
    }
  }
  let out = body;
  // Applied in the order listed: undone last first.
  for (const coding of codings.reverse()) {
    const decode = DECODERS[coding];
    if (!decode)
      return {
        ok: false,
        reason: `Content-Encoding ${shownName(coding)}: the body cannot be read for a _method field`,
      };
    try {
      out = decode(out, max);
    } catch {
      return {
        ok: false,
        reason: `a ${coding} body that does not decode within ${max} bytes cannot be checked for a _method field`,
      };
    }
  }
  return { ok: true, body: out };
}

/** The methods the `_method` fields of a body read whole name. */
export function bodyMethods(kinds: readonly FieldBody[], body: Buffer): Carried {
  const methods: CarriedMethod[] = [];
  for (const kind of kinds) {
    const problem =
      kind === "form"
        ? fromParams(methods, body.toString("latin1"), "form")
        : kind === "json"
          ? fromJson(methods, body.toString("utf8"))
          : fromMultipart(methods, body.toString("latin1"));
    if (problem) return { ok: false, reason: problem };
  }
  return { ok: true, methods };
}

function fromJson(out: CarriedMethod[], text: string): string | null {
  if (text.trim() === "") return null;
  try {
    JSON.parse(text);
  } catch {
    return "malformed JSON body: the method it may carry cannot be read";
  }
  // Every member of every object, at any depth: a server may read `_method` from a nested
  // object (`data._method`, a batch's entries), and JSON.parse keeps the last of a repeated key,
  // other parsers the first. The walk is one pass over a body already bounded in size.
  const carrier = "_method in the JSON body";
  for (const [key, field] of jsonMembers(text)) {
    if (!isOverrideParam(key)) continue;
    if (field === null) return `${carrier} does not name an HTTP method`;
    const problem = addValue(out, field, carrier);
    if (problem) return problem;
  }
  return null;
}

const JSON_STRING = /"(?:[^"\\]|\\.)*"/y;
const JSON_SPACE = /[ \t\r\n]*/y;

/**
 * Every member of every object in a valid JSON text, in order, duplicates kept: its key, and its
 * value when that is a string (null for any other). Iterative: nesting depth costs no stack.
 */
function jsonMembers(text: string): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  const stringAt = (at: number): { value: string; end: number } | null => {
    JSON_STRING.lastIndex = at;
    const m = JSON_STRING.exec(text);
    return m ? { value: JSON.parse(m[0]) as string, end: at + m[0].length } : null;
  };
  const skipSpace = (at: number): number => {
    JSON_SPACE.lastIndex = at;
    JSON_SPACE.exec(text);
    return JSON_SPACE.lastIndex;
  };
  // In valid JSON a string followed by `:` is a key; any other string is a value or an element.
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    const key = stringAt(i);
    if (!key) break;
    i = key.end;
    const colon = skipSpace(i);
    if (text[colon] !== ":") continue;
    const start = skipSpace(colon + 1);
    const value = text[start] === '"' ? stringAt(start) : null;
    out.push([key.value, value ? value.value : null]);
    if (value) i = value.end;
  }
  return out;
}

/**
 * Every Content-Disposition line anywhere in the body is read as a part's (a superset of what
 * any multipart parser finds, whatever boundary it settles on).
 */
const DISPOSITION = /content-disposition[ \t]*:([^\r\n]*)/gi;
const PART_NAME = /(?:^|[;,\s])name(\*?)[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)'|([^;,\s]*))/gi;

/**
 * Every name a part's disposition gives (`name`, `name*`; in either quotes, PHP's backslash
 * escapes dropped): any of them may be the one a parser keeps.
 */
function partNames(disposition: string): string[] | null {
  const names: string[] = [];
  for (const param of disposition.matchAll(PART_NAME)) {
    const name = (param[2] ?? param[3] ?? param[4] ?? "").replaceAll("\\", "");
    if (param[1] !== "*") names.push(name);
    else {
      try {
        names.push(decodeURIComponent(name.slice(name.lastIndexOf("'") + 1)));
      } catch {
        return null;
      }
    }
  }
  return names;
}

function fromMultipart(out: CarriedMethod[], text: string): string | null {
  const unreadable = "malformed multipart body: the method it may carry cannot be read";
  // Part headers may be folded (PHP joins the lines): read them unfolded.
  const unfolded = text.replace(/\r?\n[ \t]+/g, " ");
  for (const m of unfolded.matchAll(DISPOSITION)) {
    const names = partNames(m[1] as string);
    if (names === null) return unreadable;
    if (!names.some(isOverrideParam)) continue;
    const rest = unfolded.slice((m.index as number) + m[0].length);
    const start = /\r?\n\r?\n/.exec(rest);
    const end = start ? /\r?\n--/.exec(rest.slice(start.index + start[0].length)) : null;
    if (!start || !end) return unreadable;
    const value = rest.slice(start.index + start[0].length).slice(0, end.index);
    const problem = addValue(out, value, "_method in the multipart body");
    if (problem) return problem;
  }
  return null;
}

/**
 * Headers that servers and frameworks (IIS, Zend/Laminas, older Symfony) read as the request's
 * target instead of the request line. Compared as CGI does.
 */
const TARGET_HEADERS = new Set(["x-original-url", "x-rewrite-url"]);

/** The targets a request's headers ask for instead of its own, or why they cannot be decided. */
export function carriedTargets(
  rawHeaders: readonly string[],
): { ok: true; targets: Array<{ target: string; carrier: string }> } | { ok: false; reason: string } {
  const targets: Array<{ target: string; carrier: string }> = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 14 && name.length !== 13) continue;
    if (!TARGET_HEADERS.has(cgiName(name))) continue;
    const target = (rawHeaders[i + 1] as string).trim();
    if (!target.startsWith("/")) return { ok: false, reason: `${name} does not name an origin-form target` };
    targets.push({ target, carrier: name });
  }
  return { ok: true, targets };
}

/**
 * The request decided at each target its headers name, as its own method and as every method
 * its carriers name (a server may honour both): the first denial, or null.
 */
export function decideCarriedTargets(
  cp: CompiledPolicy,
  input: RequestInput,
  targets: ReadonlyArray<{ target: string; carrier: string }>,
  methods: readonly CarriedMethod[],
): RequestDecision | null {
  for (const { target, carrier } of targets) {
    for (const method of [input.method, ...methods.map((m) => m.method)]) {
      const d = decideRequest(cp, { ...input, method, path: target });
      if (d.decision === "deny")
        return { ...d, reason: `${carrier} asks for ${method} ${target}: ${d.reason}` };
    }
  }
  return null;
}

/**
 * Headers a server or framework behind a shared front end may route by instead of Host (Rails,
 * Django, Symfony and Spring honour them behind a trusted proxy). Compared as CGI does.
 */
const HOST_HEADERS = new Set(["x-forwarded-host", "x-host", "x-original-host"]);

/** The hosts a `Forwarded` value (RFC 7239) names in its `host=` parameters. */
function forwardedHosts(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(","))
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === "host")
        out.push(
          pair
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, "$1"),
        );
    }
  return out;
}

/**
 * Null when every host a request's headers name besides Host is the decided host:port (the
 * port may be left out for `defaultPort`), else why not: a server that routes by one of them
 * would serve another site than the one decided (domain fronting).
 */
export function carriedHostProblem(
  rawHeaders: readonly string[],
  host: string,
  port: number,
  defaultPort: number,
): string | null {
  const decided = normalizeHost(host);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length < 6 || name.length > 16) continue;
    const lower = cgiName(name);
    const value = rawHeaders[i + 1] as string;
    const named =
      lower === "forwarded" ? forwardedHosts(value) : HOST_HEADERS.has(lower) ? value.split(",") : null;
    if (named === null) continue;
    for (const text of named) {
      const parsed = parseAuthority(text.trim(), defaultPort);
      if (parsed?.host === decided && parsed.port === port) continue;
      return `${shownName(name)} names another host than ${decided}:${port} (domain fronting is not allowed)`;
    }
  }
  return null;
}
