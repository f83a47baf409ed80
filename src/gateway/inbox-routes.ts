// The web inbox (docs/design.md §9): the page at /inbox, one-time login links that open a cookie
// session, and GET /v1/inbox/state, everything the page shows in one answer.
// The page is read once, when the API is built; its inline script and style are pinned by hash
// in a strict Content-Security-Policy.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { readRecentLines } from "../audit/reader.ts";
import { packagePath } from "../package-root.ts";
import type { Policy } from "../policy/schema.ts";
import { AskSchema } from "../protocol/ask-types.ts";
import { sandboxLogDir } from "../protocol/home.ts";
import { ChunkSchema, DenySchema } from "../protocol/types.ts";
import type { ApiRouter } from "./api-route.ts";
import { GatewayError } from "./gateway-error.ts";
import { type InboxSessions, SESSION_COOKIE, SESSION_TTL_MS } from "./inbox-sessions.ts";
import {
  DENIES_SHOWN,
  type InboxState,
  inboxState,
  requestTimeline,
  TIMELINE_WINDOW_MS,
  type Timeline,
  type TimelineEvent,
} from "./inbox-view.ts";
import type { ApiEnv } from "./principal.ts";
import type { GatewayService } from "./service.ts";

export const INBOX_HEADER = "x-airlock-inbox";

