// The one host matcher: pattern syntax, validation and matching. Pure.
import { createRequire } from "node:module";
import type { getPublicSuffix as GetPublicSuffix } from "tldts";
import { parseIp } from "./ip.ts";

export type HostPattern =
  | { kind: "exact"; host: string }
  | { kind: "one_label"; suffix: string }
  | { kind: "many_labels"; suffix: string };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

let publicSuffixOf: typeof GetPublicSuffix | undefined;

/**
 * Whether `suffix` is itself a public suffix, on the full Public Suffix List, private section
 * included (`github.io`, `r2.dev`, `*.compute.amazonaws.com`...): a wildcard sitting directly on
 * one reaches hosts of unrelated owners. tldts is loaded on the first wildcard only (about 10 ms
 * of list to evaluate), so a policy without wildcards never pays for it.
 */
function isPublicSuffix(suffix: string): boolean {
  publicSuffixOf ??= (createRequire(import.meta.url)("tldts") as typeof import("tldts")).getPublicSuffix;
  return publicSuffixOf(suffix, { allowPrivateDomains: true }) === suffix;
}

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
  if (rest.length < 2 || isPublicSuffix(suffix)) {
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

export function renderHostPattern(pattern: HostPattern): string {
  if (pattern.kind === "exact") return pattern.host;
  return `${pattern.kind === "one_label" ? "*" : "**"}.${pattern.suffix}`;
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
