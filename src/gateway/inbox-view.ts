// What the web inbox shows, as pure functions over values: each pending chunk with its rendered
// endpoints and its diff against the sandbox's current policy, the recent decisions, the denies.
import { policyGrants } from "../policy/capabilities.ts";
import { renderEndpoint, renderRule } from "../policy/render.ts";
import type { Policy } from "../policy/schema.ts";
import type { Chunk, Deny } from "../protocol/types.ts";
import { planMerge } from "./merge-plan.ts";

export const DECIDED_SHOWN = 20;
export const DENIES_SHOWN = 50;

/** What a sandbox can do with one method on one destination: nothing, some paths, every path, or raw bytes. */
export type Reach = "none" | "some" | "all" | "raw";
export const REACH_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] as const;
/** One destination the chunk touches, each method's reach before and after approving it. */
export interface ReachRow {
  destination: string;
  cells: Array<{ method: string; before: Reach; after: Reach }>;
}

export type InboxChunk = Chunk & { rendered_endpoints: string[]; diff: string[]; reach: ReachRow[] };

const REACH_ORDER: Reach[] = ["none", "some", "all", "raw"];
const widest = (a: Reach, b: Reach): Reach => (REACH_ORDER.indexOf(a) >= REACH_ORDER.indexOf(b) ? a : b);

/** Per destination and method, the widest reach any binary has under `policy`. */
function reachOf(policy: Policy): Map<string, Map<string, Reach>> {
  const out = new Map<string, Map<string, Reach>>();
  for (const grant of policyGrants(policy)) {
    const destination = `${grant.host}:${grant.port}`;
    const row = out.get(destination) ?? new Map<string, Reach>();
    out.set(destination, row);
    for (const method of REACH_METHODS) {
      let reach: Reach = "none";
      if (!grant.inspected) reach = "raw";
      else
        for (const allow of grant.allows)
          if (allow.method === "*" || allow.method === method)
            reach = widest(reach, allow.path === "/**" && !allow.query ? "all" : "some");
      row.set(method, widest(row.get(method) ?? "none", reach));
    }
  }
  return out;
}

/** Before/after reach on the destinations a chunk's rule names (hosts × methods), for the page to draw. */
export function reachChange(before: Policy, after: Policy, rule: Chunk["proposed_rule"]): ReachRow[] {
  const was = reachOf(before);
  const will = reachOf(after);
  const destinations = [
    ...new Set(
      rule.endpoints.flatMap((ep) =>
        (ep.ports ?? (ep.port === undefined ? [] : [ep.port])).map(
          (port) => `${ep.host.toLowerCase()}:${port}`,
        ),
      ),
    ),
  ];
  return destinations.map((destination) => ({
    destination,
    cells: REACH_METHODS.map((method) => ({
      method,
      before: was.get(destination)?.get(method) ?? "none",
      after: will.get(destination)?.get(method) ?? "none",
    })),
  }));
}

export interface InboxState {
  pending: InboxChunk[];
  decided: Chunk[];
  denies: Deny[];
  asks: unknown[];
}

/**
 * The change approving `chunk` would make to `current`, one line per policy line:
 * `+ rule put_x: /usr/bin/curl` then `+   api.github.com:443 [L7 rest, allow PUT /p]` for a new
 * rule, `+ binary /usr/bin/node → rule github_api` for a binary added to an existing rule.
 */
export function chunkDiff(current: Policy, chunk: Pick<Chunk, "rule_name" | "proposed_rule">): string[] {
  const plan = planMerge(current, chunk.rule_name, chunk.proposed_rule);
  if (!plan.ok) return [`! cannot merge: ${plan.error}`];
  if (!plan.changed) return ["(no change: the current policy already has this)"];
  const lines: string[] = [];
  for (const op of plan.operations) {
    if ("addRule" in op) {
      const [head, ...endpoints] = renderRule(op.addRule.ruleName, op.addRule.rule);
      lines.push(`+ rule ${head}`, ...endpoints.map((line) => `+ ${line}`));
    } else if ("addBinary" in op) {
      lines.push(`+ binary ${op.addBinary.path} → rule ${op.addBinary.ruleName}`);
    }
  }
  return lines;
}

