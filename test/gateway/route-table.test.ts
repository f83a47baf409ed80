// The route table against a real gateway on loopback: every route under /v1 is in the OpenAPI
// document and every documented operation is served, and the one scoping rule holds on every
// route that names a sandbox (path `:name`, `?sandbox=`, the body): a sandbox token naming another
// is refused, and nothing of the other sandbox changed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildApi } from "../../src/gateway/api.ts";
import { BASE_POLICY } from "./fixtures.ts";
import { startHarness } from "./harness.ts";

interface Operation {
  method: string;
  path: string;
  auth: string;
  parameters: { name: string; in: string }[];
  requestBody?: { required: boolean };
}

function operations(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method,
      path,
      auth: op["x-airlock-auth"] as string,
      parameters: op.parameters as Operation["parameters"],
      ...(op.requestBody ? { requestBody: op.requestBody as Operation["requestBody"] } : {}),
    })),
  );
}

/** A concrete URL for a documented path: `{name}` → the given sandbox, other parameters `x`. */
function urlFor(base: string, path: string, name: string, query: Record<string, string> = {}): string {
  const url = new URL(base + path.replace("{name}", name).replace(/\{\w+\}/g, "x"));
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.toString();
}

async function call(url: string, method: string, token: string): Promise<{ status: number; error?: string }> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 20_000);
  try {
    const res = await fetch(url, {
      method: method.toUpperCase(),
      headers: { authorization: `Bearer ${token}` },
      signal: stop.signal,
    });
    const json = (res.headers.get("content-type") ?? "").includes("application/json");
    const body = json ? ((await res.json()) as { error?: string }) : undefined;
    return { status: res.status, error: body?.error };
  } finally {
    clearTimeout(timer);
    stop.abort(); // an event stream stays open: its status and headers are all this needs
  }
}

test("every route under /v1 is documented, and every documented operation is served", async () => {
  const h = await startHarness();
  try {
    const doc = await (await fetch(`${h.gw.url}/v1/openapi.json`)).json();
    const documented = new Set(operations(doc).map((o) => `${o.method} ${o.path}`));
    // The gateway builds its app this way; this one over the same service lists what it serves.
    const { app } = buildApi({ service: h.gw.service, operatorToken: h.gw.operatorToken });
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    for (const route of served)
      if (route.split(" ")[1]?.startsWith("/v1/"))
        assert.ok(documented.has(route), `${route} is served but not in the OpenAPI document`);
    for (const route of documented) assert.ok(served.has(route), `${route} is documented but not served`);
    const pages = [...served].filter((r) => !documented.has(r));
    assert.deepEqual(pages, ["get /inbox", "get /inbox/login"], "only the inbox pages are outside the API");

    // And the real listener answers each documented operation from its route, not "no route".
    for (const op of operations(doc)) {
      const answer = await call(urlFor(h.gw.url, op.path, "x"), op.method, h.gw.operatorToken);
      assert.notEqual(answer.error, "not_found", `${op.method} ${op.path} → ${JSON.stringify(answer)}`);
    }
  } finally {
    await h.dispose();
  }
});

test("a documented request body is required exactly where the route refuses an empty one", async () => {
  const h = await startHarness();
  try {
    const doc = await (await fetch(`${h.gw.url}/v1/openapi.json`)).json();
    const withBody = operations(doc).filter((o) => o.requestBody);
    assert.ok(withBody.length >= 15, `only ${withBody.length} operations take a body`);
    const optional: string[] = [];
    for (const op of withBody) {
      const res = await fetch(urlFor(h.gw.url, op.path, "x"), {
        method: op.method.toUpperCase(),
        headers: { authorization: `Bearer ${h.gw.operatorToken}` },
        signal: AbortSignal.timeout(20_000),
      });
      const answer = (await res.json()) as { detail?: string };
      const refused = res.status === 400 && answer.detail === "request body must be JSON";
      const what = `${op.method} ${op.path} without a body → ${res.status} ${JSON.stringify(answer)}`;
      assert.equal(op.requestBody?.required, refused, what);
      if (!refused) optional.push(`${op.method} ${op.path}`);
    }
    // The routes a bare `curl -X POST` may call (the rest need JSON): so the check above has both kinds.
    assert.deepEqual(optional, ["post /v1/gate/asks/{id}/allow", "post /v1/gate/asks/{id}/deny"]);
  } finally {
    await h.dispose();
  }
});

test("a sandbox token naming another sandbox is refused on every route that names one", async () => {
  const h = await startHarness();
  try {
    const a = await h.op.register("a", BASE_POLICY);
    await h.op.register("b", BASE_POLICY);
    await h.op.setSetting("agent_policy_proposals_enabled", true);
    const before = {
      chunks: await h.op.listChunks({ sandbox: "b" }),
      revisions: await h.op.listRevisions("b"),
      denials: await h.op.denials("b"),
      settings: await h.op.settings("b"),
    };
    const doc = await (await fetch(`${h.gw.url}/v1/openapi.json`)).json();
    const naming = operations(doc).filter((o) =>
      o.parameters.some(
        (p) => (p.in === "path" && p.name === "name") || (p.in === "query" && p.name === "sandbox"),
      ),
    );
    assert.ok(naming.length >= 12, `only ${naming.length} routes name a sandbox`);
    for (const op of naming) {
      const byQuery = op.parameters.some((p) => p.in === "query" && p.name === "sandbox");
      const other = urlFor(h.gw.url, op.path, "b", byQuery ? { sandbox: "b" } : {});
      assert.deepEqual(
        await call(other, op.method, a.token),
        { status: 403, error: "forbidden" },
        `${op.method} ${op.path} for b with a's token`,
      );
      // Its own name passes the scope on every route a sandbox token may call.
      if (op.auth !== "operator or own sandbox token") continue;
      const own = await call(
        urlFor(h.gw.url, op.path, "a", byQuery ? { sandbox: "a" } : {}),
        op.method,
        a.token,
      );
      assert.notEqual(
        own.status,
        403,
        `${op.method} ${op.path} for a with a's token → ${JSON.stringify(own)}`,
      );
    }
    // Named in the body: the same rule, and the decide route still answers a decision to fail on.
    const decide = await fetch(`${h.gw.url}/v1/gate/decide`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "shell", command: "make deploy", sandbox: "b" }),
    });
    assert.equal(decide.status, 403);
    assert.deepEqual(
      { ...((await decide.json()) as Record<string, unknown>), detail: undefined, reason: undefined },
      { error: "forbidden", decision: "ask", detail: undefined, reason: undefined },
    );
    assert.deepEqual(await h.op.listAsks({ sandbox: "b" }), [], "no ask was stored for b");
    assert.deepEqual(
      {
        chunks: await h.op.listChunks({ sandbox: "b" }),
        revisions: await h.op.listRevisions("b"),
        denials: await h.op.denials("b"),
        settings: await h.op.settings("b"),
      },
      before,
      "nothing of b changed",
    );
  } finally {
    await h.dispose();
  }
});
