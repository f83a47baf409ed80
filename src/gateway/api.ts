// The gateway's HTTP API under /v1 (Hono), composed: JSON errors {error, detail}, the body limit,
// and one route module per resource, each declaring its routes through the one router
// (api-route.ts: auth, body schema, sandbox scope). The OpenAPI document lists those declarations.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiRouter } from "./api-route.ts";
import { registerAskRoutes } from "./asks-api.ts";
import { registerChunkRoutes } from "./chunks-api.ts";
import { registerDenialRoutes } from "./denials-api.ts";
import { registerEventRoutes } from "./events-api.ts";
import { GatewayError } from "./gateway-error.ts";
import { registerHookRoute } from "./hook-api.ts";
import { type InboxPage, loadInboxPage, registerInboxRoutes } from "./inbox-routes.ts";
import { InboxSessions } from "./inbox-sessions.ts";
import { openApi } from "./openapi.ts";
import type { ApiEnv } from "./principal.ts";
import { registerSandboxRoutes } from "./sandboxes-api.ts";
import type { GatewayService } from "./service.ts";
import { registerSettingRoutes } from "./settings-api.ts";

export interface ApiOptions {
  service: GatewayService;
  operatorToken: string;
  /** Heartbeat comment interval on idle event streams. */
  heartbeatMs?: number;
  /** Web inbox login codes and sessions (default: fresh, in memory). */
  inboxSessions?: InboxSessions;
  /** The inbox page (default: src/gateway/inbox/index.html, read once here). */
  inboxPage?: InboxPage;
  /** $AIRLOCK_HOME, where local sandboxes' logs are (the inbox timeline). */
  home?: string;
}

export function buildApi(opts: ApiOptions): { app: Hono<ApiEnv> } {
  const { service } = opts;
  const sessions = opts.inboxSessions ?? new InboxSessions();
  const app = new Hono<ApiEnv>();

  app.onError((error, c) => {
    if (error instanceof GatewayError)
      return c.json({ error: error.code, detail: error.message }, error.status);
    process.stderr.write(
      `airlock gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return c.json({ error: "internal", detail: "internal error; see the gateway log" }, 500);
  });
  app.notFound((c) => c.json({ error: "not_found", detail: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: 1024 * 1024,
      onError: (c) => c.json({ error: "body_too_large", detail: "request body exceeds 1 MiB" }, 413),
    }),
  );

  const router = new ApiRouter({
    app,
    operatorToken: opts.operatorToken,
    sessions,
    sandboxForToken: (token) => service.sandboxForToken(token),
  });
  router.anonymous({ method: "get", path: "/v1/health", summary: "liveness" }, (c) =>
    c.json({ ok: true, store: service.store.kind }),
  );
  for (const path of ["/v1/openapi.json", "/openapi.json"])
    router.anonymous({ method: "get", path, summary: "this document (OpenAPI 3.1)" }, (c) =>
      c.json(openApi(router.routes)),
    );
  registerSandboxRoutes(router, service);
  registerChunkRoutes(router, service);
  registerDenialRoutes(router, service);
  registerSettingRoutes(router, service);
  registerAskRoutes(router, service);
  registerHookRoute(router, service);
  registerEventRoutes(router, service, opts.heartbeatMs ?? 15_000);
  registerInboxRoutes({
    app,
    router,
    service,
    sessions,
    page: opts.inboxPage ?? loadInboxPage(),
    home: opts.home,
  });
  return { app };
}
