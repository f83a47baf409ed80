// Gate asks (docs/design.md §6, §10): a tool call waiting for the developer. Schemas for the resource
// and its API bodies; one source for validation, types, the client and the OpenAPI document.
import { z } from "zod";

export const ASK_STATUSES = ["pending", "allowed", "denied", "expired"] as const;
export type AskStatus = (typeof ASK_STATUSES)[number];

export const AskSchema = z.object({
  id: z.string(),
  /** The sandbox the call came from (a sandbox token's own), or null. */
  sandbox: z.string().nullable(),
  /** The agent session (Claude Code's session_id...), or null. */
  session: z.string().nullable(),
  /** `shell`, `mcp:server/tool`, `tool:Name`... (receipts' tool label). */
  tool: z.string(),
  /** sha256 of the call's canonical JSON: the same digest the receipts carry. */
  input_digest: z.string(),
  /** One redacted line: no env values, tokens or query strings. */
  summary: z.string(),
  tier: z.number().int(),
  step: z.string(),
  rule: z.string().nullable(),
  /** Why the gate asked. */
  reason: z.string(),
  status: z.enum(ASK_STATUSES),
  decided_by: z.string().nullable(),
  decision_reason: z.string().nullable(),
  created_at: z.string(),
  decided_at: z.string().nullable(),
  expires_at: z.string(),
});
export type Ask = z.infer<typeof AskSchema>;

const line = (max: number) => z.string().max(max);

/** An ask from a decision made elsewhere (a hook that ran the cascade itself). */
export const CreateAskBodySchema = z.strictObject({
  tool: line(200).min(1),
  input_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, { error: "input_digest must be sha256:<64 hex>" }),
  summary: line(2000),
  tier: z.number().int().min(0).max(3).default(3),
  step: line(40).default("default"),
  rule: line(200).nullable().optional(),
  reason: line(2000),
  sandbox: z.string().max(64).optional(),
  session: z.string().max(200).optional(),
  /** How long the ask stays open (default 600 s; at most a day). */
  expires_in_seconds: z.number().int().min(1).max(86_400).optional(),
});
export type CreateAskBody = z.input<typeof CreateAskBodySchema>;

export const DecideAskBodySchema = z.strictObject({ reason: line(4000).optional() });

/** `POST /v1/gate/decide`: the input `airlock gate check --input` takes, plus these fields. */
export const GateDecideBodySchema = z.looseObject({
  /** A gate policy file on the gateway's host (operator token only). */
  policy: z.string().min(1).optional(),
  sandbox: z.string().max(64).optional(),
  cwd: z.string().optional(),
  workdir: z.string().optional(),
  ask_expires_in_seconds: z.number().int().min(1).max(86_400).optional(),
});
export type GateDecideBody = z.input<typeof GateDecideBodySchema>;

export const GateDecideResultSchema = z.object({
  decision: z.enum(["allow", "deny", "ask", "contain"]),
  tier: z.number().int(),
  step: z.string(),
  rule: z.string().nullable(),
  reason: z.string(),
  hint: z.string().optional(),
  capabilities: z.array(z.string()),
  latency_ms: z.number(),
  ask_id: z.string().optional(),
  ask: AskSchema.optional(),
});
export type GateDecideResult = z.infer<typeof GateDecideResultSchema>;
