// A chunk as text lines: what `airlock rule get` prints and the demo narrates. Pure; here, beside
// the chunk's schema, so every surface that shows a chunk as text renders it the same way.
import { oneLine } from "../audit/redact.ts";
import { renderEndpoint } from "../policy/render.ts";
import type { Chunk } from "../protocol/types.ts";

/** Each line printable: the intent, rationale, names and paths come from the sandbox (oneLine). */
export function renderChunk(c: Chunk): string[] {
  const lines = [
    `${c.id}  ${c.status.toUpperCase()}  ${c.rule_name}  (${c.source.replace("_", "-")}, ${c.layer}, hits ${c.hit_count})`,
    `  binary: ${c.proposed_rule.binaries.map((b) => b.path).join(", ") || "(none)"}`,
    ...c.proposed_rule.endpoints.map((ep) => `  endpoint: ${renderEndpoint(ep)}`),
  ];
  if (c.intent_summary) lines.push(`  intent: ${c.intent_summary}`);
  if (c.rationale) lines.push(`  rationale: ${c.rationale}`);
  for (const d of c.covers_denies ?? []) {
    const what = d.method ? `${d.method} ${d.host}:${d.port}${d.path}` : `${d.host}:${d.port}`;
    lines.push(`  answers observed deny: ${what} by ${d.binary} (×${d.count})`);
  }
  lines.push(`  validation: ${c.validation_result}: ${c.summary}`);
  for (const f of c.findings)
    lines.push(`  ${f.security ? "security note" : "finding"} [${f.severity}] ${f.kind}: ${f.message}`);
  if (c.application_error) lines.push(`  cannot apply: ${c.application_error}`);
  if (c.status === "rejected")
    lines.push(
      `  rejected by ${c.decided_by}: ${c.rejection_reason ?? "(no reason)"}${c.rejection_hint ? ` [hint: ${c.rejection_hint}]` : ""}`,
    );
  if (c.status === "approved")
    lines.push(
      `  approved by ${c.decided_by} in revision ${c.revision}${c.expires_at ? `, expires ${c.expires_at}` : ""}`,
    );
  if (c.status === "pending") lines.push(`  review token: ${c.review_token}`);
  return lines.map(oneLine);
}
