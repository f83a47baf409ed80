// The decision function (docs/design.md §3): compile a policy once, then decide connections and
// requests against indexes whose cost does not grow with the number of rules. Pure.
import { type HostPattern, hostSuffixes, normalizeHost, parseHostPattern } from "./host.ts";
import {
  ALWAYS_BLOCKED_HOSTS,
  anyCidrContains,
  type Cidr,
  classifyAddress,
  type IpAddress,
  namesExactAddress,
  parseCidr,
  parseIp,
  sameAddress,
} from "./ip.ts";
import {
  compilePathGlob,
  compileValueGlob,
  type NormalizedPath,
  normalizePath,
  parseQuery,
  pathReadings,
  queryReadings,
  readQueryKey,
} from "./path.ts";
import { ACCESS_METHODS, type Endpoint, type Policy, type QueryMatcher } from "./schema.ts";

export interface CompiledL7 {
  /**
   * A deny rule matches every reading a common server may give the request (any case, the
   * trailing slash and a format extension aside, HEAD as GET, any value of a key); an allow
   * rule must hold for all of them (every value of every spelling of its keys).
   */
  kind: "allow" | "deny";
  method: string;
  path: RegExp;
  /** Keys as readQueryKey reads them, beside the spelling the rule names (which must be present). */
  query: ReadonlyArray<readonly [key: string, read: string, globs: readonly RegExp[]]>;
  /** `PUT /repos/o/r/**` (plus `?key=glob` parts): how the rule reads in reasons and renders. */
  text: string;
  /** The decision reason when this rule decides, built once at compile time (hot path). */
  reason: string;
  /**
   * The rule's path names a `;`: only such a rule allows a path with parameters (servlet
   * containers strip `;...` from a segment before routing, other servers do not).
   */
  semicolon: boolean;
}

export interface CompiledEndpoint {
  ruleKey: string;
  endpointIndex: number;
  source: Endpoint;
  host: HostPattern;
  ports: ReadonlySet<number>;
  inspect: boolean;
  audit: boolean;
  allows: readonly CompiledL7[];
  denies: readonly CompiledL7[];
  allowedIps: readonly Cidr[];
  allowEncodedSlash: boolean;
  tlsSkip: boolean;
  binaries: BinaryMatcher;
  /** The L4 allow reason for this endpoint, built once at compile time. */
  connectReason: string;
}

interface PathMatcher {
  exact: ReadonlySet<string>;
  globs: readonly BinaryGlob[];
}

interface BinaryGlob {
  /** As the policy spells it (named in a denial). */
  glob: string;
  re: RegExp;
}

interface BinaryMatcher extends PathMatcher {
  /** The listed binaries whose rule opted in with `children: true`: they grant as an ancestor. */
  parents: PathMatcher;
  /** Listed paths that are symlinks, by their target: named when their target is denied. */
  linked: ReadonlyMap<string, string>;
}

/** What the caller read from the host about a policy (the engine itself touches nothing). */
export interface PolicyHostFacts {
  /** Binary paths listed in the policy that are symlinks, mapped to their targets. */
  symlinks?: ReadonlyMap<string, string>;
}

export interface CompiledPolicy {
  policy: Policy;
  exact: ReadonlyMap<string, readonly CompiledEndpoint[]>;
  /** Wildcard endpoints keyed by the suffix after their wildcard label. */
  wildcard: ReadonlyMap<string, readonly CompiledEndpoint[]>;
}

export interface Identity {
  binary: string;
  /** Executables of the parent chain, nearest first, up to the sandbox entrypoint. */
  ancestors?: readonly string[];
  /**
   * Those of its executables (the binary, its ancestors) whose file lies on a writable mount of
   * the sandbox, which the sandbox may have written: a glob never matches them, only an exact
   * path does (trust-on-first-use with its hash). Absent: none (a host program).
   */
  writable?: readonly string[];
}

export interface RuleMissing {
  type: "l4_allow" | "rest_allow";
  layer: "l4" | "l7";
  host: string;
  port: number;
  method?: string;
  path?: string;
  binary: string;
}

export interface ConnectDecision {
  decision: "allow" | "deny";
  layer: "l4";
  policy: string | null;
  reason: string;
  ruleMissing?: RuleMissing;
  /** The connection must be terminated and every request decided at L7. */
  inspect: boolean;
  /** Endpoints that allowed it (for the SSRF guard's allowed_ips and tls handling). */
  endpoints: readonly CompiledEndpoint[];
}

