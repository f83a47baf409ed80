// The HTTP API with a real gateway on loopback: auth scopes, errors, OpenAPI, SSE resume.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { GatewayRequestError } from "../../src/protocol/client.ts";
import type { GatewayEvent } from "../../src/protocol/types.ts";
import { addRule, BASE_POLICY, eventually, l4Rule, putRule } from "./fixtures.ts";
import { startHarness } from "./harness.ts";

async function status(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
    return [200, "ok"];
  } catch (e) {
    assert.ok(e instanceof GatewayRequestError, String(e));
    return [e.status, e.code];
  }
}

test("auth: operator token file 0600; a sandbox token submits and reads its own, decides nothing", async () => {
  const h = await startHarness();
  try {
    assert.equal(statSync(join(h.home, "operator.token")).mode & 0o777, 0o600);
    assert.match(h.gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const a = await h.op.register("a", BASE_POLICY);
    await h.op.register("b", BASE_POLICY);
    await h.op.setSetting("agent_policy_proposals_enabled", true);
    const sa = h.op.withToken(a.token);
    const sub = await sa.submit("a", { operations: [addRule("put_x", putRule())] });
    const id = sub.accepted_chunk_ids[0]!;
    const chunk = await sa.getChunk(id);
    assert.equal((await sa.getPolicy("a")).version, 1);
    assert.deepEqual(await status(sa.approve(id, chunk.review_token)), [403, "forbidden"]);
    assert.deepEqual(await status(sa.reject(id, "no")), [403, "forbidden"]);
    assert.deepEqual(await status(sa.approveAll("a")), [403, "forbidden"]);
    assert.deepEqual(await status(sa.setPolicy("a", BASE_POLICY)), [403, "forbidden"]);
    assert.deepEqual(await status(sa.setSetting("approval_mode", "auto")), [403, "forbidden"]);
    assert.deepEqual(await status(sa.getPolicy("b")), [403, "forbidden"]);
    assert.deepEqual(await status(sa.submit("b", { operations: [addRule("x", l4Rule("x.example"))] })), [
      403,
      "forbidden",
    ]);
    assert.deepEqual(await status(sa.listSandboxes()), [403, "forbidden"]);
    assert.deepEqual(await status(h.op.withToken("alk_sb_a.forged").getPolicy("a")), [401, "unauthorized"]);
    assert.deepEqual(await status(h.op.withToken("").health()), [200, "ok"]);
    assert.deepEqual(await status(h.op.withToken("nope").listChunks()), [401, "unauthorized"]);
    // sandbox b's token cannot see a's chunk
    const b = await h.op.register("b2", BASE_POLICY);
    assert.deepEqual(await status(h.op.withToken(b.token).getChunk(id)), [404, "unknown_chunk"]);
    // the operator decides
    const approved = await h.op.approve(id, chunk.review_token);
    assert.equal(approved.revision.version, 2);
    assert.deepEqual(await status(h.op.approve(id, chunk.review_token)), [409, "conflict"]);
  } finally {
    await h.dispose();
  }
});

test("errors are JSON {error, detail}; OpenAPI lists the routes with schemas", async () => {
  const h = await startHarness();
  try {
    const res = await fetch(`${h.gw.url}/v1/chunks/nope`, {
      headers: { authorization: `Bearer ${h.gw.operatorToken}` },
    });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: string; detail: string };
    assert.equal(body.error, "unknown_chunk");
    assert.match(body.detail, /airlock rule get/);
    const bad = await fetch(`${h.gw.url}/v1/sandboxes`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.gw.operatorToken}`, "content-type": "application/json" },
      body: "{not json",
    });
    assert.deepEqual(await bad.json(), { error: "invalid_json", detail: "request body must be JSON" });
    const invalid = await status(
      h.op.register("x", { version: 1, network_policies: { r: { endpoints: [{ host: "a.b", port: 0 }] } } }),
    );
    assert.deepEqual(invalid, [400, "invalid_policy"]);
    const doc = (await (await fetch(`${h.gw.url}/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/v1/chunks/{id}/approve"]?.post?.requestBody);
    assert.ok(doc.paths["/v1/events"]?.get);
    assert.ok(doc.paths["/v1/sandboxes/{name}/chunks"]?.post);
  } finally {
    await h.dispose();
  }
});

test("SSE: live events, then Last-Event-ID resume replays exactly what was missed", async () => {
  const h = await startHarness();
  try {
    const reg = await h.op.register("s", BASE_POLICY);
    await h.op.setSetting("agent_policy_proposals_enabled", true, "s");
    const seen: GatewayEvent[] = [];
    const ac = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const reader = (async () => {
      for await (const e of h.op.watch({ signal: ac.signal, onOpen: opened })) {
        seen.push(e);
        if (e.type === "chunk.created") break;
      }
    })();
    await open;
    const sa = h.op.withToken(reg.token);
    await sa.submit("s", { operations: [addRule("a", l4Rule("a.example"))] });
    await reader;
    ac.abort();
    const lastId = seen.at(-1)!.id;
    // Missed while disconnected:
    const sub = await sa.submit("s", { operations: [addRule("b", l4Rule("b.example"))] });
    const c = await h.op.getChunk(sub.accepted_chunk_ids[0]!);
    await h.op.approve(c.id, c.review_token);
    const replay: GatewayEvent[] = [];
    const ac2 = new AbortController();
    for await (const e of sa.watch({ after: lastId, signal: ac2.signal })) {
      replay.push(e);
      if (e.type === "chunk.decided") break;
    }
    ac2.abort();
    assert.deepEqual(
      replay.map((e) => e.type),
      ["chunk.created", "policy.revision", "chunk.decided"],
    );
    assert.ok(replay.every((e) => e.id > lastId && e.sandbox === "s"));
  } finally {
    await h.dispose();
  }
});

test("a timed grant is revoked by the running gateway at expiry, and the revision pushed", async () => {
  const h = await startHarness();
  try {
    const reg = await h.op.register("t", BASE_POLICY);
    const sub = await h.op
      .withToken(reg.token)
      .submit("t", { source: "mechanistic", operations: [addRule("a", l4Rule("a.example"))] });
    const id = sub.accepted_chunk_ids[0]!;
    const { revision } = await h.op.approve(id, (await h.op.getChunk(id)).review_token, 1);
    assert.ok(revision.policy.network_policies.a);
    const expired = await eventually(
      async () => {
        const c = await h.op.getChunk(id);
        return c.status === "rejected" ? c : null;
      },
      "expiry",
      10_000,
    );
    assert.match(expired.rejection_reason ?? "", /timed grant expired/);
    const head = await h.op.getPolicy("t");
    assert.equal(head.version, revision.version + 1);
    assert.equal(head.policy.network_policies.a, undefined);
    assert.equal(head.provenance.action, "expire");
  } finally {
    await h.dispose();
  }
});
