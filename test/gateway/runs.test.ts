// Runs and names: a new run of a sandbox name supersedes what the earlier run left pending. The
// chunk ends rejected by the system with a note, the earlier run's approval can no longer merge
// it, and the new run's policy holds only what the new run was granted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addRule, BASE_POLICY, putRule } from "./fixtures.ts";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
before(async () => {
  h = await startHarness();
  await h.op.setSetting("agent_policy_proposals_enabled", true);
});
after(() => h.dispose());

test("a new run expires the earlier run's pending chunks; they are never merged unseen", async () => {
  const first = await h.op.register("worker", BASE_POLICY);
  const agent = h.op.withToken(first.token);
  const submitted = await agent.submit("worker", {
    intent_summary: "write x.md",
    operations: [addRule("put_x", putRule())],
  });
  const [id] = submitted.accepted_chunk_ids;
  assert.ok(id);
  const pending = await h.op.getChunk(id);
  assert.equal(pending.status, "pending");

  // The earlier run ends; the same name starts again with the same policy file.
  const second = await h.op.register("worker", BASE_POLICY);
  const expired = await h.op.getChunk(id);
  assert.equal(expired.status, "rejected");
  assert.equal(expired.decided_by, "system");
  assert.match(
    expired.rejection_reason ?? "",
    /^expired: a new run of sandbox worker started at .*; the run that proposed this has ended$/,
  );
  assert.deepEqual(await h.op.listChunks({ sandbox: "worker", status: "pending" }), []);

  // The review token shown for the earlier run no longer merges anything.
  await assert.rejects(
    h.op.approve(id, pending.review_token),
    /expired when a new run of sandbox worker started/,
  );
  // Nor its current one: the agent that proposed it is gone.
  await assert.rejects(h.op.approve(id, expired.review_token), /expired when a new run/);
  const head = await h.op.getPolicy("worker");
  assert.equal(head.version, second.revision.version);
  assert.ok(!("put_x" in head.policy.network_policies), "the new run's policy lacks the unseen rule");
  const history = await h.op.history({ sandbox: "worker", chunk: id });
  assert.deepEqual(
    history.map((d) => [d.action, d.actor]),
    [
      ["submit", `sandbox:worker`],
      ["reject", "system"],
    ],
  );
  // The earlier run's token is gone with it.
  await assert.rejects(
    agent.submit("worker", { intent_summary: "again", operations: [addRule("put_y", putRule("/y"))] }),
  );
});

test("a new run leaves other sandboxes' pending chunks alone", async () => {
  const a = await h.op.register("alpha", BASE_POLICY);
  const submitted = await h.op.withToken(a.token).submit("alpha", {
    intent_summary: "write x.md",
    operations: [addRule("put_x", putRule())],
  });
  await h.op.register("beta", BASE_POLICY);
  await h.op.register("beta", BASE_POLICY);
  assert.equal((await h.op.getChunk(submitted.accepted_chunk_ids[0] as string)).status, "pending");
});
