// The one path matcher: request-path canonicalisation and glob matching. Pure.

export type NormalizedPath = { ok: true; path: string; forwardPath: string } | { ok: false; reason: string };

const HEX = /^[0-9a-fA-F]{2}$/;
/** Characters a path segment may carry unencoded when forwarded (RFC 3986 pchar). */
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/** What a raw path may contain: RFC 3986 pchar, "/" and escapes. */
const RAW_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/**
 * Decodes percent-escapes once, removes dot segments and empty segments. Refused, because
 * common servers read them differently (so no one canonical form exists): raw characters
 * outside RFC 3986 (backslash, `#`, spaces, controls, raw non-ASCII bytes), encoded slashes
 * (unless allowed), second-level encoding, control characters, bad escapes, a dot segment
 * written with escapes (`%2e%2e`) and a dot segment with parameters (`..;x`).
 * `path` is what policy matches; `forwardPath` is the same path re-encoded, so the upstream
 * sees exactly what was judged.
 */
export function normalizePath(raw: string, allowEncodedSlash = false): NormalizedPath {
  if (!raw.startsWith("/")) return { ok: false, reason: "path must start with /" };
  if (isCanonical(raw)) return { ok: true, path: raw, forwardPath: raw };
  if (!RAW_PATH.test(raw)) {
    return {
      ok: false,
      reason: "character outside RFC 3986 in path (a backslash, #, space, control or raw non-ASCII byte)",
    };
  }
  const segments: string[] = [];
  for (const rawSegment of raw.split("/").slice(1)) {
    const decoded = decodeSegment(rawSegment, allowEncodedSlash);
    if (typeof decoded !== "string") return decoded;
    if (decoded !== rawSegment && (decoded === "." || decoded === ".."))
      return { ok: false, reason: "dot segment written with escapes (%2E) in path" };
    const semicolon = decoded.indexOf(";");
    const beforeParameters = semicolon === -1 ? null : decoded.slice(0, semicolon);
    if (beforeParameters === "." || beforeParameters === "..")
      return { ok: false, reason: "dot segment with parameters (..;) in path" };
    // A server that decodes a kept %2F reads what lies between as segments: `..` there climbs.
    if (allowEncodedSlash && decoded.includes("%") && decoded.split(/%(?:2F|5C)/i).some(isDotSegment))
      return { ok: false, reason: "dot segment between encoded slashes (..%2F) in path" };
    segments.push(decoded);
  }
  const output: string[] = [];
  for (const segment of segments) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      output.pop();
      continue;
    }
    output.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailingSlash = output.length > 0 && (last === "" || last === "." || last === "..");
  const path = `/${output.join("/")}${trailingSlash ? "/" : ""}`;
  const forwardPath = `/${output.map(encodeSegment).join("/")}${trailingSlash ? "/" : ""}`;
  return { ok: true, path, forwardPath };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const textBytes = new TextEncoder();

/** The common case: nothing to decode, no dot or empty segments, only plain characters. */
function isCanonical(raw: string): boolean {
  let previous = 0x2f;
  for (let i = 1; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x2f && (previous === 0x2f || previous === 0x2e)) return false; // "//", "./"
    if (code === 0x2e && previous === 0x2f) {
      const next = raw.charCodeAt(i + 1);
      // "/.", "/..", "/./", "/.;"
      if (Number.isNaN(next) || next === 0x2f || next === 0x2e || next === 0x3b) return false;
    }
    if (code === 0x25 || code < 0x21 || code > 0x7e) return false; // "%", controls, space, non-ASCII
    previous = code;
  }
  return PLAIN_PATH.test(raw);
}

function decodeSegment(segment: string, allowEncodedSlash: boolean): string | NormalizedPath {
  if (!segment.includes("%")) {
    return hasControlCharacter(segment) ? { ok: false, reason: "control character in path" } : segment;
  }
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] as string;
    if (ch !== "%") {
      bytes.push(...textBytes.encode(ch));
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return { ok: false, reason: "malformed percent-encoding in path" };
    const code = Number.parseInt(hex, 16);
    i += 2;
    if (code === 0x25) return { ok: false, reason: "double percent-encoding in path (%25)" };
    if (code === 0x2f || code === 0x5c) {
      if (!allowEncodedSlash) {
        return { ok: false, reason: "encoded slash in path (%2F); set allow_encoded_slash on the endpoint" };
      }
      bytes.push(...textBytes.encode(`%${hex.toUpperCase()}`)); // kept encoded: not a separator
      continue;
    }
    bytes.push(code);
  }
  let text: string;
  try {
    text = UTF8.decode(new Uint8Array(bytes));
  } catch {
    return { ok: false, reason: "invalid UTF-8 in percent-encoded path" };
  }
  return hasControlCharacter(text) ? { ok: false, reason: "control character in path" } : text;
}

