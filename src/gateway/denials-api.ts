// The observed-deny routes: the supervisor reports what its proxy denied (grouped and counted);
// the CLI, the inbox and the agent read the most recent.
import { z } from "zod";
import { DenyReportSchema, DenySchema } from "../protocol/types.ts";
import { type ApiRouter, wholeNumber } from "./api-route.ts";
import type { GatewayService } from "./service.ts";

export function registerDenialRoutes(router: ApiRouter, service: GatewayService): void {
  router.route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/denials",
      summary: "observed denies, most recent first (?last=N, default 20)",
      auth: "any",
      sandbox: "path",
      query: { last: "how many (1..500)" },
      response: z.object({ denials: z.array(DenySchema) }),
    },
    async (c, { sandbox }) => {
      const last = Math.min(500, Math.max(1, wholeNumber(c.req.query("last"), "last") ?? 20));
      return c.json({ denials: await service.listDenies(sandbox, last) });
    },
  );
  router.route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/denials",
      summary: "the supervisor reports observed denies (grouped and counted)",
      auth: "any",
      sandbox: "path",
      body: DenyReportSchema,
      response: z.object({ recorded: z.number() }),
    },
    async (c, { body, sandbox }) => c.json({ recorded: await service.reportDenies(sandbox, body.denials) }),
  );
}
