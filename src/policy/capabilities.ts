// What a policy lets each binary do, and what a candidate adds over the current policy:
// the capability diff over binary × host:port × method × path (docs/design.md §8.3). Pure.
//
// Globs are compared through the one decision engine with representative values: a wildcard
// becomes a token no real name contains, so a narrower policy only "covers" a wildcard when it
// has a wildcard in the same place. A sample is not a proof, so a path glob is covered only when
// an allow of the endpoints that decided it contains it (globWithin) and no deny rule there could
// take part of it back. This is deliberately conservative: when unsure, a grant counts as new (and
// is shown to the reviewer, or blocks auto-approval).
import {
  type CompiledEndpoint,
  type CompiledPolicy,
  compilePolicy,
  decideConnect,
  decideRequest,
} from "./engine.ts";
import { globsDisjoint, globWithin } from "./path.ts";
import { endpointPorts } from "./render.ts";
import { ACCESS_METHODS, type Endpoint, type NetworkRule, type Policy } from "./schema.ts";

const ANY = "airlock-any";
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const EVERY_METHOD = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "AIRLOCKANY"];

/** Executables that carry arbitrary traffic no L7 rule can see into. */
const L7_BYPASS =
  /(?:^|\/)(?:ssh|scp|sftp|nc|ncat|netcat|socat|telnet|openssl|ssh-agent|git-remote-ext|proxychains\d?)$/;

export interface Allow {
  method: string;
  path: string;
  query?: Record<string, unknown>;
}

export interface Grant {
  ruleKey: string;
  binary: string;
  host: string;
  port: number;
  /** true: L7-inspected with `allows`; false: raw L4, any traffic. */
  inspected: boolean;
  allows: Allow[];
  endpoint: Endpoint;
}

export type CapabilityKind =
  | "new_reach"
  | "new_write"
  | "new_read"
  | "l7_bypass_binary"
  | "l4_on_inspected_host";

export interface CapabilityChange {
  kind: CapabilityKind;
  binary: string;
  host: string;
  port: number;
  method?: string;
  path?: string;
  /** For new reads and writes: whether the proxy decides each request (L7) or passes bytes (L4). */
  inspected?: boolean;
  sentence: string;
}

/**
 * What an endpoint lets through, as requests. `enforcement: audit` lets every request through
 * (a violation is only logged): whatever its rules say, that is every method on every path.
 */
export function endpointAllows(ep: Endpoint): Allow[] {
  if (ep.protocol === "rest" && ep.enforcement === "audit") return [{ method: "*", path: "/**" }];
  const out: Allow[] = [];
  if (ep.access) for (const method of ACCESS_METHODS[ep.access]) out.push({ method, path: "/**" });
  for (const rule of ep.rules ?? [])
    out.push({ method: rule.allow.method.toUpperCase(), path: rule.allow.path, query: rule.allow.query });
  return out;
}

export function ruleGrants(ruleKey: string, rule: NetworkRule): Grant[] {
  const out: Grant[] = [];
  for (const ep of rule.endpoints) {
    for (const port of endpointPorts(ep)) {
      for (const { path: binary } of rule.binaries) {
        out.push({
          ruleKey,
          binary,
          host: ep.host.toLowerCase(),
          port,
          inspected: ep.protocol === "rest",
          allows: endpointAllows(ep),
          endpoint: ep,
        });
      }
    }
  }
  return out;
}

export function policyGrants(policy: Policy): Grant[] {
  return Object.entries(policy.network_policies).flatMap(([key, rule]) => ruleGrants(key, rule));
}

function representative(glob: string, separator: string): string {
  return glob.replaceAll("**", `${ANY}${separator}${ANY}`).replaceAll("*", ANY).replaceAll("?", "q");
}

function representativeHost(host: string): string {
  return host.startsWith("**.")
    ? `${ANY}.${ANY}.${host.slice(3)}`
    : host.startsWith("*.")
      ? `${ANY}.${host.slice(2)}`
      : host;
}

function representativeQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return "";
  const parts = Object.entries(query).map(([key, m]) => {
    const glob = typeof m === "string" ? m : ((m as { any: string[] }).any[0] ?? "");
    return `${encodeURIComponent(key)}=${encodeURIComponent(representative(glob, "/"))}`;
  });
  return parts.join("&");
}

