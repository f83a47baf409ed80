// One contract suite, run against every store (SQLite always; PostgreSQL with AIRLOCK_TEST_POSTGRES).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GatewayError } from "../../src/gateway/gateway-error.ts";
import { GatewayService } from "../../src/gateway/service.ts";
import { policyHash } from "../../src/policy/canonical.ts";
import type { GatewayEvent } from "../../src/protocol/types.ts";
import { addRule, BASE_POLICY, l4Rule, putRule, storeCases } from "./fixtures.ts";

async function rejects(p: Promise<unknown>, code: string, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.code, code, e.message);
    if (detail) assert.match(e.message, detail);
    return true;
  });
}

for (const sc of storeCases()) {
  describe(`store contract: ${sc.name}`, { skip: sc.skip }, () => {
    async function setup() {
      const h = await sc.fresh();
      const svc = new GatewayService(h.store);
      const events: GatewayEvent[] = [];
      h.store.subscribe((e) => events.push(e));
      const reg = await svc.register("sb1", BASE_POLICY);
      await svc.setSetting("agent_policy_proposals_enabled", true, "sb1", "operator");
      return {
        ...h,
        svc,
        events,
        reg,
        done: async () => {
          await h.store.close();
          await h.dispose();
        },
      };
    }

    test("register makes revision 1 with the policy hash; tokens are scoped; migrations are idempotent", async () => {
      const t = await setup();
      try {
        assert.equal(t.reg.revision.version, 1);
        assert.equal(t.reg.revision.hash, policyHash(t.reg.revision.policy));
        assert.equal(await t.svc.sandboxForToken(t.reg.token), "sb1");
        assert.equal(await t.svc.sandboxForToken(`${t.reg.token}x`), null);
        const again = await t.svc.register("sb1", BASE_POLICY);
        assert.equal(again.revision.version, 1, "same policy: no new revision");
        assert.equal(await t.svc.sandboxForToken(t.reg.token), null, "re-registering rotates the token");
        const reopened = await t.reopen();
        assert.equal((await new GatewayService(reopened).getSandbox("sb1")).head_version, 1);
        await reopened.close();
      } finally {
        await t.done();
      }
    });

    test("agent chunks: flag enforced, never dedup, ids exist, supersede, covered", async () => {
      const t = await setup();
      try {
        await t.svc.setSetting("agent_policy_proposals_enabled", false, "sb1", "operator");
        await rejects(
          t.svc.submit("sb1", { operations: [addRule("put_x", putRule())] }, "sandbox:sb1"),
          "feature_disabled",
        );
        await t.svc.setSetting("agent_policy_proposals_enabled", true, "sb1", "operator");
        const a = await t.svc.submit("sb1", { operations: [addRule("put_x", putRule())] }, "sandbox:sb1");
        const b = await t.svc.submit("sb1", { operations: [addRule("put_x", putRule())] }, "sandbox:sb1");
        assert.equal(a.accepted_chunks, 1);
        assert.notEqual(a.accepted_chunk_ids[0], b.accepted_chunk_ids[0]);
        for (const id of [...a.accepted_chunk_ids, ...b.accepted_chunk_ids])
          assert.equal((await t.svc.getChunk(id)).id, id);
        const first = await t.svc.getChunk(a.accepted_chunk_ids[0]!);
        assert.equal(first.status, "rejected");
        assert.equal(first.rejection_reason, `superseded by chunk ${b.accepted_chunk_ids[0]}`);
        const covered = await t.svc.submit(
          "sb1",
          { operations: [addRule("pip2", l4Rule("pypi.org", 443, "/usr/bin/pip"))] },
          "sandbox:sb1",
        );
        assert.equal(covered.accepted_chunks, 0);
        assert.deepEqual(covered.rejection_reasons, ["operations[0]: covered by active policy revision 1"]);
        const bad = await t.svc.submit(
          "sb1",
          { operations: [{ removeRule: { ruleName: "pypi" } }, { addRule: { ruleName: "x" } }] },
          "sandbox:sb1",
        );
        assert.equal(bad.rejected_chunks, 2);
        await rejects(t.svc.submit("sb1", { operations: [] }, "sandbox:sb1"), "invalid_proposal");
        const pending = await t.svc.listChunks({ sandbox: "sb1", status: "pending" });
        assert.deepEqual(
          pending.map((c) => c.id),
          b.accepted_chunk_ids,
        );
        assert.equal(pending[0]!.layer, "l7_rest");
        assert.ok(t.events.some((e) => e.type === "chunk.created" && e.data.id === b.accepted_chunk_ids[0]));
      } finally {
        await t.done();
      }
    });

    test("mechanistic chunks dedup on host|port|binary and raise hit_count", async () => {
      const t = await setup();
      try {
        await t.svc.setSetting("agent_policy_proposals_enabled", false, "sb1", "operator");
        const m = (n: number) =>
          t.svc.submit(
            "sb1",
            {
              source: "mechanistic",
              hit_count: n,
              operations: [addRule("allow_blocked_example_443", l4Rule("blocked.example"))],
            },
            "sandbox:sb1",
          );
        const one = await m(2);
        const two = await m(3);
        assert.deepEqual(one.accepted_chunk_ids, two.accepted_chunk_ids);
        const chunk = await t.svc.getChunk(one.accepted_chunk_ids[0]!);
        assert.equal(chunk.hit_count, 5);
        assert.equal(chunk.source, "mechanistic");
        assert.equal((await t.svc.listChunks({ sandbox: "sb1" })).length, 1);
      } finally {
        await t.done();
      }
    });

    test("approve: review token checked, revision merged, reject verbatim, revoke, undo reverts exactly", async () => {
      const t = await setup();
      try {
        const [id] = (await t.svc.submit("sb1", { operations: [addRule("put_x", putRule())] }, "sandbox:sb1"))
          .accepted_chunk_ids;
        const chunk = await t.svc.getChunk(id!);
        await rejects(
          t.svc.approve(id!, "nope", "operator"),
          "stale_review_token",
          /refetch with `airlock rule get`/,
        );
        // The head moves under the reviewer: the token they saw is stale.
        const moved = structuredClone(BASE_POLICY) as typeof BASE_POLICY & {
          network_policies: Record<string, unknown>;
        };
        moved.network_policies.extra = l4Rule("example.org");
        await t.svc.setPolicy("sb1", moved, "operator");
        await rejects(t.svc.approve(id!, chunk.review_token, "operator"), "stale_review_token");
        const fresh = await t.svc.getChunk(id!);
        const before = await t.svc.getRevision("sb1");
        const { revision, chunk: approved } = await t.svc.approve(id!, fresh.review_token, "operator");
        assert.equal(revision.version, before.version + 1);
        assert.equal(revision.hash, policyHash(revision.policy));
        assert.equal(approved.status, "approved");
        assert.equal(approved.candidate_policy_hash, revision.hash);
        assert.ok(revision.policy.network_policies.put_x);
        assert.deepEqual(revision.provenance, { by: "operator", action: "approve", chunk_id: id });
        // undo: back to exactly the previous policy
        const undone = await t.svc.undo(id!, "operator");
        assert.equal(undone.chunk.status, "pending");
        assert.equal(undone.revision?.hash, before.hash);
        // approve again then revoke with a reason stored verbatim
        const again = await t.svc.getChunk(id!);
        await t.svc.approve(id!, again.review_token, "operator");
        const reason = "scope to docs/ paths only, not the whole repo ✓";
        const revoked = await t.svc.reject(id!, reason, "too_broad", "operator");
        assert.equal(revoked.chunk.rejection_reason, reason);
        assert.equal(revoked.chunk.rejection_hint, "too_broad");
        assert.equal(revoked.revision?.hash, before.hash);
        const versions = (await t.svc.listRevisions("sb1")).map((r) => r.version);
        assert.deepEqual(versions, [6, 5, 4, 3, 2, 1]);
        const actions = (await t.svc.history({ chunk_id: id })).map((d) => d.action);
        assert.deepEqual(actions, ["submit", "approve", "undo", "approve", "revoke"]);
        await rejects(
          t.svc.getChunk("00000000-0000-4000-8000-000000000000"),
          "unknown_chunk",
          /airlock rule get/,
        );
      } finally {
        await t.done();
      }
    });

    test("edit re-validates; approve-all skips security-flagged unless told; existing rule gets a binary", async () => {
      const t = await setup();
      try {
        const sub = await t.svc.submit(
          "sb1",
          {
            operations: [
              addRule("wild", l4Rule("*.example.com")),
              addRule("plain", l4Rule("example.net")),
              addRule("pypi", l4Rule("pypi.org", 443, "/usr/bin/python3")),
            ],
          },
          "sandbox:sb1",
        );
        assert.equal(sub.accepted_chunks, 3);
        const [wild, plain, pypi] = sub.accepted_chunk_ids;
        assert.ok((await t.svc.getChunk(wild!)).security_notes.length > 0);
        const beforeEdit = await t.svc.getChunk(plain!);
        const edited = await t.svc.edit(plain!, undefined, l4Rule("example.net", 8443), "operator");
        assert.notEqual(edited.review_token, beforeEdit.review_token);
        assert.equal(edited.proposed_rule.endpoints[0]!.port, 8443);
        const all = await t.svc.approveAll("sb1", false, "operator");
        assert.deepEqual(all.approved.sort(), [plain!, pypi!].sort());
        assert.deepEqual(
          all.skipped.map((s) => s.id),
          [wild],
        );
        const head = await t.svc.getRevision("sb1");
        assert.deepEqual(
          head.policy.network_policies.pypi!.binaries.map((b) => b.path),
          ["/usr/bin/pip", "/usr/bin/python3"],
        );
        assert.deepEqual((await t.svc.getChunk(pypi!)).applied_operations, [
          { addBinary: { ruleName: "pypi", path: "/usr/bin/python3" } },
        ]);
        const flagged = await t.svc.approveAll("sb1", true, "operator");
        assert.deepEqual(flagged.approved, [wild]);
      } finally {
        await t.done();
      }
    });

    test("revision status: loaded supersedes older pending; events carry it", async () => {
      const t = await setup();
      try {
        const p1 = structuredClone(BASE_POLICY) as { version: 1; network_policies: Record<string, unknown> };
        p1.network_policies.a = l4Rule("a.example");
        const r2 = await t.svc.setPolicy("sb1", p1, "operator");
        p1.network_policies.b = l4Rule("b.example");
        const r3 = await t.svc.setPolicy("sb1", p1, "operator");
        await t.svc.reportRevision("sb1", r3.version, "loaded", null);
        const revs = await t.svc.listRevisions("sb1");
        assert.deepEqual(
          revs.map((r) => [r.version, r.status]),
          [
            [3, "loaded"],
            [2, "superseded"],
            [1, "superseded"],
          ],
        );
        assert.equal(r2.version, 2);
        assert.equal((await t.svc.getSandbox("sb1")).loaded_version, 3);
        assert.ok(t.events.some((e) => e.type === "policy.loaded" && e.data.version === 3));
        await rejects(
          t.svc.setPolicy("sb1", { version: 1, network_policies: { x: { endpoints: [] } } }, "operator"),
          "invalid_policy",
        );
        await rejects(t.svc.setPolicy("sb1", p1, "operator", "stale"), "conflict");
      } finally {
        await t.done();
      }
    });

    test("settings: defaults, global overrides sandbox, events; denies grouped and counted", async () => {
      const t = await setup();
      try {
        assert.deepEqual((await t.svc.settings()).effective, {
          agent_policy_proposals_enabled: false,
          approval_mode: "manual",
          max_pending_asks: 20,
          max_pending_proposals: 50,
        });
        assert.equal((await t.svc.settings("sb1")).effective.agent_policy_proposals_enabled, true);
        await t.svc.setSetting("agent_policy_proposals_enabled", "false", undefined, "operator");
        assert.equal((await t.svc.settings("sb1")).effective.agent_policy_proposals_enabled, false);
        await rejects(
          t.svc.setSetting("approval_mode", "sometimes", undefined, "operator"),
          "invalid_setting",
        );
        await rejects(t.svc.setSetting("nope", 1, undefined, "operator"), "unknown_setting");
        assert.ok(t.events.some((e) => e.type === "settings.changed" && e.sandbox === null));
        const d = {
          binary: "/usr/bin/curl",
          host: "api.github.com",
          port: 443,
          layer: "l7" as const,
          method: "PUT",
          path: "/x",
          count: 1,
        };
        await t.svc.reportDenies("sb1", [d, d, { ...d, path: "/y", count: 3 }]);
        const denies = await t.svc.listDenies("sb1", 10);
        assert.equal(denies.length, 2);
        assert.deepEqual(denies.map((x) => x.count).sort(), [2, 3]);
        assert.equal(denies[0]!.binary, "/usr/bin/curl");
      } finally {
        await t.done();
      }
    });

    test("events are delivered once, in id order, and replayable after an id", async () => {
      const t = await setup();
      try {
        await t.svc.submit(
          "sb1",
          { operations: [addRule("a", l4Rule("a.example")), addRule("b", l4Rule("b.example"))] },
          "sandbox:sb1",
        );
        const ids = t.events.map((e) => e.id);
        assert.deepEqual(
          ids,
          [...ids].sort((x, y) => x - y),
        );
        assert.equal(new Set(ids).size, ids.length);
        const replay = await t.store.read((r) => r.eventsAfter(ids[0]!));
        assert.deepEqual(
          replay.map((e) => e.id),
          ids.slice(1),
        );
        assert.equal(await t.store.write((tx) => tx.pruneEvents(2)), ids.length - 2);
        assert.deepEqual(
          (await t.store.read((r) => r.eventsAfter(0))).map((e) => e.id),
          ids.slice(-2),
        );
      } finally {
        await t.done();
      }
    });

    test("timed grants: expiry removes exactly the grant, also after a restart", async () => {
      const h = await sc.fresh();
      let now = new Date("2026-01-01T00:00:00Z");
      const svc = new GatewayService(h.store, () => now);
      try {
        await svc.register("t", BASE_POLICY);
        const sub = await svc.submit(
          "t",
          { source: "mechanistic", operations: [addRule("a", l4Rule("a.example"))] },
          "sandbox:t",
        );
        const id = sub.accepted_chunk_ids[0]!;
        const before = await svc.getRevision("t");
        const { chunk } = await svc.approve(id, (await svc.getChunk(id)).review_token, "operator", 1800);
        assert.equal(chunk.expires_at, "2026-01-01T00:30:00.000Z");
        assert.equal(
          await svc.expireDue(),
          "2026-01-01T00:30:00.000Z",
          "not yet: the next expiry is reported",
        );
        await h.store.close();
        const reopened = await h.reopen();
        now = new Date("2026-01-01T00:31:00Z");
        const svc2 = new GatewayService(reopened, () => now);
        assert.equal(await svc2.expireDue(), null);
        const expired = await svc2.getChunk(id);
        assert.equal(expired.status, "rejected");
        assert.match(expired.rejection_reason ?? "", /timed grant expired/);
        const head = await svc2.getRevision("t");
        assert.equal(head.hash, before.hash);
        assert.equal(head.provenance.action, "expire");
        assert.deepEqual(
          (await svc2.history({ chunk_id: id })).map((d) => d.action),
          ["submit", "approve", "expire"],
        );
        await reopened.close();
      } finally {
        await h.dispose();
      }
    });

    test("100 parallel submissions and approvals: nothing lost or duplicated, versions strictly increasing", async () => {
      const t = await setup();
      try {
        // Exactly as many as the bound on pending proposals: all fit, the one after does not.
        await t.svc.setSetting("max_pending_proposals", 100, "sb1", "operator");
        const subs = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            t.svc.submit("sb1", { operations: [addRule(`r${i}`, l4Rule(`h${i}.example`))] }, "sandbox:sb1"),
          ),
        );
        const ids = subs.flatMap((s) => s.accepted_chunk_ids);
        assert.equal(ids.length, 100);
        assert.equal(new Set(ids).size, 100);
        await rejects(
          t.svc.submit("sb1", { operations: [addRule("r100", l4Rule("h100.example"))] }, "sandbox:sb1"),
          "too_many_pending_proposals",
        );
        const results = await Promise.allSettled(
          ids.map(async (id) => {
            for (let attempt = 0; attempt < 200; attempt++) {
              const c = await t.svc.getChunk(id);
              try {
                return await t.svc.approve(id, c.review_token, "operator");
              } catch (e) {
                if (e instanceof GatewayError && (e.code === "stale_review_token" || e.code === "conflict"))
                  continue;
                throw e;
              }
            }
            throw new Error("approval kept racing");
          }),
        );
        assert.deepEqual(
          results.filter((r) => r.status === "rejected"),
          [],
        );
        const all = await t.svc.listChunks({ sandbox: "sb1" });
        assert.equal(all.length, 100);
        assert.ok(all.every((c) => c.status === "approved"));
        const revs = (await t.svc.listRevisions("sb1")).reverse();
        assert.deepEqual(
          revs.map((r) => r.version),
          Array.from({ length: 101 }, (_, i) => i + 1),
        );
        const head = revs.at(-1)!;
        assert.equal(Object.keys(head.policy.network_policies).length, 102);
        assert.equal(head.hash, policyHash(head.policy));
        assert.equal(new Set(all.map((c) => c.revision)).size, 100);
      } finally {
        await t.done();
      }
    });

    const DIGEST = `sha256:${"a".repeat(64)}`;
    const askBody = (extra: Record<string, unknown> = {}) => ({
      tool: "shell",
      input_digest: DIGEST,
      summary: "TOKEN=s3cr3t curl -H 'Authorization: Bearer abc' https://api.example.com/x?key=1",
      tier: 3,
      step: "default",
      rule: null,
      reason: "no rule decides this call",
      session: "sess-1",
      ...extra,
    });

    test("asks: create (redacted), list, allow, deny, already decided, events in order", async () => {
      const t = await setup();
      try {
        const a = await t.svc.asks.create(askBody(), null);
        assert.match(a.id, /^[0-9a-f-]{36}$/);
        assert.equal(a.status, "pending");
        assert.equal(a.sandbox, null);
        assert.equal(a.session, "sess-1");
        assert.doesNotMatch(a.summary, /s3cr3t|abc|key=1/);
        assert.match(a.summary, /curl/);
        const b = await t.svc.asks.create(askBody({ sandbox: "sb1" }), "sb1");
        assert.deepEqual(
          (await t.svc.listAsks({ status: "pending" })).map((x) => x.id),
          [a.id, b.id],
        );
        assert.deepEqual(
          (await t.svc.listAsks({ sandbox: "sb1" })).map((x) => x.id),
          [b.id],
        );
        const allowed = await t.svc.asks.allow(a.id, "operator", "fine once");
        assert.equal(allowed.status, "allowed");
        assert.equal(allowed.decided_by, "operator");
        assert.equal(allowed.decision_reason, "fine once");
        const denied = await t.svc.asks.deny(b.id, "operator", null);
        assert.equal(denied.status, "denied");
        await rejects(
          t.svc.asks.deny(a.id, "operator", null),
          "already_decided",
          /already allowed by operator/,
        );
        await rejects(t.svc.asks.allow("nope", "operator", null), "unknown_ask", /airlock gate asks/);
        assert.deepEqual(await t.svc.listAsks({ status: "pending" }), []);
        assert.equal((await t.svc.asks.getAsk(b.id)).status, "denied");
        const askEvents = t.events.filter((e) => e.type.startsWith("ask."));
        assert.deepEqual(
          askEvents.map((e) => [e.type, e.data.id, e.data.status]),
          [
            ["ask.created", a.id, "pending"],
            ["ask.created", b.id, "pending"],
            ["ask.decided", a.id, "allowed"],
            ["ask.decided", b.id, "denied"],
          ],
        );
        assert.equal(askEvents[1]?.sandbox, "sb1");
        const reopened = await t.reopen();
        const again = await new GatewayService(reopened).asks.getAsk(a.id);
        assert.deepEqual(again, allowed);
        await reopened.close();
      } finally {
        await t.done();
      }
    });

    test("asks: expiry marks pending asks expired; a late decision is refused", async () => {
      const h = await sc.fresh();
      let now = new Date("2026-01-01T00:00:00Z");
      const svc = new GatewayService(h.store, () => now);
      const events: GatewayEvent[] = [];
      h.store.subscribe((e) => events.push(e));
      try {
        const a = await svc.asks.create(askBody({ expires_in_seconds: 60 }), null);
        const b = await svc.asks.create(askBody({ expires_in_seconds: 120 }), null);
        assert.equal(a.expires_at, "2026-01-01T00:01:00.000Z");
        assert.equal(await svc.asks.expireDue(), a.expires_at);
        now = new Date("2026-01-01T00:01:30Z");
        assert.equal((await svc.asks.getAsk(a.id)).status, "expired", "reads as expired before the sweep");
        assert.equal(await svc.asks.expireDue(), b.expires_at);
        assert.equal((await svc.asks.getAsk(a.id)).status, "expired");
        assert.deepEqual(
          (await svc.listAsks({ status: "pending" })).map((x) => x.id),
          [b.id],
        );
        now = new Date("2026-01-01T00:03:00Z");
        assert.deepEqual(
          (await svc.listAsks({ status: "expired" })).map((x) => x.id),
          [a.id, b.id],
        );
        await rejects(svc.asks.allow(b.id, "operator", null), "already_decided", /already expired by system/);
        assert.equal(await svc.asks.expireDue(), null);
        assert.deepEqual(
          events.filter((e) => e.type === "ask.decided").map((e) => [e.data.id, e.data.status]),
          [
            [a.id, "expired"],
            [b.id, "expired"],
          ],
        );
      } finally {
        await h.store.close();
        await h.dispose();
      }
    });

    test("asks: /wait wakes on the decision, returns at its timeout or when aborted", async () => {
      const t = await setup();
      try {
        const a = await t.svc.asks.create(askBody(), null);
        const waiting = t.svc.asks.waitAsk(a.id, 30_000);
        await t.svc.asks.deny(a.id, "operator", "not on main");
        const woke = await waiting;
        assert.equal(woke.status, "denied");
        assert.equal(woke.decision_reason, "not on main");
        const b = await t.svc.asks.create(askBody(), null);
        assert.equal((await t.svc.asks.waitAsk(b.id, 50)).status, "pending");
        assert.equal((await t.svc.asks.waitAsk(a.id, 30_000)).status, "denied", "decided: returns at once");
        const aborted = new AbortController();
        const w = t.svc.asks.waitAsk(b.id, 30_000, aborted.signal);
        aborted.abort();
        assert.equal((await w).status, "pending");
        await rejects(t.svc.asks.waitAsk("nope", 10), "unknown_ask");
        await rejects(t.svc.asks.create({ ...askBody(), input_digest: "md5:x" }, null), "invalid_request");
      } finally {
        await t.done();
      }
    });
  });
}