function isDotSegment(part: string): boolean {
  const name = part.split(";")[0];
  return name === "." || name === "..";
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

function encodeSegment(segment: string): string {
  if (PLAIN_SEGMENT.test(segment)) return segment;
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] as string;
    if (ch === "%" && /^%(2F|5C)$/i.test(segment.slice(i, i + 3))) {
      out += segment.slice(i, i + 3);
      i += 2;
    } else if (PCHAR.test(ch)) out += ch;
    else {
      const code = segment.codePointAt(i) as number;
      if (code > 0xffff) i++;
      out += encodeURIComponent(String.fromCodePoint(code));
    }
  }
  return out;
}

/**
 * Compiles a path glob: `*` within one segment, `**` across segments (a whole `/**`
 * segment also matches nothing, so `/a/**` covers `/a`), `?` one character.
 */
export function compilePathGlob(glob: string, caseInsensitive = false): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === "*" && glob[i + 1] === "*") {
      const wholeSegment = glob[i - 1] === "/" && (i + 2 === glob.length || glob[i + 2] === "/");
      if (wholeSegment) {
        source = `${source.slice(0, -1)}(?:/.*)?`; // the "/" is taken back so "/**" may match nothing
      } else source += ".*";
      i++;
    } else if (ch === "*") source += "[^/]*";
    else if (ch === "?") source += "[^/]";
    else source += ch.replace(/[\\^$.|+(){}[\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "is" : "s");
}

const SPELLINGS: ReadonlyArray<{ applies: RegExp; spell: (path: string) => string }> = [
  // biome-ignore lint/suspicious/noControlCharactersInRegex: any character beyond ASCII
  { applies: /[^\u0000-\u007f]/, spell: (p) => p.normalize("NFKC") },
  { applies: /%(?:2F|5C)/i, spell: (p) => p.replace(/%(?:2F|5C)/gi, "/") },
  { applies: /;/, spell: (p) => p.replace(/;[^/]*/g, "") },
  // Windows (IIS) drops a segment's trailing dots and spaces and an alternate data stream.
  { applies: /[. ](?:\/|$)|::\$/, spell: (p) => p.replace(/::\$[^/]*/g, "").replace(/[. ]+(?=\/|$)/g, "") },
];

/**
 * The paths a common server may route a canonical path as, beside itself: with an encoded slash
 * kept by `allow_encoded_slash` read as a separator (servers that decode it), path parameters
 * cut off each segment (servlet containers), compatibility characters folded (NFKC: `ａ` is
 * `a`, `／` is `/`), a segment's trailing dots and spaces and `::$DATA` dropped (IIS), without
 * its trailing slash and with one (Express, Rails, ASP.NET match either), and without a format
 * extension on its last segment (Rails' `(.:format)`, Spring's suffix match). A deny rule
 * matches if any of them does (case aside: deny globs are compiled case-insensitively, as
 * Express, ASP.NET and IIS route).
 */
export function pathReadings(path: string): string[] {
  let spellings = [path];
  // Each reading applies to the others' results too (a server may do several).
  for (const read of SPELLINGS) {
    if (spellings.some((p) => read.applies.test(p))) spellings = [...spellings, ...spellings.map(read.spell)];
  }
  const out: string[] = [];
  for (const spelling of spellings) {
    const base = spelling.length > 1 && spelling.endsWith("/") ? spelling.slice(0, -1) : spelling;
    out.push(spelling, base, `${base}/`);
    const format = /^(.*\/[^/.][^/]*)\.[A-Za-z0-9]+$/.exec(base);
    if (format) out.push(format[1] as string);
  }
  return out;
}

/**
 * Whether every path `inner` matches is one `outer` matches, proven from their segments (never
 * sampled): `outer` ending in a whole `/**` covers the rest, `*` covers any one segment that
 * names no `**`, a segment glob covers a literal it matches, equal segments cover each other.
 * Anything else (a `**` inside a segment, or before the end of `outer`) is not proven: false.
 */
export function globWithin(inner: string, outer: string): boolean {
  if (inner === outer || outer === "/**") return true;
  const a = inner.split("/").slice(1);
  const b = outer.split("/").slice(1);
  for (let i = 0; i < b.length; i++) {
    const o = b[i] as string;
    if (o === "**") return i === b.length - 1;
    if (o.includes("**")) return false;
    const g = a[i];
    if (g === undefined || g.includes("**")) return false;
    if (g === o || o === "*") continue;
    if (/[*?]/.test(g) || !compilePathGlob(o).test(g)) return false;
  }
  return a.length === b.length;
}

/**
 * A literal segment as a deny rule's readings see it (pathReadings): folded, parameters, an
 * alternate data stream, trailing dots and spaces and a format extension cut.
 */
function segmentStem(segment: string): string {
  return segment
    .normalize("NFKC")
    .toLowerCase()
    .replace(/;.*$/, "")
    .replace(/::\$.*$/, "")
    .replace(/[. ]+$/, "")
    .replace(/^([^.].*?)\.[a-z0-9]+$/, "$1");
}

/**
 * Whether no path matched by glob `a` can be matched by deny glob `b` under any of the readings
 * a deny rule applies (pathReadings), proven from a segment where both are literal and read
 * differently. Anything else: false (they may overlap).
 */
export function globsDisjoint(a: string, b: string): boolean {
  const x = a.split("/").slice(1);
  const y = b.split("/").slice(1);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    if (/[*?%]/.test(p) || /[*?%]/.test(q)) return false;
    if (segmentStem(p) !== segmentStem(q)) return true;
  }
  return false;
}

