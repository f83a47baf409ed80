// The gateway's HTTP API under /v1 (Hono): bearer auth, JSON errors {error, detail}, an SSE event
// stream with Last-Event-ID resume, and the OpenAPI document built from the same zod schemas.
import { timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { dumpPolicyYaml } from "../policy/canonical.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../policy/json-depth.ts";
import { formatZodIssues } from "../policy/zod-issues.ts";
import {
  ApproveAllBodySchema,
  ApproveAllResultSchema,
  ApproveBodySchema,
  CHUNK_STATUSES,
  ChunkSchema,
  DecisionSchema,
  DenyReportSchema,
  DenySchema,
  EditBodySchema,
  EventSchema,
  RegisterBodySchema,
  RegisterResultSchema,
  RejectBodySchema,
  RevisionSchema,
  RevisionStatusBodySchema,
  SandboxSchema,
  SetPolicyBodySchema,
  SetSettingBodySchema,
  SettingsViewSchema,
  SubmitBodySchema,
  SubmitResultSchema,
} from "../protocol/types.ts";
import { registerAskRoutes } from "./asks-api.ts";
import { registerHookRoute } from "./hook-api.ts";
import {
  checkCookieSession,
  type InboxPage,
  loadInboxPage,
  registerInboxRoutes,
  sessionCookie,
} from "./inbox-routes.ts";
import { InboxSessions } from "./inbox-sessions.ts";
import { openApi, type RouteDoc } from "./openapi.ts";
import { type ApiEnv, actorOf } from "./principal.ts";
import { GatewayError, type GatewayService } from "./service.ts";
import { eventStream } from "./sse.ts";

type Env = ApiEnv;
type Auth = RouteDoc["auth"];

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

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request body as JSON; not JSON, or nested deeper than any request needs: 400. */
async function readJson(c: Context, code = "invalid_json"): Promise<unknown> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new GatewayError(400, code, "request body must be JSON");
  }
  if (nestsDeeperThan(raw))
    throw new GatewayError(400, code, `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return raw;
}

async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const raw = await readJson(c);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const detail = formatZodIssues(parsed.error.issues, "(body)");
    throw new GatewayError(400, "invalid_request", detail);
  }
  return parsed.data;
}

function param(c: Context, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw new GatewayError(400, "invalid_request", `missing path parameter ${name}`);
  return value;
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new GatewayError(400, "invalid_request", `${name} must be a whole number`);
  return Number(value);
}

export function buildApi(opts: ApiOptions): { app: Hono<Env>; routes: RouteDoc[] } {
  const { service } = opts;
  const sessions = opts.inboxSessions ?? new InboxSessions();
  const app = new Hono<Env>();
  const routes: RouteDoc[] = [];

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

  async function authenticate(c: Context<Env>, auth: Auth): Promise<void> {
    if (auth === "none") return;
    const header = c.req.header("authorization") ?? "";
    // A browser with a web inbox session (and no Authorization header) acts as the operator.
    const session = header ? undefined : sessionCookie(c);
    if (session !== undefined) {
      checkCookieSession(c, sessions, session);
      c.set("principal", { kind: "operator", via: "cookie" });
      return;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token)
      throw new GatewayError(401, "unauthorized", "missing bearer token (Authorization: Bearer ...)");
    if (sameSecret(token, opts.operatorToken)) {
      c.set("principal", { kind: "operator", via: "token" });
      return;
    }
    const sandbox = await service.sandboxForToken(token);
    if (!sandbox) throw new GatewayError(401, "unauthorized", "unknown or revoked token");
    if (auth === "operator")
      throw new GatewayError(403, "forbidden", "a sandbox token cannot do this; it needs the operator token");
    c.set("principal", { kind: "sandbox", sandbox });
  }

  function route(doc: RouteDoc, handler: (c: Context<Env>) => Promise<Response> | Response): void {
    routes.push(doc);
    app[doc.method](doc.path, async (c) => {
      await authenticate(c, doc.auth);
      return handler(c);
    });
  }

  /** A sandbox token reaches only its own sandbox; the operator reaches every one. */
  function scope(c: Context<Env>, sandbox: string): string {
    const p = c.get("principal");
    if (p.kind === "sandbox" && p.sandbox !== sandbox)
      throw new GatewayError(403, "forbidden", "a sandbox token may only act for its own sandbox");
    return sandbox;
  }
  function actor(c: Context<Env>): string {
    return actorOf(c.get("principal"));
  }

  route({ method: "get", path: "/v1/health", summary: "liveness", auth: "none" }, (c) =>
    c.json({ ok: true, store: service.store.kind }),
  );
  for (const path of ["/v1/openapi.json", "/openapi.json"])
    route({ method: "get", path, summary: "this document (OpenAPI 3.1)", auth: "none" }, (c) =>
      c.json(openApi(routes)),
    );

  route(
    {
      method: "post",
      path: "/v1/sandboxes",
      summary: "register a sandbox: its policy becomes revision 1; returns its sandbox token",
      auth: "operator",
      body: RegisterBodySchema,
      response: RegisterResultSchema,
    },
    async (c) => {
      const body = await jsonBody(c, RegisterBodySchema);
      return c.json(await service.register(body.name, body.policy), 201);
    },
  );
  route(
    {
      method: "get",
      path: "/v1/sandboxes",
      summary: "sandboxes, most recently registered first",
      auth: "operator",
      response: z.object({ sandboxes: z.array(SandboxSchema) }),
    },
    async (c) => c.json({ sandboxes: await service.listSandboxes() }),
  );
  route(
    {
      method: "get",
      path: "/v1/sandboxes/:name",
      summary: "one sandbox",
      auth: "any",
      response: SandboxSchema,
    },
    async (c) => c.json(await service.getSandbox(scope(c, param(c, "name")))),
  );
  route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/policy",
      summary: "the head policy revision (or ?rev=N), with its canonical YAML",
      auth: "any",
      query: { rev: "revision number" },
      response: RevisionSchema.extend({ policy_yaml: z.string() }),
    },
    async (c) => {
      const rev = await service.getRevision(scope(c, param(c, "name")), intParam(c.req.query("rev"), "rev"));
      return c.json({ ...rev, policy_yaml: dumpPolicyYaml(rev.policy) });
    },
  );
  route(
    {
      method: "put",
      path: "/v1/sandboxes/:name/policy",
      summary: "replace the policy: a new revision pushed to the sandbox",
      auth: "operator",
      body: SetPolicyBodySchema,
      response: RevisionSchema,
    },
    async (c) => {
      const body = await jsonBody(c, SetPolicyBodySchema);
      return c.json(await service.setPolicy(param(c, "name"), body.policy, actor(c), body.expected_hash));
    },
  );
  route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/revisions",
      summary: "policy revisions, newest first",
      auth: "any",
      response: z.object({ revisions: z.array(RevisionSchema) }),
    },
    async (c) => c.json({ revisions: await service.listRevisions(scope(c, param(c, "name"))) }),
  );
  route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/revisions/:version/status",
      summary: "the supervisor reports a revision loaded or failed",
      auth: "any",
      body: RevisionStatusBodySchema,
      response: RevisionSchema,
    },
    async (c) => {
      const body = await jsonBody(c, RevisionStatusBodySchema);
      const version = intParam(param(c, "version"), "version") as number;
      return c.json(
        await service.reportRevision(scope(c, param(c, "name")), version, body.status, body.detail ?? null),
      );
    },
  );
  route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/chunks",
      summary: "submit proposals (merge operations); each addRule becomes a chunk",
      auth: "any",
      body: SubmitBodySchema,
      response: SubmitResultSchema,
    },
    async (c) => {
      const raw = await readJson(c, "invalid_proposal");
      return c.json(await service.submit(scope(c, param(c, "name")), raw as never, actor(c)), 202);
    },
  );
  route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/approve-all",
      summary: "approve every pending chunk, skipping security-flagged ones unless told",
      auth: "operator",
      body: ApproveAllBodySchema,
      response: ApproveAllResultSchema,
    },
    async (c) => {
      const body = await jsonBody(c, ApproveAllBodySchema);
      return c.json(await service.approveAll(param(c, "name"), body.include_security_flagged, actor(c)));
    },
  );
  route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/denials",
      summary: "observed denies, most recent first (?last=N, default 20)",
      auth: "any",
      query: { last: "how many (1..500)" },
      response: z.object({ denials: z.array(DenySchema) }),
    },
    async (c) => {
      const last = Math.min(500, Math.max(1, intParam(c.req.query("last"), "last") ?? 20));
      return c.json({ denials: await service.listDenies(scope(c, param(c, "name")), last) });
    },
  );
  route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/denials",
      summary: "the supervisor reports observed denies (grouped and counted)",
      auth: "any",
      body: DenyReportSchema,
      response: z.object({ recorded: z.number() }),
    },
    async (c) => {
      const body = await jsonBody(c, DenyReportSchema);
      return c.json({ recorded: await service.reportDenies(scope(c, param(c, "name")), body.denials) });
    },
  );

  route(
    {
      method: "get",
      path: "/v1/chunks",
      summary: "chunks, oldest first (?sandbox=, ?status=pending|approved|rejected)",
      auth: "any",
      query: { sandbox: "sandbox name", status: "pending | approved | rejected" },
      response: z.object({ chunks: z.array(ChunkSchema) }),
    },
    async (c) => {
      const status = c.req.query("status");
      if (status !== undefined && !(CHUNK_STATUSES as readonly string[]).includes(status))
        throw new GatewayError(400, "invalid_request", "status must be pending, approved or rejected");
      const p = c.get("principal");
      const sandbox =
        p.kind === "sandbox" ? scope(c, c.req.query("sandbox") ?? p.sandbox) : c.req.query("sandbox");
      return c.json({
        chunks: await service.listChunks({ sandbox, status: status as "pending" | undefined }),
      });
    },
  );
  route(
    { method: "get", path: "/v1/chunks/:id", summary: "one chunk", auth: "any", response: ChunkSchema },
    async (c) => {
      const chunk = await service.getChunk(param(c, "id"));
      const p = c.get("principal");
      if (p.kind === "sandbox" && p.sandbox !== chunk.sandbox)
        throw new GatewayError(404, "unknown_chunk", `no chunk with id ${param(c, "id")}`);
      return c.json(chunk);
    },
  );
  route(
    {
      method: "post",
      path: "/v1/chunks/:id/approve",
      summary: "approve with the review token the reviewer saw; merges into a new revision",
      auth: "operator",
      body: ApproveBodySchema,
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema }),
    },
    async (c) => {
      const body = await jsonBody(c, ApproveBodySchema);
      return c.json(
        await service.approve(param(c, "id"), body.review_token, actor(c), body.expires_in_seconds),
      );
    },
  );
  route(
    {
      method: "post",
      path: "/v1/chunks/:id/reject",
      summary: "reject (or revoke an approved chunk); the reason is stored verbatim",
      auth: "operator",
      body: RejectBodySchema,
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema.nullable() }),
    },
    async (c) => {
      const body = await jsonBody(c, RejectBodySchema);
      return c.json(await service.reject(param(c, "id"), body.reason ?? null, body.hint ?? null, actor(c)));
    },
  );
  route(
    {
      method: "post",
      path: "/v1/chunks/:id/edit",
      summary: "replace a pending chunk's rule; it is validated again",
      auth: "operator",
      body: EditBodySchema,
      response: ChunkSchema,
    },
    async (c) => {
      const body = await jsonBody(c, EditBodySchema);
      return c.json(await service.edit(param(c, "id"), body.rule_name, body.rule, actor(c)));
    },
  );
  route(
    {
      method: "post",
      path: "/v1/chunks/:id/undo",
      summary: "approved → pending, reverting exactly what the approval added",
      auth: "operator",
      response: z.object({ chunk: ChunkSchema, revision: RevisionSchema.nullable() }),
    },
    async (c) => c.json(await service.undo(param(c, "id"), actor(c))),
  );
  route(
    {
      method: "get",
      path: "/v1/history",
      summary: "decisions, append-only (?sandbox=, ?chunk=)",
      auth: "operator",
      query: { sandbox: "sandbox name", chunk: "chunk id" },
      response: z.object({ decisions: z.array(DecisionSchema) }),
    },
    async (c) =>
      c.json({
        decisions: await service.history({ sandbox: c.req.query("sandbox"), chunk_id: c.req.query("chunk") }),
      }),
  );
  route(
    {
      method: "get",
      path: "/v1/settings",
      summary: "effective settings (global overrides sandbox) and both layers (?sandbox=)",
      auth: "any",
      query: { sandbox: "sandbox name" },
      response: SettingsViewSchema,
    },
    async (c) => {
      const p = c.get("principal");
      const sandbox = p.kind === "sandbox" ? p.sandbox : c.req.query("sandbox");
      if (sandbox) await service.getSandbox(sandbox);
      return c.json(await service.settings(sandbox));
    },
  );
  route(
    {
      method: "put",
      path: "/v1/settings/:key",
      summary: "set a setting globally or for one sandbox (value null clears it); pushed live",
      auth: "operator",
      body: SetSettingBodySchema,
      response: SettingsViewSchema,
    },
    async (c) => {
      const body = await jsonBody(c, SetSettingBodySchema);
      return c.json(await service.setSetting(param(c, "key"), body.value, body.sandbox, actor(c)));
    },
  );
  registerAskRoutes({ service, route, jsonBody, param, actor });
  registerHookRoute({ service, route, jsonBody, param, actor });
  route(
    {
      method: "get",
      path: "/v1/events",
      summary:
        "Server-Sent Events: chunk.created, chunk.updated, chunk.decided, policy.revision, policy.loaded, settings.changed, deny.observed, ask.created, ask.decided (?sandbox=; resume with Last-Event-ID or ?after=)",
      auth: "any",
      query: {
        sandbox: "only this sandbox's events (and global ones)",
        after: "replay events after this id",
      },
      response: EventSchema,
      stream: true,
    },
    (c) => {
      const p = c.get("principal");
      return eventStream(c, service.store, {
        sandbox: p.kind === "sandbox" ? p.sandbox : c.req.query("sandbox"),
        after: intParam(c.req.header("last-event-id") ?? c.req.query("after"), "Last-Event-ID"),
        heartbeatMs: opts.heartbeatMs ?? 15_000,
      });
    },
  );

  registerInboxRoutes({
    app,
    route,
    service,
    sessions,
    page: opts.inboxPage ?? loadInboxPage(),
    home: opts.home,
  });

  return { app, routes };
}
