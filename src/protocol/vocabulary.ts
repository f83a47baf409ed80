// The gateway's fixed names (statuses, event types, rejection hints) and the duration syntax of
// time-limited approvals, without zod: the CLI registers its commands with these on every start,
// and building the gateway's schemas (types.ts) costs more than some commands take.

export const CHUNK_STATUSES = ["pending", "approved", "rejected"] as const;
export const REVISION_STATUSES = ["pending", "loaded", "failed", "superseded"] as const;
export const EVENT_TYPES = [
  "chunk.created",
  "chunk.updated",
  "chunk.decided",
  "policy.revision",
  "policy.loaded",
  "settings.changed",
  /** A supervisor reported observed denies (the web inbox refreshes its list). */
  "deny.observed",
  "ask.created",
  "ask.decided",
] as const;
export const REJECTION_HINTS = [
  "too_broad",
  "use_l7_not_l4",
  "wrong_binary_scope",
  "wrong_endpoint",
  "needs_time_limit",
] as const;

/** The gateway's settings (their value schemas are in types.ts). */
export const SETTING_KEYS = [
  "agent_policy_proposals_enabled",
  "approval_mode",
  "max_pending_asks",
  "max_pending_proposals",
] as const;

/** `30m`, `2h`, `1d`, `45s` as seconds; null for anything else (and for zero). */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
  const seconds = Number(m[1]) * unit;
  return seconds > 0 ? seconds : null;
}
