// OpenAPI 3.1 from the route table and the same zod schemas the handlers validate with.
import { z } from "zod";
import { ErrorSchema } from "./types.ts";

export interface RouteDoc {
  method: "get" | "post" | "put";
  path: string;
  summary: string;
  auth: "none" | "operator" | "any";
  body?: z.ZodType;
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

export function openApi(routes: readonly RouteDoc[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = {
    description: "error",
    content: { "application/json": { schema: jsonSchema(ErrorSchema) } },
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
      summary: r.summary,
      security: r.auth === "none" ? [] : [{ bearer: [] }],
      "x-airlock-auth":
        r.auth === "operator"
          ? "operator token"
          : r.auth === "any"
            ? "operator or own sandbox token"
            : "none",
      parameters: [...params, ...query],
      ...(r.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } }
        : {}),
      responses: {
        "200": {
          description: "ok",
          content: r.stream
            ? { "text/event-stream": { schema: r.response ? jsonSchema(r.response) : {} } }
            : { "application/json": { schema: r.response ? jsonSchema(r.response) : {} } },
        },
        default: errorResponse,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Airlock gateway", version: "1" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
