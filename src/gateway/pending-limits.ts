// What one sandbox may leave waiting for the developer at once (docs/design.md §6): pending gate
// asks and pending chunks are bounded per sandbox (asks made for no sandbox, the operator's own
// hooks, share one bound), so a prompt-injected agent cannot bury the inbox. The bound is a
// setting (`max_pending_asks`, `max_pending_proposals`); it is read and the pending rows counted
// inside the write transaction that would add one, so concurrent callers cannot both slip under
// it. The refusal is a 429 the agent can read and an OCSF event for the developer.
import { buildConfigEvent, type OcsfEvent } from "../audit/ocsf.ts";
import type { SettingKey } from "../protocol/types.ts";
import { GatewayError } from "./gateway-error.ts";
import { effective, sandboxScope } from "./settings.ts";
import type { Repo } from "./store/repo.ts";

type PendingKind = "asks" | "proposals";

const SETTING: Record<PendingKind, Extract<SettingKey, `max_pending_${string}`>> = {
  asks: "max_pending_asks",
  proposals: "max_pending_proposals",
};

/** The bound in force for a sandbox (null: asks made for no sandbox, bound by the global layer). */
export async function pendingLimit(tx: Repo, kind: PendingKind, sandbox: string | null): Promise<number> {
  const local = sandbox === null ? {} : await tx.getSettings(sandboxScope(sandbox));
  return effective(await tx.getSettings("global"), local)[SETTING[kind]];
}

export interface PendingRefusal {
  error: GatewayError;
  event: OcsfEvent;
}

const WHAT: Record<PendingKind, { noun: string; next: string }> = {
  asks: {
    noun: "gate asks",
    next: "the tool call is denied; retry once the developer has answered some",
  },
  proposals: {
    noun: "proposals",
    next: "not stored; wait for the developer to decide the pending ones (GET /v1/proposals/{id}/wait) before proposing more",
  },
};

/** The refusal of one more pending item: the caller's 429 and the developer's event. */
export function pendingRefusal(
  kind: PendingKind,
  sandbox: string | null,
  pending: number,
  limit: number,
  time: number,
): PendingRefusal {
  const who = sandbox === null ? "calls made for no sandbox" : `sandbox ${sandbox}`;
  const { noun, next } = WHAT[kind];
  const detail = `${who} already has ${pending} pending ${noun}, the most ${SETTING[kind]} (${limit}) allows; ${next}`;
  return {
    error: new GatewayError(429, `too_many_pending_${kind}`, detail),
    event: buildConfigEvent({
      time,
      ok: false,
      name: SETTING[kind],
      detail: `refused: ${detail}`,
      ...(sandbox === null ? {} : { sandbox }),
    }),
  };
}
