// The gate routes under /v1/gate: decide, asks, wait, allow/deny (docs/design.md §10). Registered by
// buildApi with its own route/auth helpers, so auth works the same as for every other route.
import type { Context } from "hono";
import { z } from "zod";
import {
  ASK_STATUSES,
  AskSchema,
  type AskStatus,
  CreateAskBodySchema,
  DecideAskBodySchema,
  GateDecideBodySchema,
  GateDecideResultSchema,
} from "../protocol/ask-types.ts";
import { MAX_WAIT_SECONDS } from "./asks.ts";
import type { RouteDoc } from "./openapi.ts";
import { GatewayError, type GatewayService } from "./service.ts";

type Principal = { kind: "operator" } | { kind: "sandbox"; sandbox: string };
// biome-ignore lint/suspicious/noExplicitAny: the Hono env type belongs to api.ts
type Ctx = Context<any>;

export interface AskRouteKit {
  service: GatewayService;
  route(doc: RouteDoc, handler: (c: Ctx) => Promise<Response> | Response): void;
  jsonBody<S extends z.ZodType>(c: Ctx, schema: S): Promise<z.output<S>>;
  param(c: Ctx, name: string): string;
  actor(c: Ctx): string;
}

/** The sandbox an ask belongs to: a sandbox token's own (never another), else what the operator says. */
function askSandbox(p: Principal, named: string | undefined): string | null {
  if (p.kind === "operator") return named ?? null;
  if (named !== undefined && named !== p.sandbox)
    throw new GatewayError(403, "forbidden", "a sandbox token may only act for its own sandbox");
  return p.sandbox;
}

export function registerAskRoutes(kit: AskRouteKit): void {
  const { service, route, jsonBody, param, actor } = kit;
  const asks = service.asks;
  const principal = (c: Ctx) => c.get("principal") as Principal;
  /** A sandbox token sees only its own sandbox's asks (others are "unknown"). */
  const visible = async (c: Ctx, id: string) => {
    const ask = await asks.getAsk(id);
    const p = principal(c);
    if (p.kind === "sandbox" && ask.sandbox !== p.sandbox)
      throw new GatewayError(404, "unknown_ask", `no ask with id ${id}`);
    return ask;
  };

  route(
    {
      method: "post",
      path: "/v1/gate/decide",
      summary:
        "run the gate cascade on a tool call (the input `airlock gate check --input` takes); an ask is stored and its id returned",
      auth: "any",
      body: GateDecideBodySchema,
      response: GateDecideResultSchema,
    },
    async (c) => {
      try {
        const body = await jsonBody(c, GateDecideBodySchema);
        const p = principal(c);
        return c.json(await asks.decide(body, askSandbox(p, body.sandbox), p.kind === "operator"));
      } catch (error) {
        // A caller that reads only `decision` must still fail closed on input it got wrong.
        if (!(error instanceof GatewayError) || error.status >= 500) throw error;
        return c.json(
          { error: error.code, detail: error.message, decision: "ask", reason: error.message },
          error.status,
        );
      }
    },
  );
  route(
    {
      method: "post",
      path: "/v1/gate/asks",
      summary: "create an ask for a call an adapter has decided to ask about (redacted summary, digest)",
      auth: "any",
      body: CreateAskBodySchema,
      response: AskSchema,
    },
    async (c) => {
      const body = await jsonBody(c, CreateAskBodySchema);
      return c.json(await asks.create(body, askSandbox(principal(c), body.sandbox)), 201);
    },
  );
  route(
    {
      method: "get",
      path: "/v1/gate/asks",
      summary: "asks, oldest first (?status=pending|allowed|denied|expired, ?sandbox=)",
      auth: "any",
      query: { status: ASK_STATUSES.join(" | "), sandbox: "sandbox name" },
      response: z.object({ asks: z.array(AskSchema) }),
    },
    async (c) => {
      const status = c.req.query("status");
      if (status !== undefined && !(ASK_STATUSES as readonly string[]).includes(status))
        throw new GatewayError(400, "invalid_request", `status must be ${ASK_STATUSES.join(", ")}`);
      const p = principal(c);
      const sandbox = p.kind === "sandbox" ? p.sandbox : c.req.query("sandbox");
      return c.json({
        asks: await asks.listAsks({
          ...(status ? { status: status as AskStatus } : {}),
          ...(sandbox ? { sandbox } : {}),
        }),
      });
    },
  );
  route(
    { method: "get", path: "/v1/gate/asks/:id", summary: "one ask", auth: "any", response: AskSchema },
    async (c) => c.json(await visible(c, param(c, "id"))),
  );
  route(
    {
      method: "get",
      path: "/v1/gate/asks/:id/wait",
      summary: `the ask once decided or expired, or still pending after ?timeout=S (default 30, at most ${MAX_WAIT_SECONDS})`,
      auth: "any",
      query: { timeout: "seconds" },
      response: AskSchema,
    },
    async (c) => {
      const raw = c.req.query("timeout");
      if (raw !== undefined && !/^\d+(\.\d+)?$/.test(raw))
        throw new GatewayError(400, "invalid_request", "timeout must be a number of seconds");
      const seconds = Math.min(MAX_WAIT_SECONDS, raw === undefined ? 30 : Number(raw));
      const id = param(c, "id");
      await visible(c, id);
      return c.json(await asks.waitAsk(id, seconds * 1000, c.req.raw.signal));
    },
  );
  route(
    {
      method: "post",
      path: "/v1/gate/asks/:id/withdraw",
      summary:
        "the asker gives up waiting: a pending ask ends as expired with the reason as its note; an ask decided already is returned as it is",
      auth: "any",
      body: DecideAskBodySchema,
      response: AskSchema,
    },
    async (c) => {
      const id = param(c, "id");
      await visible(c, id);
      const body = await jsonBody(c, DecideAskBodySchema);
      return c.json(await asks.withdraw(id, actor(c), body.reason ?? "withdrawn by the asker"));
    },
  );
  for (const action of ["allow", "deny"] as const) {
    route(
      {
        method: "post",
        path: `/v1/gate/asks/:id/${action}`,
        summary: `${action} a pending ask (operator only); the reason is passed on to the agent verbatim`,
        auth: "operator",
        body: DecideAskBodySchema,
        response: AskSchema,
      },
      async (c) => {
        // An empty body is fine here: `curl -X POST .../allow` needs no JSON.
        const empty = (await c.req.raw.clone().text()).trim() === "";
        const body = empty ? {} : await jsonBody(c, DecideAskBodySchema);
        const reason = body.reason ?? null;
        const id = param(c, "id");
        return c.json(
          action === "allow" ? await asks.allow(id, actor(c), reason) : await asks.deny(id, actor(c), reason),
        );
      },
    );
  }
}
