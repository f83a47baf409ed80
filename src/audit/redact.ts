// Redaction at build time (DESIGN.md §4 "Logs"): events are assembled from parts, never from a
// raw URL, so userinfo and header values cannot reach a line; a query becomes `?[redacted]`. Pure.

export const REDACTED_QUERY = "?[redacted]";

/** Splits an origin-form target into path and whether a query was present (its text is dropped). */
export function splitTarget(target: string): { path: string; hadQuery: boolean } {
  const q = target.indexOf("?");
  return q === -1 ? { path: target, hadQuery: false } : { path: target.slice(0, q), hadQuery: true };
}

/** Any `?...` part of a free text (a path, a reason) replaced; used on text of unknown origin. */
export function redactQueryIn(text: string): string {
  return text.replace(/\?[^\s\]]*/g, REDACTED_QUERY);
}

/** Printable single-line text: control characters (CR, LF, ESC...) become `?` so a line cannot be forged. */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, "?");
}

/** `https://host:port/path?[redacted]`; IPv6 hosts bracketed. No userinfo ever. */
export function redactedUrl(scheme: string, host: string, port: number, target: string): string {
  const { path, hadQuery } = splitTarget(target);
  const h = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${h}:${port}${oneLine(path)}${hadQuery ? REDACTED_QUERY : ""}`;
}
