// Findings a reviewer sees before approving a proposed rule: security notes on the rule itself
// and the capability diff it causes (docs/design.md §8.3). Pure.
import { type CapabilityChange, capabilityDiff, summarizeChanges } from "./capabilities.ts";
import { alwaysBlockedHost, matchesEveryBinary } from "./engine.ts";
import { parseHostPattern } from "./host.ts";
import { classifyAddress, type IpAddress, namesExactAddress, parseCidr, parseIp } from "./ip.ts";
import { endpointPorts, renderEndpoint } from "./render.ts";
import type { NetworkRule, Policy } from "./schema.ts";

export type Severity = "info" | "low" | "medium" | "high" | "critical";

export interface Finding {
  kind: string;
  severity: Severity;
  sentence: string;
  /** Security notes make approve-all skip the chunk unless told otherwise. */
  security: boolean;
}

const DATABASE_PORTS = new Map<number, string>([
  [1433, "SQL Server"],
  [1521, "Oracle"],
  [2379, "etcd"],
  [3306, "MySQL"],
  [5432, "PostgreSQL"],
  [5984, "CouchDB"],
  [6379, "Redis"],
  [7000, "Cassandra"],
  [9042, "Cassandra"],
  [9200, "Elasticsearch"],
  [11211, "memcached"],
  [27017, "MongoDB"],
  [28015, "RethinkDB"],
]);
const COMMON_HIGH_PORTS = new Set([8080, 8443]);

/** What the caller read from the host the policy runs on (the analysis itself touches nothing). */
export interface ReviewFacts {
  /** Addresses of the host's own interfaces: reachable only where allowed_ips names one exactly. */
  hostAddresses?: readonly string[];
}

/** Notes on the rule as written, independent of what the policy already allows. */
export function securityNotes(
  ruleKey: string,
  rule: NetworkRule,
  current: Policy,
  facts: ReviewFacts = {},
): Finding[] {
  const own = (facts.hostAddresses ?? []).map(parseIp).filter((ip): ip is IpAddress => ip !== null);
  const out: Finding[] = [];
  const note = (kind: string, severity: Severity, sentence: string) =>
    out.push({ kind, severity, sentence, security: true });
  for (const binary of rule.binaries)
    if (matchesEveryBinary(binary.path))
      note(
        "any_binary",
        "high",
        `binary "${binary.path}" matches every program: any process in the sandbox gets this rule`,
      );
  for (const ep of rule.endpoints) {
    const shown = renderEndpoint(ep);
    const blocked = alwaysBlockedHost(ep.host);
    if (blocked) note("always_blocked", "critical", `${shown}: ${blocked}; no policy can open it`);
    const pattern = parseHostPattern(ep.host);
    if (!("error" in pattern) && pattern.kind !== "exact") {
      note(
        "wildcard_host",
        "medium",
        `${shown}: wildcard host reaches every ${pattern.kind === "one_label" ? "direct subdomain" : "subdomain at any depth"} of ${pattern.suffix}`,
      );
    }
    const ip = parseIp(ep.host);
    if (ip && classifyAddress(ip).kind === "private")
      note("private_ip_literal", "high", `${shown}: private IP literal ${ep.host}`);
    for (const text of ep.allowed_ips ?? []) {
      const range = parseCidr(text);
      const internal =
        range && range.bits < (range.version === 4 ? 32 : 128) ? `range ${text}` : `address ${text}`;
      note("internal_allowed_ips", "high", `${shown}: allowed_ips opens internal ${internal}`);
      const hostAddress = range ? own.find((ip) => namesExactAddress([range], ip)) : undefined;
      if (hostAddress)
        note(
          "host_address",
          "critical",
          `${shown}: allowed_ips names ${text}, an address of this host: the sandbox reaches every service the host binds on all interfaces there`,
        );
    }
    for (const port of endpointPorts(ep)) {
      const db = DATABASE_PORTS.get(port);
      if (db) note("database_port", "high", `${ep.host}:${port} is the ${db} port: direct database access`);
      else if (port >= 1024 && !COMMON_HIGH_PORTS.has(port))
        note("high_port", "low", `${ep.host}:${port} is a high port, often a development or admin service`);
    }
    if (ep.protocol === "rest" && ep.access === "full") {
      note("full_access", "medium", `${shown}: every method including DELETE on every path`);
    }
    if (ep.protocol === "rest" && ep.enforcement === "audit") {
      note(
        "audit_enforcement",
        "high",
        `${shown}: enforcement: audit lets every request through, whatever its rules and deny rules say (a violation is only logged)`,
      );
    }
  }
  for (const binary of rule.binaries) {
    if (binary.children !== true) continue;
    note(
      "children_grant",
      "high",
      `${binary.path} with children: true: every process it starts, and what those start, gets this rule whatever it runs`,
    );
  }
  for (const [key, other] of Object.entries(current.network_policies)) {
    if (key === ruleKey) continue;
    for (const ep of rule.endpoints) {
      if (ep.protocol === "rest") continue;
      const inspected = other.endpoints.some(
        (o) =>
          o.protocol === "rest" &&
          o.host.toLowerCase() === ep.host.toLowerCase() &&
          endpointPorts(o).some((p) => endpointPorts(ep).includes(p)),
      );
      if (inspected)
        note(
          "l4_on_inspected_host",
          "high",
          `${renderEndpoint(ep)}: L4 grant on a host that rule ${key} inspects at L7`,
        );
    }
  }
  return out;
}

const CHANGE_SEVERITY: Record<CapabilityChange["kind"], Severity> = {
  new_reach: "info",
  new_read: "info",
  new_write: "medium",
  l7_bypass_binary: "high",
  l4_on_inspected_host: "high",
};

export interface Analysis {
  findings: Finding[];
  changes: CapabilityChange[];
  summary: string;
}

/** Everything a reviewer should know about merging `rule` (under `ruleKey`) into `current` to give `candidate`. */
export function analyzeRule(
  ruleKey: string,
  rule: NetworkRule,
  current: Policy,
  candidate: Policy,
  facts: ReviewFacts = {},
): Analysis {
  const changes = capabilityDiff(current, candidate);
  const notes = securityNotes(ruleKey, rule, current, facts);
  const fromDiff: Finding[] = changes
    .filter(
      (c) => !(c.kind === "l4_on_inspected_host" && notes.some((n) => n.kind === "l4_on_inspected_host")),
    )
    .map((c) => ({
      kind: c.kind,
      severity: CHANGE_SEVERITY[c.kind],
      sentence: c.sentence,
      security: c.kind === "l7_bypass_binary" || c.kind === "l4_on_inspected_host",
    }));
  return { findings: [...notes, ...fromDiff], changes, summary: summarizeChanges(changes) };
}
