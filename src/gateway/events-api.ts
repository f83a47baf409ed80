// `GET /v1/events`: the Server-Sent Events stream (sse.ts), a sandbox token's limited to its own
// sandbox's events and the global ones.

import { EventSchema } from "../protocol/types.ts";
import { type ApiRouter, wholeNumber } from "./api-route.ts";
import type { GatewayService } from "./service.ts";
import { eventStream } from "./sse.ts";

export function registerEventRoutes(router: ApiRouter, service: GatewayService, heartbeatMs: number): void {
  router.route(
    {
      method: "get",
      path: "/v1/events",
      summary:
        "Server-Sent Events: chunk.created, chunk.updated, chunk.decided, policy.revision, policy.loaded, settings.changed, deny.observed, ask.created, ask.decided (?sandbox=; resume with Last-Event-ID or ?after=)",
      auth: "any",
      sandbox: "query",
      query: {
        sandbox: "only this sandbox's events (and global ones)",
        after: "replay events after this id",
      },
      response: EventSchema,
      stream: true,
    },
    (c, { sandbox }) =>
      eventStream(c, service.store, {
        sandbox,
        after: wholeNumber(c.req.header("last-event-id") ?? c.req.query("after"), "Last-Event-ID"),
        heartbeatMs,
      }),
  );
}
