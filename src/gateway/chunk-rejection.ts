// A chunk ending rejected, written one way wherever it happens (the operator rejects or revokes, a
// timed grant expires, the system supersedes or finds it covered): the chunk stored as rejected,
// the decision recorded, and chunk.decided for listeners.

import type { Chunk } from "../protocol/types.ts";
import type { Repo } from "./store/repo.ts";

export interface Rejection {
  reason: string | null;
  hint: Chunk["rejection_hint"];
  by: string;
  /** As the decision log names it: reject (a pending chunk), revoke or expire (an approved one). */
  action: "reject" | "revoke" | "expire";
  /** The revision a revoke or expiry committed, if it changed the policy. */
  revision: number | null;
  at: string;
}

/**
 * Stores `chunk` rejected and records why. `insert` is for a chunk rejected as it arrives: it was
 * never announced (no chunk.created), so no chunk.decided follows either.
 */
export async function recordRejection(
  tx: Repo,
  chunk: Chunk,
  r: Rejection,
  store: "insert" | "update" = "update",
): Promise<Chunk> {
  const rejected: Chunk = {
    ...chunk,
    status: "rejected",
    rejection_reason: r.reason,
    rejection_hint: r.hint,
    decided_at: r.at,
    decided_by: r.by,
    expires_at: null,
    revision: null,
    applied_operations: [],
  };
  if (store === "insert") await tx.insertChunk(rejected);
  else await tx.updateChunk(rejected);
  await tx.insertDecision({
    sandbox: chunk.sandbox,
    chunk_id: chunk.id,
    action: r.action,
    actor: r.by,
    revision: r.revision,
    reason: r.reason,
    at: r.at,
  });
  if (store === "update")
    await tx.appendEvent(
      "chunk.decided",
      chunk.sandbox,
      { id: chunk.id, status: "rejected", rejection_reason: r.reason, rejection_hint: r.hint },
      r.at,
    );
  return rejected;
}

/**
 * A chunk the system ends (superseded, its run over, covered as it arrives): rejected, with the
 * reason the agent reads.
 */
export function rejectBySystem(
  tx: Repo,
  chunk: Chunk,
  reason: string,
  at: string,
  store: "insert" | "update" = "update",
): Promise<Chunk> {
  const rejection: Rejection = { reason, hint: null, by: "system", action: "reject", revision: null, at };
  return recordRejection(tx, chunk, rejection, store);
}