export interface InboxPage {
  html: string;
  csp: string;
}

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** The page and its CSP (inline <script> and <style> allowed by their exact hashes only). */
export function inboxPage(html: string): InboxPage {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => sha256(m[1] ?? ""));
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => sha256(m[1] ?? ""));
  const csp = [
    "default-src 'none'",
    `script-src ${scripts.join(" ") || "'none'"}`,
    `style-src ${styles.join(" ") || "'none'"}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}

export function loadInboxPage(): InboxPage {
  return inboxPage(readFileSync(packagePath("src", "gateway", "inbox", "index.html"), "utf8"));
}

export const LoginCodeSchema = z.object({ url: z.string(), expires_at: z.string() });
const ReachSchema = z.enum(["none", "some", "all", "raw"]);
const TimelineSchema = z.object({
  from: z.number(),
  bucket_ms: z.number(),
  sandboxes: z.array(
    z.object({
      sandbox: z.string(),
      destinations: z.array(
        z.object({ destination: z.string(), allowed: z.array(z.number()), denied: z.array(z.number()) }),
      ),
    }),
  ),
});

export const InboxStateSchema = z.object({
  pending: z.array(
    ChunkSchema.extend({
      rendered_endpoints: z.array(z.string()),
      diff: z.array(z.string()),
      reach: z.array(
        z.object({
          destination: z.string(),
          cells: z.array(z.object({ method: z.string(), before: ReachSchema, after: ReachSchema })),
        }),
      ),
    }),
  ),
  decided: z.array(ChunkSchema),
  denies: z.array(DenySchema),
  asks: z.array(AskSchema),
});

/** The execution gate's pending asks (src/gateway/asks.ts), shown with Allow / Deny buttons. */
function pendingAsks(service: GatewayService) {
  return service.listAsks({ status: "pending" });
}

export async function readInboxState(service: GatewayService): Promise<InboxState> {
  const [pending, approved, rejected, sandboxes, asks] = await Promise.all([
    service.listChunks({ status: "pending" }),
    service.listChunks({ status: "approved" }),
    service.listChunks({ status: "rejected" }),
    service.listSandboxes(),
    pendingAsks(service),
  ]);
  const policies = new Map<string, Policy>();
  for (const name of new Set(pending.map((c) => c.sandbox)))
    policies.set(name, (await service.getRevision(name)).policy);
  const denies = (
    await Promise.all(sandboxes.map((s) => service.listDenies(s.name, DENIES_SHOWN).catch(() => [])))
  ).flat();
  return inboxState({ pending, decided: [...approved, ...rejected], denies, asks, policies });
}

/** The OCSF events of the last hour the timeline counts: NET 4001 and HTTP 4002 decisions. */
const TIMELINE_EVENTS_READ = 20_000;

function timelineEvents(dir: string, since: number): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  // Newest lines first, but a line's place is when it was written: skip, never stop at, an old one.
  const { lines } = readRecentLines(dir, "ocsf", TIMELINE_EVENTS_READ, (line) =>
    line.includes('"class_uid":400'),
  );
  for (const line of lines) {
    let event: {
      time?: unknown;
      class_uid?: unknown;
      action_id?: unknown;
      dst_endpoint?: { hostname?: unknown; port?: unknown };
    };
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof event.time !== "number") continue;
    if (event.time < since) continue;
    const host = event.dst_endpoint?.hostname;
    const port = event.dst_endpoint?.port;
    if (typeof host !== "string" || typeof port !== "number") continue;
    out.push({ time: event.time, destination: `${host}:${port}`, allowed: event.action_id === 1 });
  }
  return out;
}

/** The request timeline from the sandboxes' own logs, where this gateway's home holds them. */
export async function readTimeline(service: GatewayService, home: string, now: number): Promise<Timeline> {
  const bySandbox = new Map<string, TimelineEvent[]>();
  for (const { name } of await service.listSandboxes())
    bySandbox.set(name, timelineEvents(sandboxLogDir(home, name), now - TIMELINE_WINDOW_MS));
  return requestTimeline(bySandbox, now);
}

export interface InboxRouteDeps {
  app: Hono<ApiEnv>;
  router: ApiRouter;
  service: GatewayService;
  sessions: InboxSessions;
  page: InboxPage;
  /** $AIRLOCK_HOME of this gateway, where local sandboxes keep their logs (the timeline reads them). */
  home?: string;
}

/**
 * Cookie sessions act as the operator, but a state-changing request must also carry
 * `x-airlock-inbox: 1` (a cross-site form cannot set a header) and, when the browser names an
 * Origin, come from this gateway's own. Throws the 401/403 to answer otherwise.
 */
export function checkCookieSession(c: Context, sessions: InboxSessions, session: string): void {
  if (!sessions.valid(session))
    throw new GatewayError(
      401,
      "unauthorized",
      "inbox session expired or unknown; run `airlock inbox` for a new login link",
    );
  const method = c.req.method.toUpperCase();
  if (method === "GET" || method === "HEAD") return;
  if (c.req.header(INBOX_HEADER) !== "1")
    throw new GatewayError(
      403,
      "forbidden",
      `a cookie-authenticated ${method} needs the header ${INBOX_HEADER}: 1`,
    );
  const origin = c.req.header("origin");
  if (origin && origin !== new URL(c.req.url).origin)
    throw new GatewayError(403, "forbidden", `cross-origin request from ${origin} refused`);
}

export function sessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

export function registerInboxRoutes(deps: InboxRouteDeps): void {
  const { app, router, service, sessions, page, home } = deps;

  app.get("/inbox", (c) => {
    c.header("content-security-policy", page.csp);
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
    c.header("cache-control", "no-store");
    return c.html(page.html);
  });

  app.get("/inbox/login", (c) => {
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
    const outcome = sessions.redeem(c.req.query("code"));
    if (!outcome.ok) return c.json({ error: outcome.error, detail: outcome.detail }, outcome.status);
    setCookie(c, SESSION_COOKIE, outcome.session, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return c.redirect("/inbox", 303);
  });

  router.route(
    {
      method: "post",
      path: "/v1/inbox/login-codes",
      summary: "a one-time web inbox login link (single use, valid 5 minutes); operator token only",
      // A session never mints the links that open sessions: `airlock inbox`, with the token, does.
      auth: "operator_token",
      response: LoginCodeSchema,
    },
    (c) => {
      const { code, expiresAt } = sessions.issueCode();
      const url = `${new URL(c.req.url).origin}/inbox/login?code=${encodeURIComponent(code)}`;
      return c.json({ url, expires_at: expiresAt.toISOString() }, 201);
    },
  );
  router.route(
    {
      method: "post",
      path: "/v1/inbox/logout",
      summary: "end this browser's inbox session",
      auth: "operator",
      response: z.object({ ok: z.boolean() }),
    },
    (c) => {
      sessions.end(sessionCookie(c));
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.json({ ok: true });
    },
  );
  router.route(
    {
      method: "get",
      path: "/v1/inbox/state",
      summary:
        "everything the web inbox shows: pending chunks with rendered endpoints and diff, the last 20 decided, observed denies, gate asks",
      auth: "operator",
      response: InboxStateSchema,
    },
    async (c) => c.json(await readInboxState(service)),
  );
  router.route(
    {
      method: "get",
      path: "/v1/inbox/timeline",
      summary:
        "allowed and denied requests per destination for each sandbox, per minute over the last hour, from the OCSF logs under this gateway's home (empty for sandboxes on other machines)",
      auth: "operator",
      response: TimelineSchema,
    },
    async (c) =>
      c.json(home ? await readTimeline(service, home, Date.now()) : requestTimeline(new Map(), Date.now())),
  );
}