function methodsOf(allow: Allow): string[] {
  return allow.method === "*" ? EVERY_METHOD : [allow.method];
}

/** Does `policy` already let this grant's binary do everything the grant allows? */
function coveredBy(
  cp: CompiledPolicy,
  grant: Grant,
): { reach: boolean; inspectedThere: boolean; missing: Array<{ method: string; path: string }> } {
  const host = representativeHost(grant.host);
  const identity = { binary: representative(grant.binary, "/") };
  const connect = decideConnect(cp, host, grant.port, identity);
  if (connect.decision === "deny" || !binaryProven(connect.endpoints, grant.binary))
    return { reach: false, inspectedThere: false, missing: [] };
  if (!connect.inspect) return { reach: true, inspectedThere: false, missing: [] };
  if (!grant.inspected) return { reach: true, inspectedThere: true, missing: [{ method: "*", path: "/**" }] };
  const missing: Array<{ method: string; path: string }> = [];
  for (const allow of grant.allows) {
    // Globs are written decoded; a request carries what a glob names only percent-encoded.
    const path = encodeURI(representative(allow.path, "/")).replaceAll("#", "%23");
    const query = representativeQuery(allow.query);
    for (const method of methodsOf(allow)) {
      const d = decideRequest(cp, { ...identity, host, port: grant.port, method, path, query });
      const covered = d.decision === "allow" && provenWithin(connect.endpoints, allow, method);
      if (!covered) missing.push({ method: allow.method, path: allow.path });
      if (!covered && allow.method === "*") break;
    }
  }
  return { reach: true, inspectedThere: true, missing };
}

const GLOB = /[*?]/;

/** A binary glob is covered only by a listed glob that contains it (its sample path proves nothing). */
function binaryProven(endpoints: readonly CompiledEndpoint[], binary: string): boolean {
  if (!GLOB.test(binary)) return true;
  return endpoints.some((ep) => ep.binaries.globs.some((g) => globWithin(binary, g.glob)));
}

/**
 * Whether everything `allow` lets through with `method` is allowed by `endpoints` (those that
 * decided its representative), proven rather than sampled: some allow there contains its path
 * and query, and no deny rule there for the method can overlap it, unless `allow` is one exact
 * request (then the engine's decision on it was the proof).
 */
function provenWithin(endpoints: readonly CompiledEndpoint[], allow: Allow, method: string): boolean {
  const exact = !GLOB.test(allow.path) && Object.values(allow.query ?? {}).every((m) => exactQuery(m));
  if (exact) return true;
  for (const ep of endpoints) {
    if (!ep.inspect) return true;
    for (const deny of ep.source.deny_rules ?? []) {
      const m = (deny.method ?? "*").toUpperCase();
      const sameMethod = m === "*" || m === method || (m === "GET" && method === "HEAD");
      if (sameMethod && !globsDisjoint(allow.path, deny.path)) return false;
    }
  }
  return endpoints.some((ep) =>
    endpointAllows(ep.source).some(
      (outer) =>
        (outer.method === "*" || outer.method === method) &&
        globWithin(allow.path, outer.path) &&
        queryWithin(allow.query, outer.query),
    ),
  );
}

function exactQuery(matcher: unknown): boolean {
  const globs = typeof matcher === "string" ? [matcher] : ((matcher as { any: string[] }).any ?? []);
  return globs.length === 1 && !GLOB.test(globs[0] as string);
}

/** Every query an inner allow accepts is one the outer accepts: each outer key is required inner, with the same globs. */
function queryWithin(inner: Allow["query"], outer: Allow["query"]): boolean {
  for (const [key, matcher] of Object.entries(outer ?? {})) {
    const mine = inner?.[key];
    if (mine === undefined || JSON.stringify(mine) !== JSON.stringify(matcher)) return false;
  }
  return true;
}

