// Redaction at build time (docs/design.md §4.4): events are assembled from parts, never from a
// raw URL, so userinfo and header values cannot reach a line; a query becomes `?[redacted]`. Pure.

export const REDACTED_QUERY = "?[redacted]";

/** Splits an origin-form target into path and whether a query was present (its text is dropped). */
export function splitTarget(target: string): { path: string; hadQuery: boolean } {
  const q = target.indexOf("?");
  return q === -1 ? { path: target, hadQuery: false } : { path: target.slice(0, q), hadQuery: true };
}

/** Any `?...` part of a free text (a path, a reason) replaced; idempotent (a redacted text stays as is). */
export function redactQueryIn(text: string): string {
  return text.replace(/\?(?!\[redacted\])[^\s\]]*/g, REDACTED_QUERY);
}

/** At most `maxBytes` of UTF-8, cut on a character boundary (never half a code point). */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/**
 * Printable single-line text: control characters become `?` so a line cannot be forged, in a
 * log or on a terminal (text from the sandbox is shown to the developer): C0 and C1 controls
 * (CR, LF, ESC, CSI: cursor moves, erasing, concealing, OSC clipboard writes), line separators
 * and the bidirectional overrides and isolates that reorder what is shown.
 */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, "?");
}

/** `https://host:port/path?[redacted]`; IPv6 hosts bracketed. No userinfo ever. */
export function redactedUrl(scheme: string, host: string, port: number, target: string): string {
  const { path, hadQuery } = splitTarget(target);
  const h = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${h}:${port}${oneLine(path)}${hadQuery ? REDACTED_QUERY : ""}`;
}
