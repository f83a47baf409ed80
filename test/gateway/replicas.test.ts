// PostgreSQL replicas: two gateways on one database see each other's events (LISTEN/NOTIFY) and
// serialise their decisions (one head, strictly increasing versions).
import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { GatewayError } from "../../src/gateway/gateway-error.ts";
import { GatewayService } from "../../src/gateway/service.ts";
import { PostgresStore } from "../../src/gateway/store/postgres.ts";
import type { GatewayEvent } from "../../src/protocol/types.ts";
import { addRule, BASE_POLICY, eventually, l4Rule, PG_URL } from "./fixtures.ts";

test("postgres replicas share events and one serialised history", {
  skip: PG_URL ? false : "AIRLOCK_TEST_POSTGRES not set",
}, async () => {
  const schema = `rep_${process.pid}_${Date.now()}`;
  const url = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
  const a = await PostgresStore.open(url);
  const b = await PostgresStore.open(url);
  try {
    const seenByB: GatewayEvent[] = [];
    b.subscribe((e) => seenByB.push(e));
    const sa = new GatewayService(a);
    const sb = new GatewayService(b);
    await sa.register("s", BASE_POLICY);
    await eventually(
      () => seenByB.some((e) => e.type === "policy.revision"),
      "event from replica A at replica B",
    );
    await sb.setSetting("agent_policy_proposals_enabled", true, undefined, "operator");
    const ids = (
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? sa : sb).submit(
            "s",
            { operations: [addRule(`r${i}`, l4Rule(`h${i}.example`))] },
            "sandbox:s",
          ),
        ),
      )
    ).flatMap((r) => r.accepted_chunk_ids);
    await Promise.all(
      ids.map(async (id, i) => {
        const svc = i % 2 ? sa : sb;
        for (let attempt = 0; attempt < 100; attempt++) {
          const c = await svc.getChunk(id);
          try {
            return await svc.approve(id, c.review_token, "operator");
          } catch (e) {
            if (!(e instanceof GatewayError && e.status === 409)) throw e;
          }
        }
      }),
    );
    const versions = (await sb.listRevisions("s")).map((r) => r.version).reverse();
    assert.deepEqual(
      versions,
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
    await eventually(
      () => seenByB.filter((e) => e.type === "chunk.decided").length === 10,
      "all decisions at B",
    );
    const ids2 = seenByB.map((e) => e.id);
    assert.deepEqual(
      ids2,
      [...ids2].sort((x, y) => x - y),
    );
    assert.equal(new Set(ids2).size, ids2.length);
  } finally {
    await a.close();
    await b.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});