export function inboxChunk(current: Policy | null, chunk: Chunk): InboxChunk {
  const plan = current ? planMerge(current, chunk.rule_name, chunk.proposed_rule) : null;
  return {
    ...chunk,
    rendered_endpoints: chunk.proposed_rule.endpoints.map(renderEndpoint),
    diff: current ? chunkDiff(current, chunk) : ["! the sandbox's policy could not be read"],
    reach: current && plan?.ok ? reachChange(current, plan.policy, chunk.proposed_rule) : [],
  };
}

/** Pending grouped by sandbox (oldest first within one), the newest decisions, the newest denies. */
export function inboxState(input: {
  pending: Chunk[];
  decided: Chunk[];
  denies: Deny[];
  asks: unknown[];
  policies: ReadonlyMap<string, Policy>;
}): InboxState {
  const pending = [...input.pending]
    .sort((a, b) => cmp(a.sandbox, b.sandbox) || cmp(a.created_at, b.created_at))
    .map((c) => inboxChunk(input.policies.get(c.sandbox) ?? null, c));
  const decided = [...input.decided]
    .sort((a, b) => cmp(b.decided_at ?? "", a.decided_at ?? ""))
    .slice(0, DECIDED_SHOWN);
  const denies = [...input.denies].sort((a, b) => cmp(b.last_seen, a.last_seen)).slice(0, DENIES_SHOWN);
  return { pending, decided, denies, asks: input.asks };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One decided connection or request, as read back from a sandbox's OCSF log. */
export interface TimelineEvent {
  time: number;
  destination: string;
  allowed: boolean;
}

export interface Timeline {
  from: number;
  bucket_ms: number;
  sandboxes: Array<{
    sandbox: string;
    destinations: Array<{ destination: string; allowed: number[]; denied: number[] }>;
  }>;
}

export const TIMELINE_WINDOW_MS = 3_600_000;
export const TIMELINE_BUCKETS = 60;
export const TIMELINE_DESTINATIONS = 12;

/**
 * Allowed and denied counts per destination in one-minute buckets over the last hour, for each
 * sandbox; the busiest destinations first (at most TIMELINE_DESTINATIONS per sandbox).
 */
export function requestTimeline(
  bySandbox: ReadonlyMap<string, readonly TimelineEvent[]>,
  now: number,
): Timeline {
  const bucketMs = TIMELINE_WINDOW_MS / TIMELINE_BUCKETS;
  const from = now - TIMELINE_WINDOW_MS;
  const sandboxes: Timeline["sandboxes"] = [];
  for (const [sandbox, events] of bySandbox) {
    const rows = new Map<string, { allowed: number[]; denied: number[] }>();
    for (const e of events) {
      const i = Math.floor((e.time - from) / bucketMs);
      if (i < 0 || i >= TIMELINE_BUCKETS) continue;
      let row = rows.get(e.destination);
      if (!row) {
        row = { allowed: new Array(TIMELINE_BUCKETS).fill(0), denied: new Array(TIMELINE_BUCKETS).fill(0) };
        rows.set(e.destination, row);
      }
      (e.allowed ? row.allowed : row.denied)[i] = ((e.allowed ? row.allowed : row.denied)[i] ?? 0) + 1;
    }
    const total = (r: { allowed: number[]; denied: number[] }) =>
      r.allowed.reduce((a, b) => a + b, 0) + r.denied.reduce((a, b) => a + b, 0);
    const destinations = [...rows.entries()]
      .map(([destination, r]) => ({ destination, ...r }))
      .sort((a, b) => total(b) - total(a) || cmp(a.destination, b.destination))
      .slice(0, TIMELINE_DESTINATIONS);
    if (destinations.length) sandboxes.push({ sandbox, destinations });
  }
  return { from, bucket_ms: bucketMs, sandboxes };
}