/** What `candidate` lets binaries do that `current` does not. */
export function capabilityDiff(current: Policy, candidate: Policy): CapabilityChange[] {
  const cp = compilePolicy(current);
  const changes: CapabilityChange[] = [];
  const seen = new Set<string>();
  const add = (change: CapabilityChange) => {
    const key = `${change.kind}|${change.binary}|${change.host}|${change.port}|${change.method ?? ""}|${change.path ?? ""}`;
    if (!seen.has(key)) {
      seen.add(key);
      changes.push(change);
    }
  };
  for (const grant of policyGrants(candidate)) {
    const where = `${grant.host}:${grant.port}`;
    const covered = coveredBy(cp, grant);
    if (!covered.reach) {
      add({
        kind: "new_reach",
        binary: grant.binary,
        host: grant.host,
        port: grant.port,
        sentence: `new reach: ${grant.binary} can connect to ${where}`,
      });
      if (L7_BYPASS.test(grant.binary)) {
        add({
          kind: "l7_bypass_binary",
          binary: grant.binary,
          host: grant.host,
          port: grant.port,
          sentence: `${grant.binary} can carry any traffic to ${where}; no L7 rule can inspect it`,
        });
      }
    }
    if (!grant.inspected && covered.inspectedThere) {
      add({
        kind: "l4_on_inspected_host",
        binary: grant.binary,
        host: grant.host,
        port: grant.port,
        sentence: `uninspected L4 access to ${where}, which the policy inspects at L7: every method and path becomes reachable`,
      });
    }
    const missing = covered.reach
      ? covered.missing
      : grant.inspected
        ? grant.allows.map((a) => ({ method: a.method, path: a.path }))
        : [{ method: "*", path: "/**" }];
    for (const m of missing) {
      const write = !READ_METHODS.has(m.method);
      add({
        kind: write ? "new_write" : "new_read",
        binary: grant.binary,
        host: grant.host,
        port: grant.port,
        method: m.method,
        path: m.path,
        inspected: grant.inspected,
        sentence: `${write ? "adds write capability" : "adds read access"} ${m.method} ${m.path} on ${where} via ${grant.binary}`,
      });
    }
  }
  return changes;
}

function joinWords(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** "Allows /usr/bin/curl to PUT /repos/acme/site/contents/docs/** on api.github.com:443. No other host, method or binary." */
export function summarizeChanges(changes: readonly CapabilityChange[]): string {
  if (changes.length === 0) return "Adds nothing the current policy does not already allow.";
  const byBinary = new Map<string, CapabilityChange[]>();
  for (const c of changes) byBinary.set(c.binary, [...(byBinary.get(c.binary) ?? []), c]);
  const sentences: string[] = [];
  for (const [binary, list] of byBinary) {
    const hosts = [...new Set(list.map((c) => `${c.host}:${c.port}`))];
    const requests = list
      .filter((c) => c.method)
      .map((c) =>
        c.method === "*" && c.path === "/**"
          ? "send any request (each one inspected and logged)"
          : `${c.method} ${c.path}`,
      );
    // Raw only when bytes pass uninspected: an L4 grant. `access: full` at L7 still decides and
    // logs every request.
    const raw =
      list.some((c) => c.kind === "l4_on_inspected_host") ||
      list.some((c) => c.method === "*" && c.path === "/**" && c.inspected === false);
    const what = raw
      ? "open uninspected connections (any traffic)"
      : requests.length > 0
        ? joinWords([...new Set(requests)])
        : "connect";
    sentences.push(`Allows ${binary} to ${what} on ${joinWords(hosts)}.`);
  }
  const kinds = new Set(changes.filter((c) => c.method).map((c) => c.method));
  const others = ["host", ...(kinds.size > 0 && !kinds.has("*") ? ["method"] : []), "binary"];
  return `${sentences.join(" ")} No other ${joinWords(others).replace(" and ", " or ")}.`;
}

/**
 * Is everything `candidate` grants also granted by the operator's `ceiling`? Wildcard hosts in
 * the candidate only fit under the same or a wider wildcard; raw L4 only under raw L4.
 */
export function withinCeiling(
  candidate: Policy,
  ceiling: Policy,
): { ok: true } | { ok: false; reason: string } {
  const cp = compilePolicy(ceiling);
  for (const grant of policyGrants(candidate)) {
    const covered = coveredBy(cp, grant);
    const where = `${grant.binary} → ${grant.host}:${grant.port}`;
    if (!covered.reach) return { ok: false, reason: `the ceiling does not allow ${where}` };
    if (covered.missing.length > 0) {
      const m = covered.missing[0] as { method: string; path: string };
      return { ok: false, reason: `the ceiling does not allow ${m.method} ${m.path} for ${where}` };
    }
  }
  return { ok: true };
}
