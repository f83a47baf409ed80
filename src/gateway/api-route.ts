// One route of the API, declared whole: method, path, who may call it, its body schema and where it
// names the sandbox it acts for. `ApiRouter.route` authenticates, reads and validates the body and
// settles the sandbox the caller may act for before the handler runs, so no handler parses a body
// or checks a scope by hand. The same declarations are the route table the OpenAPI document lists.
import { timingSafeEqual } from "node:crypto";
import type { Context, Hono } from "hono";
import type { z } from "zod";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../policy/json-depth.ts";
import { formatZodIssues } from "../policy/zod-issues.ts";
import { GatewayError } from "./gateway-error.ts";
import { checkCookieSession, sessionCookie } from "./inbox-routes.ts";
import type { InboxSessions } from "./inbox-sessions.ts";
import type { RouteDoc } from "./openapi.ts";
import { type ApiEnv, actingSandbox, actorOf, type Principal } from "./principal.ts";

type Ctx = Context<ApiEnv>;

type SandboxSource = "path" | "query" | "body";

export interface RouteSpec<S extends z.ZodType | undefined, W extends SandboxSource | undefined>
  extends Omit<RouteDoc, "body" | "auth"> {
  auth: Exclude<RouteDoc["auth"], "none">;
  /** Validated before the handler runs; the handler gets the parsed value. */
  body?: S;
  /** The 400's code for a body that is not JSON or fails the schema (else invalid_json, invalid_request). */
  bodyError?: string;
  /**
   * Where the route names the sandbox it acts for: the path's `:name`, `?sandbox=` or the body's
   * `sandbox`. Whatever the source, one rule (`actingSandbox`) decides what the caller gets.
   */
  sandbox?: W;
  /** Fields added to this route's error answers after authentication (a caller reading one field). */
  errorFields?: (error: GatewayError) => Record<string, unknown>;
}

export interface RouteCall<B, W extends SandboxSource | undefined> {
  body: B;
  /**
   * The sandbox this call acts for: a sandbox token's own (naming another is a 403), or what the
   * operator named (undefined when it named none).
   */
  sandbox: W extends "path" ? string : string | undefined;
  principal: Principal;
  /** The name decisions are recorded under. */
  actor: string;
  /** A path parameter the route's path declares. */
  param(name: string): string;
}

type BodyOf<S> = S extends z.ZodType ? z.output<S> : undefined;
type Handler<B, W extends SandboxSource | undefined> = (
  c: Ctx,
  call: RouteCall<B, W>,
) => Promise<Response> | Response;
type AnySpec = RouteSpec<z.ZodType | undefined, SandboxSource | undefined>;

export interface RouterOptions {
  app: Hono<ApiEnv>;
  operatorToken: string;
  sessions: InboxSessions;
  sandboxForToken(token: string): Promise<string | null>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request body as JSON; not JSON, or nested deeper than any request needs: 400. */
async function readJson(c: Ctx, code: string, emptyBody: boolean): Promise<unknown> {
  if (emptyBody && (await c.req.raw.clone().text()).trim() === "") return {};
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

async function readBody(c: Ctx, spec: AnySpec): Promise<unknown> {
  if (!spec.body) return undefined;
  const raw = await readJson(c, spec.bodyError ?? "invalid_json", spec.emptyBody === "allowed");
  const parsed = spec.body.safeParse(raw);
  if (!parsed.success)
    throw new GatewayError(
      400,
      spec.bodyError ?? "invalid_request",
      formatZodIssues(parsed.error.issues, "(body)"),
    );
  return parsed.data;
}

function namedInUrl(c: Ctx, source: "path" | "query" | undefined): string | undefined {
  if (source === "path") return c.req.param("name");
  if (source === "query") return c.req.query("sandbox");
  return undefined;
}

function namedInBody(body: unknown): string | undefined {
  const named = (body as { sandbox?: unknown } | undefined)?.sandbox;
  return typeof named === "string" ? named : undefined;
}

/** `?name=N`: absent or empty is undefined; anything but digits is a 400 naming the parameter. */
export function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new GatewayError(400, "invalid_request", `${name} must be a whole number`);
  return Number(value);
}

export class ApiRouter {
  /** Every route, in registration order: the OpenAPI document's table. */
  readonly routes: RouteDoc[] = [];

  constructor(private readonly opts: RouterOptions) {}

  /** A route anyone may call (health, the OpenAPI document). */
  anonymous(doc: Omit<RouteDoc, "auth" | "body">, handler: (c: Ctx) => Promise<Response> | Response): void {
    this.routes.push({ ...doc, auth: "none" });
    this.opts.app[doc.method](doc.path, handler);
  }

  route<S extends z.ZodType | undefined = undefined, W extends SandboxSource | undefined = undefined>(
    spec: RouteSpec<S, W>,
    handler: Handler<BodyOf<S>, W>,
  ): void {
    const { bodyError: _b, sandbox: _s, errorFields, ...doc } = spec;
    this.routes.push(doc);
    this.opts.app[spec.method](spec.path, async (c) => {
      const principal = await this.authenticate(c, spec.auth);
      c.set("principal", principal);
      try {
        // A sandbox named in the URL is settled before the body is read: no parsing for a refusal.
        const inUrl =
          spec.sandbox === "body" ? undefined : actingSandbox(principal, namedInUrl(c, spec.sandbox));
        const body = await readBody(c, spec);
        const sandbox = spec.sandbox === "body" ? actingSandbox(principal, namedInBody(body)) : inUrl;
        const call: RouteCall<BodyOf<S>, W> = {
          body: body as BodyOf<S>,
          // A path always names one, so `sandbox` is a string there (the type says so).
          sandbox: sandbox as RouteCall<BodyOf<S>, W>["sandbox"],
          principal,
          actor: actorOf(principal),
          param: (name) => {
            const value = c.req.param(name);
            if (value === undefined)
              throw new GatewayError(400, "invalid_request", `missing path parameter ${name}`);
            return value;
          },
        };
        return await handler(c, call);
      } catch (error) {
        if (!errorFields || !(error instanceof GatewayError) || error.status >= 500) throw error;
        return c.json({ error: error.code, detail: error.message, ...errorFields(error) }, error.status);
      }
    });
  }

  private async authenticate(c: Ctx, auth: AnySpec["auth"]): Promise<Principal> {
    const header = c.req.header("authorization") ?? "";
    // A browser with a web inbox session (and no Authorization header) acts as the operator.
    const session = header ? undefined : sessionCookie(c);
    if (session !== undefined) {
      checkCookieSession(c, this.opts.sessions, session);
      if (auth === "operator_token")
        throw new GatewayError(
          403,
          "forbidden",
          "an inbox session cannot do this; it needs the operator token",
        );
      return { kind: "operator", via: "cookie" };
    }
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token)
      throw new GatewayError(401, "unauthorized", "missing bearer token (Authorization: Bearer ...)");
    if (sameSecret(token, this.opts.operatorToken)) return { kind: "operator", via: "token" };
    const sandbox = await this.opts.sandboxForToken(token);
    if (!sandbox) throw new GatewayError(401, "unauthorized", "unknown or revoked token");
    if (auth !== "any")
      throw new GatewayError(403, "forbidden", "a sandbox token cannot do this; it needs the operator token");
    return { kind: "sandbox", sandbox };
  }
}
