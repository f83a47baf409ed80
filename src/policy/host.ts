// The one host matcher: pattern syntax, validation and matching. Pure.
import { parseIp } from "./ip.ts";

export type HostPattern =
  | { kind: "exact"; host: string }
  | { kind: "one_label"; suffix: string }
  | { kind: "many_labels"; suffix: string };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Multi-label public suffixes a wildcard may not sit directly on. Single-label suffixes
 * (`*.com`, `*.io`) are caught by the label count; this list covers the common
 * second-level registries where `*.co.uk` would be just as broad.
 */
const MULTI_LABEL_PUBLIC_SUFFIXES = new Set([
  "co.uk",
  "org.uk",
  "ac.uk",
  "gov.uk",
  "me.uk",
  "net.uk",
  "ltd.uk",
  "plc.uk",
  "com.au",
  "net.au",
  "org.au",
  "edu.au",
  "gov.au",
  "co.jp",
  "ne.jp",
  "or.jp",
  "ac.jp",
  "go.jp",
  "co.nz",
  "org.nz",
  "net.nz",
  "co.za",
  "org.za",
  "co.in",
  "net.in",
  "org.in",
  "co.kr",
  "or.kr",
  "com.br",
  "net.br",
  "org.br",
  "com.cn",
  "net.cn",
  "org.cn",
  "com.mx",
  "com.tw",
  "com.hk",
  "com.sg",
  "com.tr",
  "com.ar",
  "co.il",
  "com.ua",
  "github.io",
  "githubusercontent.com",
  "herokuapp.com",
  "vercel.app",
  "netlify.app",
  "pages.dev",
  "workers.dev",
  "appspot.com",
  "cloudfront.net",
  "amazonaws.com",
  "azurewebsites.net",
  "blob.core.windows.net",
  "s3.amazonaws.com",
]);

/** Lower-case, without one trailing dot, without IPv6 brackets. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.endsWith(".") && !h.endsWith("..")) h = h.slice(0, -1);
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h;
}

/** Parses a policy host pattern; returns an error sentence for the user when invalid. */
export function parseHostPattern(raw: string): HostPattern | { error: string } {
  const host = normalizeHost(raw);
  if (host === "") return { error: "host must not be empty" };
  if (host === "*" || host === "**") return { error: `bare "${host}" would match every host; name a domain` };
  if (parseIp(host)) return { kind: "exact", host };
  const labels = host.split(".");
  const [first, ...rest] = labels;
  const wildcard = first === "*" || first === "**";
  for (const [index, label] of labels.entries()) {
    if (index === 0 && wildcard) continue;
    if (label.includes("*")) {
      return {
        error: `"${raw}": a wildcard may only be the whole first label ("*.example.com" or "**.example.com")`,
      };
    }
    if (!LABEL.test(label)) return { error: `"${raw}": "${label}" is not a valid DNS label` };
  }
  if (host.length > 253) return { error: `"${raw}" is longer than 253 characters` };
  if (!wildcard) return { kind: "exact", host };
  const suffix = rest.join(".");
  if (rest.length < 2 || MULTI_LABEL_PUBLIC_SUFFIXES.has(suffix)) {
    return { error: `"${raw}": a wildcard over the public suffix "${suffix}" alone is too broad` };
  }
  return first === "*" ? { kind: "one_label", suffix } : { kind: "many_labels", suffix };
}

export function hostPatternMatches(pattern: HostPattern, host: string): boolean {
  const h = normalizeHost(host);
  if (pattern.kind === "exact") return h === pattern.host;
  if (!h.endsWith(`.${pattern.suffix}`)) return false;
  const prefix = h.slice(0, -(pattern.suffix.length + 1));
  if (prefix === "" || prefix.split(".").some((label) => label === "")) return false;
  return pattern.kind === "many_labels" || !prefix.includes(".");
}

/**
 * Suffixes of a host a wildcard index is keyed by, nearest first:
 * `a.b.example.com` → `b.example.com`, `example.com`, `com`.
 */
export function hostSuffixes(host: string): string[] {
  const labels = normalizeHost(host).split(".");
  const out: string[] = [];
  for (let i = 1; i < labels.length; i++) out.push(labels.slice(i).join("."));
  return out;
}
