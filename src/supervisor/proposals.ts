// The policy.local proposal routes (docs/design.md §5) as plain functions over (input, link) returning
// {status, body}, for the proxy's policy.local router to mount. No route can approve anything.
// /wait is push-driven: it sleeps on the link's events, never polls.
import { z } from "zod";
import { formatZodIssues } from "../policy/zod-issues.ts";
import { GatewayRequestError, GatewayUnavailableError } from "../protocol/client.ts";
import type { Chunk, GatewayEvent } from "../protocol/types.ts";
import type { GatewayLink } from "./gateway-link.ts";

export interface RouteResult {
  status: number;
  body: Record<string, unknown>;
}

const ProposalBodySchema = z.strictObject({
  intent_summary: z.string().max(2000).optional(),
  rationale: z.string().max(4000).optional(),
  operations: z.array(z.unknown()).min(1, { error: "operations: needs at least one operation" }).max(50),
});

const CHUNK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function error(status: number, code: string, detail: string): RouteResult {
  return { status, body: { error: code, detail } };
}

const unavailable = () =>
  error(
    503,
    "gateway_unavailable",
    "the Airlock gateway is not reachable; the current policy stays in force, try again later",
  );

/** The flag check every route makes first (the gateway enforces it again on submit). */
function gate(link: GatewayLink): RouteResult | null {
  if (link.settings === null) return unavailable();
  if (!link.settings.agent_policy_proposals_enabled)
    return error(404, "feature_disabled", "agent policy proposals are disabled for this sandbox");
  return null;
}

function fromGatewayError(e: unknown): RouteResult {
  if (e instanceof GatewayUnavailableError) return unavailable();
  if (e instanceof GatewayRequestError) {
    if (e.code === "feature_disabled") return error(404, "feature_disabled", e.detail);
    if (e.code === "invalid_proposal" || e.code === "invalid_request")
      return error(400, "invalid_proposal", e.detail);
    if (e.status === 404 || e.status === 403) return error(404, "not_found", "no such proposal");
    if (e.status >= 500) return unavailable();
    return error(e.status, e.code, e.detail);
  }
  throw e;
}

/** POST /v1/proposals */
export async function submitProposal(link: GatewayLink, body: unknown): Promise<RouteResult> {
  const closed = gate(link);
  if (closed) return closed;
  const parsed = ProposalBodySchema.safeParse(body);
  if (!parsed.success) {
    return error(400, "invalid_proposal", formatZodIssues(parsed.error.issues, "(body)"));
  }
  try {
    const result = await link.client().submit(link.sandbox, { source: "agent_authored", ...parsed.data });
    return {
      status: 202,
      body: {
        status: "submitted",
        accepted_chunks: result.accepted_chunks,
        rejected_chunks: result.rejected_chunks,
        rejection_reasons: result.rejection_reasons,
        accepted_chunk_ids: result.accepted_chunk_ids,
      },
    };
  } catch (e) {
    return fromGatewayError(e);
  }
}

function view(chunk: Chunk, link: GatewayLink): Record<string, unknown> {
  const reloaded =
    chunk.status === "approved" && chunk.revision !== null && (link.loadedVersion ?? 0) >= chunk.revision;
  return {
    chunk_id: chunk.id,
    status: chunk.status,
    rule_name: chunk.rule_name,
    binary: chunk.binary,
    layer: chunk.layer,
    rejection_reason: chunk.rejection_reason,
    rejection_hint: chunk.rejection_hint,
    validation_result: chunk.validation_result,
    findings: chunk.findings,
    security_notes: chunk.security_notes,
    summary: chunk.summary,
    hit_count: chunk.hit_count,
    created_at: chunk.created_at,
    decided_at: chunk.decided_at,
    expires_at: chunk.expires_at,
    ...(chunk.status === "approved" ? { policy_reloaded: reloaded } : {}),
  };
}

/** GET /v1/proposals/{id} */
export async function getProposal(link: GatewayLink, id: string): Promise<RouteResult> {
  const closed = gate(link);
  if (closed) return closed;
  if (!CHUNK_ID.test(id)) return error(404, "not_found", "no such proposal");
  try {
    return { status: 200, body: view(await link.client().getChunk(id), link) };
  } catch (e) {
    return fromGatewayError(e);
  }
}

/** `?timeout=S`: default 60, clamped to 1..300. */
export function waitTimeoutSeconds(raw: string | null | undefined): number {
  if (raw === null || raw === undefined || !/^\s*-?\d+\s*$/.test(raw)) return 60;
  return Math.min(300, Math.max(1, Number(raw)));
}

/**
 * GET /v1/proposals/{id}/wait?timeout=S. Answers when the chunk is decided: approved only once the
 * sandbox's loaded policy includes the approving revision (policy_reloaded: true), rejected with
 * the reviewer's reason verbatim, or `pending, timed_out` after S seconds.
 */
export async function waitProposal(
  link: GatewayLink,
  id: string,
  timeout: string | null | undefined,
  signal?: AbortSignal,
): Promise<RouteResult> {
  const closed = gate(link);
  if (closed) return closed;
  if (!CHUNK_ID.test(id)) return error(404, "not_found", "no such proposal");
  const deadline = Date.now() + waitTimeoutSeconds(timeout) * 1000;

  // Listen before reading, so a decision between the read and the wait is not missed.
  let wake: (() => void) | null = null;
  let refetch = false;
  let chunk: Chunk;
  const onEvent = (e: GatewayEvent) => {
    if ((e.type === "chunk.decided" || e.type === "chunk.updated") && e.data.id === id) {
      refetch = true;
      wake?.();
    }
  };
  const onResync = () => {
    refetch = true;
    wake?.();
  };
  const onLoaded = () => wake?.();
  link.on("event", onEvent);
  link.on("resync", onResync);
  link.on("loaded", onLoaded);
  signal?.addEventListener("abort", onLoaded);
  try {
    try {
      chunk = await link.client().getChunk(id);
    } catch (e) {
      return fromGatewayError(e);
    }
    for (;;) {
      if (chunk.status === "rejected") return { status: 200, body: view(chunk, link) };
      if (
        chunk.status === "approved" &&
        chunk.revision !== null &&
        (link.loadedVersion ?? 0) >= chunk.revision
      )
        return { status: 200, body: view(chunk, link) };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted)
        return { status: 200, body: { ...view(chunk, link), timed_out: true } };
      if (!refetch) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      if (refetch) {
        refetch = false;
        try {
          chunk = await link.client().getChunk(id);
        } catch {
          // gateway gone meanwhile: keep waiting; the link resyncs when it is back
        }
      }
    }
  } finally {
    link.off("event", onEvent);
    link.off("resync", onResync);
    link.off("loaded", onLoaded);
    signal?.removeEventListener("abort", onLoaded);
  }
}

export interface ProposalRequest {
  /** Path parameters, e.g. {id} for /v1/proposals/{id}. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (POST), or undefined. */
  body?: unknown;
  /** Aborts a /wait when the agent's connection goes away. */
  signal?: AbortSignal;
}

/** One entry point for the router built from POLICY_LOCAL_ROUTES: dispatch by route action. */
export function handleProposalAction(
  link: GatewayLink,
  action: "submit_proposal" | "get_proposal" | "wait_proposal",
  req: ProposalRequest,
): Promise<RouteResult> {
  const id = req.params.id ?? "";
  if (action === "submit_proposal") return submitProposal(link, req.body);
  if (action === "get_proposal") return getProposal(link, id);
  return waitProposal(link, id, req.query.get("timeout"), req.signal);
}
