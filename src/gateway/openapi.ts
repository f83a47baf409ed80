// OpenAPI 3.1 from the route table and the same zod schemas the handlers validate with.
import { z } from "zod";
import { ErrorSchema } from "../protocol/types.ts";

export interface RouteDoc {
  method: "get" | "post" | "put";
  path: string;
  summary: string;
  /** operator: the operator token or an inbox session; operator_token: the token itself. */
  auth: "none" | "operator" | "operator_token" | "any";
  body?: z.ZodType;
  /** An empty body reads as `{}` (a bare `curl -X POST` carries none): the body is optional. */
  emptyBody?: "allowed";
  query?: Record<string, string>;
  response?: z.ZodType;
  stream?: boolean;
}

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** The error answers a route can give, each with the one error body every handler returns. */
function errorResponses(r: RouteDoc): Record<string, unknown> {
  const body = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
  const out: Record<string, unknown> = {};
  if (r.body || r.query || r.path.includes(":"))
    out["400"] = { description: "the request is malformed or fails validation", content: body };
  if (r.auth !== "none") {
    out["401"] = { description: "no token, or an unknown one", content: body };
    out["403"] = { description: "the token may not act on this resource", content: body };
  }
  if (r.path.includes(":")) out["404"] = { description: "no such resource", content: body };
  if (r.method !== "get")
    out["409"] = { description: "the resource changed meanwhile (stale token or state)", content: body };
  if (r.body) out["413"] = { description: "the body is too large", content: body };
  if (Object.keys(out).length === 0) out["429"] = { description: "too many requests", content: body };
  return out;
}

const AUTH_TEXT: Record<RouteDoc["auth"], string> = {
  none: "none",
  operator: "operator token",
  operator_token: "operator token (not an inbox session)",
  any: "operator or own sandbox token",
};

/** `get /v1/sandboxes/:name/chunks` → `getV1SandboxesNameChunks`: unique per route, URL-safe. */
function operationId(r: RouteDoc): string {
  const words = r.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return r.method + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join("");
}

export function openApi(routes: readonly RouteDoc[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = {
    description: "any other error",
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({
      name,
      in: "query",
      required: false,
      description,
      schema: { type: "string" },
    }));
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[r.method] = {
      operationId: operationId(r),
      summary: r.summary,
      security: r.auth === "none" ? [] : [{ bearer: [] }],
      "x-airlock-auth": AUTH_TEXT[r.auth],
      parameters: [...params, ...query],
      ...(r.body
        ? {
            requestBody: {
              required: r.emptyBody !== "allowed",
              content: { "application/json": { schema: jsonSchema(r.body) } },
            },
          }
        : {}),
      responses: {
        "200": {
          description: "ok",
          content: r.stream
            ? { "text/event-stream": { schema: r.response ? jsonSchema(r.response) : {} } }
            : { "application/json": { schema: r.response ? jsonSchema(r.response) : {} } },
        },
        ...errorResponses(r),
        default: errorResponse,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Airlock gateway",
      version: "1",
      description:
        "The control plane of Airlock: sandboxes, proposed rules (chunks), policy revisions, settings, gate asks and the inbox.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    // Relative: the gateway answers on whatever address `airlock gateway start` bound.
    servers: [{ url: "/", description: "this gateway" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: jsonSchema(ErrorSchema) },
    },
    paths,
  };
}