export function validatePathGlob(glob: string): string | null {
  if (!glob.startsWith("/")) return `path "${glob}" must be absolute (start with /)`;
  if (/\*\*\*/.test(glob)) return `path "${glob}": "***" is not a valid glob`;
  if (/(^|\/)\.\.?(\/|$)/.test(glob)) return `path "${glob}" must not contain . or .. segments`;
  if (glob.includes("%")) return `path "${glob}" must be written decoded (no %-escapes)`;
  return null;
}

/** Query-value glob: `*` matches anything, `?` one character. */
export function compileValueGlob(glob: string): RegExp {
  const source = [...glob]
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+(){}[\]]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "s");
}

/**
 * A query key as the most lenient common parser reads it: any case (ASP.NET), leading spaces
 * dropped, an array suffix `[...]` dropped, and `.`, ` ` or an unmatched `[` read as `_` (PHP).
 */
export function readQueryKey(key: string): string {
  // PHP also ends a name at a NUL.
  let k = key.split("\0")[0]?.replace(/^\s+/, "").toLowerCase() ?? "";
  const open = k.indexOf("[");
  if (open !== -1 && k.indexOf("]", open) !== -1) k = k.slice(0, open);
  return k.replace(/[ .[]/g, "_");
}

/**
 * Every value a common server may read for each key (by readQueryKey): pairs split on `&`, and
 * on `;` too (Rack 2, older Python and Go do). Null when the query cannot be decoded.
 */
export function queryReadings(query: string): Map<string, string[]> | null {
  const strict = parseQuery(query);
  const loose = query.includes(";") ? parseQuery(query.replaceAll(";", "&")) : strict;
  if (strict === null || loose === null) return null;
  const out = new Map<string, string[]>();
  for (const params of loose === strict ? [strict] : [strict, loose]) {
    for (const [key, values] of params) {
      const read = readQueryKey(key);
      out.set(read, [...(out.get(read) ?? []), ...values]);
    }
  }
  return out;
}

export function parseQuery(query: string): Map<string, string[]> | null {
  const params = new Map<string, string[]>();
  if (query === "") return params;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? "" : part.slice(eq + 1);
    try {
      const key = decodeURIComponent(rawKey.replaceAll("+", " "));
      const value = decodeURIComponent(rawValue.replaceAll("+", " "));
      params.set(key, [...(params.get(key) ?? []), value]);
    } catch {
      return null;
    }
  }
  return params;
}
