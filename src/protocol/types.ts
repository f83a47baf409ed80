// The gateway's resources and API bodies as zod schemas: one source for validation, the
// TypeScript types, the typed client and the OpenAPI document (docs/design.md §6, §7).
import { z } from "zod";
import { MergeOperationSchema } from "../policy/merge.ts";
import { NetworkRuleSchema, PolicySchema } from "../policy/schema.ts";

// The names are in vocabulary.ts, which the CLI can load without building these schemas.
import {
  CHUNK_STATUSES,
  EVENT_TYPES,
  REJECTION_HINTS,
  REVISION_STATUSES,
  type SETTING_KEYS,
} from "./vocabulary.ts";

export { CHUNK_STATUSES, EVENT_TYPES, REJECTION_HINTS, REVISION_STATUSES };

export const FindingSchema = z.object({
  kind: z.string(),
  severity: z.enum(["info", "low", "medium", "high", "critical"]),
  message: z.string(),
  /** A security note: approve-all skips the chunk unless told otherwise. */
  security: z.boolean().default(false),
});
export type Finding = z.infer<typeof FindingSchema>;

export const DenySchema = z.object({
  sandbox: z.string(),
  binary: z.string(),
  host: z.string(),
  port: z.number().int(),
  layer: z.enum(["l4", "l7"]),
  method: z.string().nullable(),
  path: z.string().nullable(),
  reason: z.string().nullable(),
  count: z.number().int(),
  first_seen: z.string(),
  last_seen: z.string(),
});
export type Deny = z.infer<typeof DenySchema>;
/** An observed deny a proposal answers (src/gateway/observed.ts). */
export const CoveredDenySchema = DenySchema.pick({
  binary: true,
  host: true,
  port: true,
  layer: true,
  method: true,
  path: true,
  count: true,
  last_seen: true,
});
export type CoveredDeny = z.infer<typeof CoveredDenySchema>;

export const ChunkSchema = z.object({
  id: z.string(),
  sandbox: z.string(),
  status: z.enum(CHUNK_STATUSES),
  rule_name: z.string(),
  proposed_rule: NetworkRuleSchema,
  source: z.enum(["mechanistic", "agent_authored"]),
  rationale: z.string().nullable(),
  intent_summary: z.string().nullable(),
  binary: z.string().nullable(),
  layer: z.enum(["l4", "l7_rest"]),
  confidence: z.number().nullable(),
  hit_count: z.number().int(),
  first_seen: z.string(),
  last_seen: z.string(),
  validation_result: z.enum(["valid", "invalid"]),
  findings: z.array(FindingSchema),
  security_notes: z.array(z.string()),
  summary: z.string(),
  application_error: z.string().nullable(),
  rejection_reason: z.string().nullable(),
  rejection_hint: z.enum(REJECTION_HINTS).nullable(),
  review_token: z.string(),
  current_policy_hash: z.string(),
  candidate_policy_hash: z.string().nullable(),
  created_at: z.string(),
  decided_at: z.string().nullable(),
  decided_by: z.string().nullable(),
  expires_at: z.string().nullable(),
  /** The revision this chunk's approval created (null while not approved). */
  revision: z.number().int().nullable(),
  /** What the approval actually changed: undo and revoke invert exactly these. */
  applied_operations: z.array(MergeOperationSchema),
  dedup_key: z.string().nullable(),
  submission_id: z.string(),
  /** Observed denies this proposal would have allowed, when it was submitted (src/gateway/observed.ts). */
  covers_denies: z.array(CoveredDenySchema).default([]),
});
export type Chunk = z.infer<typeof ChunkSchema>;

