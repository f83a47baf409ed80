// What the web inbox shows, as pure functions over values: each pending chunk with its rendered
// endpoints and its diff against the sandbox's current policy, the recent decisions, the denies.
import { renderEndpoint, renderRule } from "../policy/render.ts";
import type { Policy } from "../policy/schema.ts";
import { planMerge } from "./merge-plan.ts";
import type { Chunk, Deny } from "./types.ts";

export const DECIDED_SHOWN = 20;
export const DENIES_SHOWN = 50;

export type InboxChunk = Chunk & { rendered_endpoints: string[]; diff: string[] };

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
  return {
    ...chunk,
    rendered_endpoints: chunk.proposed_rule.endpoints.map(renderEndpoint),
    diff: current ? chunkDiff(current, chunk) : ["! the sandbox's policy could not be read"],
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