export interface RequestDecision {
  decision: "allow" | "deny";
  layer: "l4" | "l7";
  policy: string | null;
  reason: string;
  ruleMissing?: RuleMissing;
  method: string;
  /** Canonical path (decoded once, dot segments removed), without the query. */
  path: string;
  /** The canonical path re-encoded: what the proxy forwards upstream. */
  forwardPath?: string;
  /** Set when an `enforcement: audit` endpoint let a violation through. */
  auditViolation?: string;
}

const GLOB_CHARS = /[*?]/;

function compileBinaryGlob(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (ch === "*") source += "[^/]*";
    else if (ch === "?") source += "[^/]";
    else source += ch.replace(/[\\^$.|+(){}[\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether a binary pattern matches any program at all: it matches a path under a top-level
 * folder no system has. Such a rule identifies nothing, whatever its endpoints say.
 */
export function matchesEveryBinary(pattern: string): boolean {
  return (
    GLOB_CHARS.test(pattern) && compileBinaryGlob(pattern).test("/\u0001airlock-no-such-dir/no-such-binary")
  );
}

function compileQuery(query: Record<string, QueryMatcher> | undefined): CompiledL7["query"] {
  return Object.entries(query ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([key, matcher]) =>
        [
          key,
          readQueryKey(key),
          (typeof matcher === "string" ? [matcher] : matcher.any).map(compileValueGlob),
        ] as const,
    );
}

export function l7RuleText(method: string, path: string, query?: Record<string, QueryMatcher>): string {
  const parts = Object.entries(query ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, m]) => `${key}=${typeof m === "string" ? m : m.any.join("|")}`);
  return `${method} ${path}${parts.length > 0 ? `?${parts.join("&")}` : ""}`;
}

function compileL7(
  ruleKey: string,
  kind: "allow" | "deny",
  method: string,
  path: string,
  query?: Record<string, QueryMatcher>,
): CompiledL7 {
  const text = l7RuleText(method, path, query);
  const reason =
    kind === "allow" ? `allowed by "${text}" in ${ruleKey}` : `blocked by deny rule "${text}" in ${ruleKey}`;
  return {
    kind,
    method,
    path: compilePathGlob(path, kind === "deny"),
    query: compileQuery(query),
    text,
    reason,
    semicolon: path.includes(";"),
  };
}

function compileEndpoint(
  ruleKey: string,
  endpointIndex: number,
  ep: Endpoint,
  binaries: BinaryMatcher,
): CompiledEndpoint {
  const host = parseHostPattern(ep.host);
  if ("error" in host) throw new Error(`invalid host in validated policy: ${host.error}`);
  const allows: CompiledL7[] = [];
  if (ep.access)
    for (const method of ACCESS_METHODS[ep.access]) allows.push(compileL7(ruleKey, "allow", method, "/**"));
  for (const rule of ep.rules ?? [])
    allows.push(compileL7(ruleKey, "allow", rule.allow.method, rule.allow.path, rule.allow.query));
  return {
    ruleKey,
    endpointIndex,
    source: ep,
    host,
    ports: new Set(ep.ports ?? (ep.port === undefined ? [] : [ep.port])),
    inspect: ep.protocol === "rest",
    audit: ep.enforcement === "audit",
    allows,
    denies: (ep.deny_rules ?? []).map((d) => compileL7(ruleKey, "deny", d.method, d.path, d.query)),
    allowedIps: (ep.allowed_ips ?? []).map((text) => parseCidr(text)).filter((c): c is Cidr => c !== null),
    allowEncodedSlash: ep.allow_encoded_slash === true,
    tlsSkip: ep.tls === "skip",
    binaries,
    connectReason:
      ep.protocol === "rest"
        ? `allowed at L4 by ${ruleKey}; requests inspected at L7`
        : `allowed at L4 by ${ruleKey}`,
  };
}

/** Builds the lookup indexes once per policy revision; every decision reuses them. */
export function compilePolicy(policy: Policy, facts: PolicyHostFacts = {}): CompiledPolicy {
  const exact = new Map<string, CompiledEndpoint[]>();
  const wildcard = new Map<string, CompiledEndpoint[]>();
  for (const [ruleKey, rule] of Object.entries(policy.network_policies)) {
    const paths = rule.binaries.map((b) => b.path);
    const binaries: BinaryMatcher = {
      ...pathMatcher(paths),
      parents: pathMatcher(rule.binaries.filter((b) => b.children === true).map((b) => b.path)),
      linked: new Map(
        paths.flatMap((p) => {
          const target = facts.symlinks?.get(p);
          return target === undefined ? [] : [[target, p] as const];
        }),
      ),
    };
    for (const [index, ep] of rule.endpoints.entries()) {
      const compiled = compileEndpoint(ruleKey, index, ep, binaries);
      const key = compiled.host.kind === "exact" ? compiled.host.host : compiled.host.suffix;
      const index_ = compiled.host.kind === "exact" ? exact : wildcard;
      const list = index_.get(key);
      if (list) list.push(compiled);
      else index_.set(key, [compiled]);
    }
  }
  return { policy, exact, wildcard };
}

/** Every endpoint whose host pattern and port match, exact hosts first. */
export function endpointsFor(cp: CompiledPolicy, host: string, port: number): CompiledEndpoint[] {
  const h = normalizeHost(host);
  const out: CompiledEndpoint[] = [];
  for (const ep of cp.exact.get(h) ?? []) if (ep.ports.has(port)) out.push(ep);
  if (cp.wildcard.size === 0) return out;
  const suffixes = hostSuffixes(h);
  for (const [depth, suffix] of suffixes.entries()) {
    for (const ep of cp.wildcard.get(suffix) ?? []) {
      if (!ep.ports.has(port)) continue;
      if (ep.host.kind === "one_label" && depth !== 0) continue;
      out.push(ep);
    }
  }
  return out;
}

function pathMatcher(paths: readonly string[]): PathMatcher {
  return {
    exact: new Set(paths.filter((p) => !GLOB_CHARS.test(p))),
    globs: paths.filter((p) => GLOB_CHARS.test(p)).map((glob) => ({ glob, re: compileBinaryGlob(glob) })),
  };
}

/**
 * An exact path names one file, pinned by its hash on first use. A glob names an install layout,
 * which the sandbox could copy any program into: it matches only an executable the host put there.
 */
function pathMatches(matcher: PathMatcher, exe: string, writable: readonly string[] | undefined): boolean {
  if (matcher.exact.has(exe)) return true;
  if (matcher.globs.length === 0 || writable?.includes(exe)) return false;
  for (const glob of matcher.globs) if (glob.re.test(exe)) return true;
  return false;
}

/** Does any rule let a binary's descendants use it (`children: true`)? Identity needs ancestors only then. */
export function grantsToChildren(policy: Policy): boolean {
  return Object.values(policy.network_policies).some((rule) =>
    rule.binaries.some((b) => b.children === true),
  );
}

/** The binary itself, or an ancestor listed with `children: true`. */
function binaryMatches(matcher: BinaryMatcher, identity: Identity): boolean {
  if (pathMatches(matcher, identity.binary, identity.writable)) return true;
  if (matcher.parents.exact.size === 0 && matcher.parents.globs.length === 0) return false;
  return (identity.ancestors ?? []).some((exe) => pathMatches(matcher.parents, exe, identity.writable));
}

/** Only names made of digits, dots, hex and colons can be IP literals; skip parsing the rest. */
const IP_LIKE = /^[0-9a-f.:]+$/;

/** Hosts no policy can open, judged on the name or IP literal alone (resolved names: checkAddresses). */
export function alwaysBlockedHost(host: string): string | null {
  const h = normalizeHost(host);
  if (ALWAYS_BLOCKED_HOSTS.has(h) || h.endsWith(".localhost")) return `${h} is always blocked`;
  const ip = IP_LIKE.test(h) ? parseIp(h) : null;
  if (ip) {
    const cls = classifyAddress(ip);
    if (cls.kind === "always_blocked") return `${h} is a ${cls.label} address, always blocked`;
  }
  return null;
}

function l4Missing(host: string, port: number, identity: Identity): RuleMissing {
  return { type: "l4_allow", layer: "l4", host, port, binary: identity.binary };
}

function connectDenied(reason: string, ruleMissing?: RuleMissing): ConnectDecision {
  return { decision: "deny", layer: "l4", policy: null, reason, ruleMissing, inspect: false, endpoints: [] };
}

// Hot path: no closures are created per call (tsx's keepNames wraps each named one).
export function decideConnect(
  cp: CompiledPolicy,
  host: string,
  port: number,
  identity: Identity,
): ConnectDecision {
  const h = normalizeHost(host);
  const blocked = alwaysBlockedHost(h);
  if (blocked) return connectDenied(blocked);
  const candidates = endpointsFor(cp, h, port);
  if (candidates.length === 0)
    return connectDenied(`no rule allows ${h}:${port}`, l4Missing(h, port, identity));
  const allowed: CompiledEndpoint[] = [];
  let raw: CompiledEndpoint | undefined;
  for (const ep of candidates) {
    if (!binaryMatches(ep.binaries, identity)) continue;
    allowed.push(ep);
    if (!ep.inspect && raw === undefined) raw = ep;
  }
  if (allowed.length === 0) {
    const rules = [...new Set(candidates.map((ep) => ep.ruleKey))].join(", ");
    const reason = `binary not allowed: ${identity.binary} is not listed for ${h}:${port} (rules: ${rules})${symlinkNote(candidates, identity.binary)}${writableNote(candidates, identity)}`;
    return connectDenied(reason, l4Missing(h, port, identity));
  }
  const first = raw ?? (allowed[0] as CompiledEndpoint);
  return {
    decision: "allow",
    layer: "l4",
    policy: first.ruleKey,
    reason: first.connectReason,
    inspect: raw === undefined,
    endpoints: allowed,
  };
}

/** A listed symlink that points at the denied binary: programs are identified by what they run. */
function symlinkNote(candidates: readonly CompiledEndpoint[], binary: string): string {
  for (const ep of candidates) {
    const link = ep.binaries.linked.get(binary);
    if (link !== undefined)
      return `; the policy lists ${link}, a symlink to ${binary}: programs are identified by the file they run, so list ${binary}`;
  }
  return "";
}

/** A glob that matched the binary but not its mount: say so, or the denial reads as a wrong pattern. */
function writableNote(candidates: readonly CompiledEndpoint[], identity: Identity): string {
  if (!identity.writable?.includes(identity.binary)) return "";
  for (const ep of candidates) {
    const hit = ep.binaries.globs.find((g) => g.re.test(identity.binary));
    if (hit !== undefined)
      return `; ${identity.binary} matches the glob ${hit.glob} but lies on a writable mount: a glob names only host-installed executables (list its exact path to trust it on first use)`;
  }
  return "";
}

/** The query string, parsed only when a rule with query matchers is tested. */
interface LazyQuery {
  raw: string;
  parsed?: Map<string, string[]> | null;
  /** Every value each key may be read as (queryReadings). */
  readings?: Map<string, string[]> | null;
}

function queryMatches(rule: CompiledL7, query: LazyQuery): boolean {
  if (rule.query.length === 0) return true;
  if (query.parsed === undefined) query.parsed = parseQuery(query.raw);
  if (query.readings === undefined) query.readings = queryReadings(query.raw);
  const params = query.parsed;
  const readings = query.readings;
  // Unreadable: an allow does not hold, a deny does (what a server makes of it is unknown).
  if (params === null || readings === null) return rule.kind === "deny";
  for (const [key, read, globs] of rule.query) {
    const values = readings.get(read) ?? [];
    const matches = (v: string) => globs.some((g) => g.test(v));
    if (rule.kind === "deny") {
      if (!values.some(matches)) return false;
    } else if (!params.get(key)?.length || !values.every(matches)) return false;
  }
  return true;
}

function methodMatches(rule: CompiledL7, method: string): boolean {
  if (rule.method === "*" || rule.method === method) return true;
  // Servers run a GET route for HEAD (Rails, Express, Flask): a deny of GET covers it.
  return rule.kind === "deny" && method === "HEAD" && rule.method === "GET";
}

/** `paths`: the canonical path for an allow, its pathReadings for a deny. */
function l7Matches(rule: CompiledL7, method: string, paths: readonly string[], query: LazyQuery): boolean {
  if (!methodMatches(rule, method) || !queryMatches(rule, query)) return false;
  for (const path of paths) if (rule.path.test(path)) return true;
  return false;
}

export interface RequestInput extends Identity {
  host: string;
  port: number;
  method: string;
  /** Origin-form request target; a `?query` part is split off and matched separately. */
  path: string;
  query?: string;
}

/** Decides one HTTP request: the L4 decision first, then every L7 allow and deny rule. */
export function decideRequest(cp: CompiledPolicy, input: RequestInput): RequestDecision {
  const method = input.method.toUpperCase();
  const q = input.path.indexOf("?");
  const rawPath = q === -1 ? input.path : input.path.slice(0, q);
  const connect = decideConnect(cp, input.host, input.port, input);
  const strict = normalizePath(rawPath, false);
  const shownPath = strict.ok ? strict.path : rawPath;
  const strictForward = strict.ok ? strict.forwardPath : undefined;
  if (connect.decision === "deny" || !connect.inspect) {
    const { decision, policy, reason, ruleMissing } = connect;
    return {
      decision,
      layer: "l4",
      policy,
      reason,
      ruleMissing,
      method,
      path: shownPath,
      forwardPath: strictForward,
    };
  }
  const endpoints = connect.endpoints;
  let lenient: NormalizedPath = strict;
  let enforce = false;
  for (const ep of endpoints) {
    if (ep.allowEncodedSlash && lenient === strict) lenient = normalizePath(rawPath, true);
    if (!ep.audit) enforce = true;
  }
  const params: LazyQuery = { raw: input.query ?? (q === -1 ? "" : input.path.slice(q + 1)) };
  const first = endpoints[0] as CompiledEndpoint;

  // Each of the (at most two) normalized paths is read once, whatever the endpoint count.
  const readingsOf = new Map<NormalizedPath, readonly string[]>();
  for (const ep of endpoints) {
    const norm = ep.allowEncodedSlash ? lenient : strict;
    if (!norm.ok || ep.denies.length === 0) continue;
    let readings = readingsOf.get(norm);
    if (readings === undefined) {
      readings = pathReadings(norm.path);
      readingsOf.set(norm, readings);
    }
    for (const rule of ep.denies) {
      if (!l7Matches(rule, method, readings, params)) continue;
      const reason = rule.reason;
      if (ep.audit) {
        return {
          decision: "allow",
          layer: "l7",
          policy: ep.ruleKey,
          reason,
          method,
          path: shownPath,
          forwardPath: norm.forwardPath,
          auditViolation: reason,
        };
      }
      return { decision: "deny", layer: "l7", policy: ep.ruleKey, reason, method, path: shownPath };
    }
  }
  let anyPathOk = false;
  for (const ep of endpoints) {
    const norm = ep.allowEncodedSlash ? lenient : strict;
    if (!norm.ok) continue;
    anyPathOk = true;
    const parameters = norm.path.includes(";");
    const paths = [norm.path];
    for (const rule of ep.allows) {
      if (parameters && !rule.semicolon) continue;
      if (l7Matches(rule, method, paths, params)) {
        const reason = rule.reason;
        return {
          decision: "allow",
          layer: "l7",
          policy: ep.ruleKey,
          reason,
          method,
          path: norm.path,
          forwardPath: norm.forwardPath,
        };
      }
    }
  }
  const base = { layer: "l7" as const, policy: first.ruleKey, method, path: shownPath };
  if (!anyPathOk) {
    // Where an endpoint allows encoded slashes, its own reading says what is wrong.
    const reason = !lenient.ok ? lenient.reason : strict.ok ? "invalid path" : strict.reason;
    return enforce
      ? { ...base, decision: "deny", reason }
      : { ...base, decision: "allow", reason, auditViolation: reason };
  }
  const reason =
    params.parsed === null
      ? "malformed query string"
      : shownPath.includes(";")
        ? "no allow rule matches: a path with ; (path parameters) needs a rule whose path names the ;"
        : "no allow rule matches";
  if (!enforce)
    return { ...base, decision: "allow", reason, forwardPath: strictForward, auditViolation: reason };
  const ruleMissing: RuleMissing = {
    type: "rest_allow",
    layer: "l7",
    host: normalizeHost(input.host),
    port: input.port,
    method,
    path: shownPath,
    binary: input.binary,
  };
  return { ...base, decision: "deny", reason, ruleMissing };
}

export type AddressCheck = { ok: true } | { ok: false; reason: string };

/**
 * The SSRF guard's verdict on the addresses a name resolved to: every one must be public,
 * or private and covered by an allowed endpoint's `allowed_ips`. Always-blocked space never
 * passes. An address of the host's own interfaces (`hostAddresses`, read by the caller) is
 * blocked like loopback unless an endpoint's `allowed_ips` names exactly that address: a range
 * that happens to cover it is not enough, since services bound to every interface answer there.
 */
export function checkAddresses(
  endpoints: readonly CompiledEndpoint[],
  host: string,
  addresses: readonly string[],
  hostAddresses: readonly IpAddress[] = [],
): AddressCheck {
  if (addresses.length === 0) return { ok: false, reason: `${host} did not resolve to any address` };
  const ranges = endpoints.flatMap((ep) => ep.allowedIps);
  for (const text of addresses) {
    const address = parseIp(text);
    if (!address) return { ok: false, reason: `${host} resolved to an unparseable address ${text}` };
    const cls = classifyAddress(address);
    if (cls.kind === "always_blocked") {
      return { ok: false, reason: `${host} resolves to ${text}, a ${cls.label} address, always blocked` };
    }
    if (hostAddresses.some((own) => sameAddress(own, address))) {
      if (namesExactAddress(ranges, address)) continue;
      return {
        ok: false,
        reason: `${host} resolves to ${text}, an address of this host, always blocked unless allowed_ips names exactly ${text}`,
      };
    }
    if (cls.kind === "private" && !anyCidrContains(ranges, address)) {
      return {
        ok: false,
        reason: `${host} resolves to ${text}, a ${cls.label} address; the endpoint needs allowed_ips covering it`,
      };
    }
  }
  return { ok: true };
}
