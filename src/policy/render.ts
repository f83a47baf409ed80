// The one endpoint renderer, used by every surface (CLI, deny bodies, inbox, findings). Pure.
import { l7RuleText } from "./engine.ts";
import { normalizeHost } from "./host.ts";
import type { Endpoint, NetworkRule } from "./schema.ts";

export function endpointPorts(ep: Endpoint): number[] {
  return ep.ports ?? (ep.port === undefined ? [] : [ep.port]);
}

/** `api.example.com:443 [L7 rest, access=read-only, allow PUT /v1/foo, deny * /admin/**]` */
export function renderEndpoint(ep: Endpoint): string {
  const target = `${normalizeHost(ep.host)}:${endpointPorts(ep).join(",")}`;
  const tags: string[] = [];
  if (ep.protocol === "rest") {
    tags.push("L7 rest");
    if (ep.access) tags.push(`access=${ep.access}`);
    for (const rule of ep.rules ?? [])
      tags.push(`allow ${l7RuleText(rule.allow.method.toUpperCase(), rule.allow.path, rule.allow.query)}`);
    for (const rule of ep.deny_rules ?? [])
      tags.push(`deny ${l7RuleText((rule.method ?? "*").toUpperCase(), rule.path, rule.query)}`);
    if (ep.enforcement === "audit") tags.push("enforcement=audit");
    if (ep.allow_encoded_slash) tags.push("allow_encoded_slash");
  } else {
    tags.push("L4");
    if (ep.tls === "skip") tags.push("tls=skip");
  }
  if (ep.allowed_ips?.length) tags.push(`allowed_ips=${ep.allowed_ips.join(",")}`);
  return `${target} [${tags.join(", ")}]`;
}

/** One summary block per rule: its key, display name and binaries, then one line per endpoint. */
export function renderRule(key: string, rule: NetworkRule): string[] {
  const name = rule.name && rule.name !== key ? ` (${rule.name})` : "";
  const binaries =
    rule.binaries.length > 0
      ? rule.binaries.map((b) => (b.children ? `${b.path} (and its children)` : b.path)).join(", ")
      : "no binaries: allows nothing";
  return [`${key}${name}: ${binaries}`, ...rule.endpoints.map((ep) => `  ${renderEndpoint(ep)}`)];
}
