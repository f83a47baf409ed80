// Canonical form and hash: keys sorted, defaults explicit, lists in a stable order. Pure.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { normalizeHost } from "./host.ts";
import type { Endpoint, NetworkRule, Policy } from "./schema.ts";

/** JSON with object keys sorted at every depth. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    // Defined, not assigned: a key named `__proto__` (JSON.parse makes it an own key) stays a key.
    if (v !== undefined)
      Object.defineProperty(out, key, {
        value: sortKeys(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return out;
}

function sortedUnique<T>(items: readonly T[], keyOf: (item: T) => string = (i) => String(i)): T[] {
  const seen = new Map<string, T>();
  for (const item of items) seen.set(keyOf(item), item);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item);
}

export function canonicalEndpoint(ep: Endpoint): Endpoint {
  const ports = sortedUnique(ep.ports ?? (ep.port === undefined ? [] : [ep.port]), (p) =>
    String(p).padStart(5, "0"),
  );
  const base: Endpoint = { host: normalizeHost(ep.host), ports };
  if (ep.allowed_ips?.length) base.allowed_ips = sortedUnique(ep.allowed_ips);
  if (ep.protocol !== "rest") {
    if (ep.tls) base.tls = ep.tls;
    return sortKeys(base) as Endpoint;
  }
  const rest: Endpoint = {
    ...base,
    protocol: "rest",
    enforcement: ep.enforcement ?? "enforce",
    allow_encoded_slash: ep.allow_encoded_slash ?? false,
  };
  if (ep.access) rest.access = ep.access;
  if (ep.rules?.length)
    rest.rules = sortedUnique(
      ep.rules.map((r) => sortKeys(r) as typeof r),
      (r) => JSON.stringify(r),
    );
  if (ep.deny_rules?.length)
    rest.deny_rules = sortedUnique(
      ep.deny_rules.map((r) => sortKeys(r) as typeof r),
      (r) => JSON.stringify(r),
    );
  return sortKeys(rest) as Endpoint;
}

/** One entry per path; `children` only when true (a path listed twice keeps the wider grant). */
function canonicalBinaries(binaries: NetworkRule["binaries"]): NetworkRule["binaries"] {
  const children = new Map<string, boolean>();
  for (const b of binaries) children.set(b.path, (children.get(b.path) ?? false) || b.children === true);
  return [...children.keys()]
    .sort()
    .map((path) => (children.get(path) ? { path, children: true } : { path }));
}

export function canonicalRule(key: string, rule: NetworkRule): NetworkRule {
  return sortKeys({
    name: rule.name ?? key,
    endpoints: sortedUnique(rule.endpoints.map(canonicalEndpoint), (e) => JSON.stringify(e)),
    binaries: canonicalBinaries(rule.binaries),
  }) as NetworkRule;
}

export function canonicalPolicy(policy: Policy): Policy {
  const fs = policy.filesystem_policy;
  const rules: Record<string, NetworkRule> = {};
  for (const key of Object.keys(policy.network_policies).sort()) {
    rules[key] = canonicalRule(key, policy.network_policies[key] as NetworkRule);
  }
  return sortKeys({
    version: 1,
    filesystem_policy: {
      include_workdir: fs?.include_workdir ?? true,
      read_only: sortedUnique(fs?.read_only ?? []),
      read_write: sortedUnique(fs?.read_write ?? []),
      deny: sortedUnique(fs?.deny ?? []),
      // Only when it differs from the default: existing policies keep their hash.
      ...(fs?.host_run_files === "keep" ? { host_run_files: "keep" } : {}),
    },
    process: policy.process ?? {},
    network_policies: rules,
    landlock: policy.landlock,
    network_middlewares: policy.network_middlewares,
    gate: policy.gate,
  }) as Policy;
}

/** SHA-256 of the canonical form: equal for policies that mean the same, whatever their layout. */
export function policyHash(policy: Policy): string {
  return createHash("sha256")
    .update(stableJson(canonicalPolicy(policy)))
    .digest("hex");
}

/** The canonical policy as YAML, the form `policy.local` and `airlock policy get` show. */
export function dumpPolicyYaml(policy: Policy): string {
  return stringify(canonicalPolicy(policy), { lineWidth: 0 });
}