export const ProvenanceSchema = z.object({
  by: z.string(),
  action: z.enum(["register", "set", "approve", "revoke", "undo", "expire"]),
  chunk_id: z.string().nullable(),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;

export const RevisionSchema = z.object({
  sandbox: z.string(),
  version: z.number().int(),
  hash: z.string(),
  status: z.enum(REVISION_STATUSES),
  policy: PolicySchema,
  provenance: ProvenanceSchema,
  detail: z.string().nullable(),
  created_at: z.string(),
  status_at: z.string().nullable(),
});
export type Revision = z.infer<typeof RevisionSchema>;

export const SandboxSchema = z.object({
  name: z.string(),
  head_version: z.number().int(),
  head_hash: z.string(),
  loaded_version: z.number().int().nullable(),
  created_at: z.string(),
  registered_at: z.string(),
});
export type Sandbox = z.infer<typeof SandboxSchema>;

export const DecisionSchema = z.object({
  id: z.number().int(),
  sandbox: z.string(),
  chunk_id: z.string().nullable(),
  action: z.string(),
  actor: z.string(),
  revision: z.number().int().nullable(),
  reason: z.string().nullable(),
  at: z.string(),
});
export type Decision = z.infer<typeof DecisionSchema>;

/** A bound on what one sandbox may have waiting for the developer at once. */
const pendingLimit = z.number().int().min(1).max(10_000);

export const SETTINGS = {
  agent_policy_proposals_enabled: z.boolean(),
  approval_mode: z.enum(["manual", "auto"]),
  /** Pending gate asks per sandbox (and for the operator's own, unsandboxed calls). */
  max_pending_asks: pendingLimit,
  /** Pending chunks (proposals) per sandbox. */
  max_pending_proposals: pendingLimit,
} as const satisfies Record<(typeof SETTING_KEYS)[number], z.ZodType>;
export type SettingKey = keyof typeof SETTINGS;
export const SETTING_DEFAULTS: Settings = {
  agent_policy_proposals_enabled: false,
  approval_mode: "manual",
  max_pending_asks: 20,
  max_pending_proposals: 50,
};
export const SettingsSchema = z.object(SETTINGS);
export type Settings = z.infer<typeof SettingsSchema>;

export const EventSchema = z.object({
  id: z.number().int(),
  type: z.enum(EVENT_TYPES),
  sandbox: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  at: z.string(),
});
export type GatewayEvent = z.infer<typeof EventSchema>;
export type EventType = (typeof EVENT_TYPES)[number];

// ---- API bodies -------------------------------------------------------------------------

export const RegisterBodySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    error: "sandbox name must be letters, digits, _ . - (≤64)",
  }),
  policy: z.unknown(),
});
export const SubmitBodySchema = z.strictObject({
  source: z.enum(["mechanistic", "agent_authored"]).default("agent_authored"),
  intent_summary: z.string().max(2000).optional(),
  rationale: z.string().max(4000).optional(),
  confidence: z.number().min(0).max(1).optional(),
  hit_count: z.number().int().min(1).optional(),
  operations: z.array(z.unknown()).min(1, { error: "operations: needs at least one operation" }).max(50),
});
export type SubmitBody = z.input<typeof SubmitBodySchema>;
export const SubmitResultSchema = z.object({
  status: z.literal("submitted"),
  accepted_chunks: z.number().int(),
  rejected_chunks: z.number().int(),
  rejection_reasons: z.array(z.string()),
  accepted_chunk_ids: z.array(z.string()),
  chunks: z.array(ChunkSchema),
});
export type SubmitResult = z.infer<typeof SubmitResultSchema>;
export const ApproveBodySchema = z.strictObject({
  review_token: z.string().min(1, { error: "review_token is required: fetch the chunk first" }),
  expires_in_seconds: z.number().int().min(1).optional(),
});
export const RejectBodySchema = z.strictObject({
  reason: z.string().max(4000).optional(),
  hint: z.enum(REJECTION_HINTS).optional(),
});
export const EditBodySchema = z.strictObject({
  rule_name: z.string().optional(),
  rule: z.unknown(),
});
export const ApproveAllBodySchema = z.strictObject({
  include_security_flagged: z.boolean().default(false),
});
export const ApproveAllResultSchema = z.object({
  approved: z.array(z.string()),
  skipped: z.array(z.object({ id: z.string(), reason: z.string() })),
});
export const SetPolicyBodySchema = z.strictObject({
  policy: z.unknown(),
  expected_hash: z.string().optional(),
});
export const RevisionStatusBodySchema = z.strictObject({
  status: z.enum(["loaded", "failed"]),
  detail: z.string().max(4000).optional(),
});
export const SetSettingBodySchema = z.strictObject({
  value: z.unknown(),
  sandbox: z.string().optional(),
});
export const SettingsViewSchema = z.object({
  effective: SettingsSchema,
  global: SettingsSchema.partial(),
  sandbox: SettingsSchema.partial(),
});
export type SettingsView = z.infer<typeof SettingsViewSchema>;
export const DenyReportSchema = z.strictObject({
  denials: z
    .array(
      z.strictObject({
        binary: z.string(),
        host: z.string(),
        port: z.number().int(),
        layer: z.enum(["l4", "l7"]),
        method: z.string().optional(),
        path: z.string().optional(),
        reason: z.string().optional(),
        count: z.number().int().min(1).default(1),
      }),
    )
    .max(500),
});
export const RegisterResultSchema = z.object({
  sandbox: SandboxSchema,
  token: z.string(),
  revision: RevisionSchema,
});
export const ErrorSchema = z.object({ error: z.string(), detail: z.string() });
