// The chunk routes: proposals submitted for a sandbox (each addRule a chunk), listed and read, and
// the operator's decisions on them (approve, approve-all, reject, edit, undo) with their history.
import { z } from "zod";
import {
  ApproveAllBodySchema,
  ApproveAllResultSchema,
  ApproveBodySchema,
  CHUNK_STATUSES,
  ChunkSchema,
  DecisionSchema,
  EditBodySchema,
  RejectBodySchema,
  RevisionSchema,
  SubmitBodySchema,
  SubmitResultSchema,
} from "../protocol/types.ts";
import type { ApiRouter } from "./api-route.ts";
import { GatewayError } from "./gateway-error.ts";
import { sees } from "./principal.ts";
import type { GatewayService } from "./service.ts";

export function registerChunkRoutes(router: ApiRouter, service: GatewayService): void {
  router.route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/chunks",
      summary: "submit proposals (merge operations); each addRule becomes a chunk",
      auth: "any",
      sandbox: "path",
      body: SubmitBodySchema,
      bodyError: "invalid_proposal",
      response: SubmitResultSchema,
    },
    async (c, { body, sandbox, actor }) => c.json(await service.submit(sandbox, body, actor), 202),
  );
  router.route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/approve-all",
      summary: "approve every pending chunk, skipping security-flagged ones unless told",
      auth: "operator",
      sandbox: "path",
      body: ApproveAllBodySchema,
      response: ApproveAllResultSchema,
    },
    async (c, { body, sandbox, actor }) =>
      c.json(await service.approveAll(sandbox, body.include_security_flagged, actor)),
  );
  router.route(
    {
      method: "get",
      path: "/v1/chunks",
      summary: "chunks, oldest first (?sandbox=, ?status=pending|approved|rejected)",
      auth: "any",
      sandbox: "query",
      query: { sandbox: "sandbox name", status: "pending | approved | rejected" },
      response: z.object({ chunks: z.array(ChunkSchema) }),
    },
    async (c, { sandbox }) => {
      const status = c.req.query("status");
      if (status !== undefined && !(CHUNK_STATUSES as readonly string[]).includes(status))
        throw new GatewayError(400, "invalid_request", "status must be pending, approved or rejected");
      return c.json({
        chunks: await service.listChunks({ sandbox, status: status as "pending" | undefined }),
      });
    },
  );
  router.route(
    { method: "get", path: "/v1/chunks/:id", summary: "one chunk", auth: "any", response: ChunkSchema },
    async (c, { principal, param }) => {
      const chunk = await service.getChunk(param("id"));
      if (!sees(principal, chunk.sandbox))
        throw new GatewayError(404, "unknown_chunk", `no chunk with id ${param("id")}`);
      return c.json(chunk);
    },
  );
  router.route(
    {
      method: "post",
      path: "/v1/chunks/:id/approve",
      summary: "approve with the review token the reviewer saw; merges into a new revision",
      auth: "operator",
      body: ApproveBodySchema,
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema }),
    },
    async (c, { body, actor, param }) =>
      c.json(await service.approve(param("id"), body.review_token, actor, body.expires_in_seconds)),
  );
  router.route(
    {
      method: "post",
      path: "/v1/chunks/:id/reject",
      summary: "reject (or revoke an approved chunk); the reason is stored verbatim",
      auth: "operator",
      body: RejectBodySchema,
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema.nullable() }),
    },
    async (c, { body, actor, param }) =>
      c.json(await service.reject(param("id"), body.reason ?? null, body.hint ?? null, actor)),
  );
  router.route(
    {
      method: "post",
      path: "/v1/chunks/:id/edit",
      summary: "replace a pending chunk's rule; it is validated again",
      auth: "operator",
      body: EditBodySchema,
      response: ChunkSchema,
    },
    async (c, { body, actor, param }) =>
      c.json(await service.edit(param("id"), body.rule_name, body.rule, actor)),
  );
  router.route(
    {
      method: "post",
      path: "/v1/chunks/:id/undo",
      summary: "approved → pending, reverting exactly what the approval added",
      auth: "operator",
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema.nullable() }),
    },
    async (c, { actor, param }) => c.json(await service.undo(param("id"), actor)),
  );
  router.route(
    {
      method: "get",
      path: "/v1/history",
      summary: "decisions, append-only (?sandbox=, ?chunk=)",
      auth: "operator",
      sandbox: "query",
      query: { sandbox: "sandbox name", chunk: "chunk id" },
      response: z.object({ decisions: z.array(DecisionSchema) }),
    },
    async (c, { sandbox }) =>
      c.json({ decisions: await service.history({ sandbox, chunk_id: c.req.query("chunk") }) }),
  );
}
