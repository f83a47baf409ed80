// The gate routes under /v1/gate: decide, asks, wait, allow/deny (docs/design.md §10), declared
// with the same route helper (api-route.ts) as every other route, so auth and scope work alike.
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
import type { ApiRouter } from "./api-route.ts";
import { MAX_WAIT_SECONDS } from "./asks.ts";
import { GatewayError } from "./gateway-error.ts";
import { type Principal, sees } from "./principal.ts";
import type { GatewayService } from "./service.ts";

export function registerAskRoutes(router: ApiRouter, service: GatewayService): void {
  const asks = service.asks;
  /** A sandbox token sees only its own sandbox's asks (others are "unknown"). */
  const visible = async (principal: Principal, id: string) => {
    const ask = await asks.getAsk(id);
    if (!sees(principal, ask.sandbox)) throw new GatewayError(404, "unknown_ask", `no ask with id ${id}`);
    return ask;
  };

  router.route(
    {
      method: "post",
      path: "/v1/gate/decide",
      summary:
        "run the gate cascade on a tool call (the input `airlock gate check --input` takes); an ask is stored and its id returned",
      auth: "any",
      sandbox: "body",
      body: GateDecideBodySchema,
      response: GateDecideResultSchema,
      // A caller that reads only `decision` must still fail closed on input it got wrong; an ask
      // the sandbox may not add (too many pending) is a denial, as no one will be asked.
      errorFields: (error) => ({
        decision: error.code === "too_many_pending_asks" ? "deny" : "ask",
        reason: error.message,
      }),
    },
    async (c, { body, sandbox, principal }) =>
      c.json(await asks.decide(body, sandbox ?? null, principal.kind === "operator")),
  );
  router.route(
    {
      method: "post",
      path: "/v1/gate/asks",
      summary: "create an ask for a call an adapter has decided to ask about (redacted summary, digest)",
      auth: "any",
      sandbox: "body",
      body: CreateAskBodySchema,
      response: AskSchema,
    },
    async (c, { body, sandbox }) => c.json(await asks.create(body, sandbox ?? null), 201),
  );
  router.route(
    {
      method: "get",
      path: "/v1/gate/asks",
      summary: "asks, oldest first (?status=pending|allowed|denied|expired, ?sandbox=)",
      auth: "any",
      sandbox: "query",
      query: { status: ASK_STATUSES.join(" | "), sandbox: "sandbox name" },
      response: z.object({ asks: z.array(AskSchema) }),
    },
    async (c, { sandbox }) => {
      const status = c.req.query("status");
      if (status !== undefined && !(ASK_STATUSES as readonly string[]).includes(status))
        throw new GatewayError(400, "invalid_request", `status must be ${ASK_STATUSES.join(", ")}`);
      return c.json({
        asks: await asks.listAsks({
          ...(status ? { status: status as AskStatus } : {}),
          ...(sandbox ? { sandbox } : {}),
        }),
      });
    },
  );
  router.route(
    { method: "get", path: "/v1/gate/asks/:id", summary: "one ask", auth: "any", response: AskSchema },
    async (c, { principal, param }) => c.json(await visible(principal, param("id"))),
  );
  router.route(
    {
      method: "get",
      path: "/v1/gate/asks/:id/wait",
      summary: `the ask once decided or expired, or still pending after ?timeout=S (default 30, at most ${MAX_WAIT_SECONDS})`,
      auth: "any",
      query: { timeout: "seconds" },
      response: AskSchema,
    },
    async (c, { principal, param }) => {
      const raw = c.req.query("timeout");
      if (raw !== undefined && !/^\d+(\.\d+)?$/.test(raw))
        throw new GatewayError(400, "invalid_request", "timeout must be a number of seconds");
      const seconds = Math.min(MAX_WAIT_SECONDS, raw === undefined ? 30 : Number(raw));
      const id = param("id");
      await visible(principal, id);
      return c.json(await asks.waitAsk(id, seconds * 1000, c.req.raw.signal));
    },
  );
  router.route(
    {
      method: "post",
      path: "/v1/gate/asks/:id/withdraw",
      summary:
        "the asker gives up waiting: a pending ask ends as expired with the reason as its note; an ask decided already is returned as it is",
      auth: "any",
      body: DecideAskBodySchema,
      response: AskSchema,
    },
    async (c, { body, principal, actor, param }) => {
      const id = param("id");
      await visible(principal, id);
      return c.json(await asks.withdraw(id, actor, body.reason ?? "withdrawn by the asker"));
    },
  );
  for (const action of ["allow", "deny"] as const) {
    router.route(
      {
        method: "post",
        path: `/v1/gate/asks/:id/${action}`,
        summary: `${action} a pending ask (operator only); the reason is passed on to the agent verbatim`,
        auth: "operator",
        body: DecideAskBodySchema,
        // `curl -X POST .../allow` needs no JSON.
        emptyBody: "allowed",
        response: AskSchema,
      },
      async (c, { body, actor, param }) => {
        const reason = body.reason ?? null;
        const id = param("id");
        return c.json(
          action === "allow" ? await asks.allow(id, actor, reason) : await asks.deny(id, actor, reason),
        );
      },
    );
  }
}
