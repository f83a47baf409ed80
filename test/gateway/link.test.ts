// The supervisor's gateway link and the policy.local proposal handlers against a real gateway
// in-process (no sandbox): push-driven reload, /wait outcomes, flag push, gateway loss and return.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy, decideRequest } from "../../src/policy/engine.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { GatewayLink } from "../../src/supervisor/gateway-link.ts";
import {
  getProposal,
  handleProposalAction,
  submitProposal,
  waitProposal,
  waitTimeoutSeconds,
} from "../../src/supervisor/proposals.ts";
import { addRule, BASE_POLICY, eventually, putRule } from "./fixtures.ts";
import { type Harness, startHarness } from "./harness.ts";

function supervisor(h: Harness, name: string) {
  const loaded: number[] = [];
  let enforced = compilePolicy(BASE_POLICY as unknown as Policy);
  const link = new GatewayLink({
    gateway: h.gw.url,
    operatorToken: h.gw.operatorToken,
    sandbox: name,
    policy: BASE_POLICY as unknown as Policy,
    backoff: { initialMs: 20, maxMs: 200 },
    applyPolicy: async (policy, version) => {
      enforced = compilePolicy(policy);
      loaded.push(version);
      return "loaded";
    },
  });
  const allowsPut = () =>
    decideRequest(enforced, {
      host: "api.github.com",
      port: 443,
      binary: "/usr/bin/curl",
      method: "PUT",
      path: "/repos/o/r/contents/x.md",
    }).decision === "allow";
  return { link, loaded, allowsPut };
}

/** Starts the link, turns proposals on (seen by push), and submits one rule; its chunk id. */
async function linkedWithProposal(h: Harness, s: ReturnType<typeof supervisor>): Promise<string> {
  await s.link.start();
  await h.op.setSetting("agent_policy_proposals_enabled", true);
  await eventually(() => s.link.settings?.agent_policy_proposals_enabled, "settings push");
  const sub = await submitProposal(s.link, { operations: [addRule("put_x", putRule())] });
  return (sub.body.accepted_chunk_ids as string[])[0]!;
}

test("proposal → /wait approved with policy_reloaded only after the link loaded the revision", async () => {
  const h = await startHarness();
  const s = supervisor(h, "sb");
  try {
    await s.link.start();
    assert.equal(s.link.loadedVersion, 1);
    assert.equal((await h.op.getPolicy("sb")).status, "loaded");
    // flag off: every route 404 feature_disabled
    const off = await submitProposal(s.link, { operations: [addRule("put_x", putRule())] });
    assert.deepEqual([off.status, off.body.error], [404, "feature_disabled"]);
    assert.equal((await getProposal(s.link, "00000000-0000-4000-8000-000000000000")).status, 404);
    // the flag reaches the sandbox by push
    await h.op.setSetting("agent_policy_proposals_enabled", true, "sb");
    await eventually(() => s.link.settings?.agent_policy_proposals_enabled, "settings push");
    assert.deepEqual((await submitProposal(s.link, { operations: "x" })).status, 400);
    assert.deepEqual(
      (await submitProposal(s.link, { operations: [addRule("a", putRule())], extra: 1 })).body.error,
      "invalid_proposal",
    );
    const sub = await submitProposal(s.link, {
      intent_summary: "write docs",
      operations: [addRule("put_x", putRule())],
    });
    assert.equal(sub.status, 202);
    assert.deepEqual(Object.keys(sub.body).sort(), [
      "accepted_chunk_ids",
      "accepted_chunks",
      "rejected_chunks",
      "rejection_reasons",
      "status",
    ]);
    const id = (sub.body.accepted_chunk_ids as string[])[0]!;
    const before = await getProposal(s.link, id);
    assert.equal(before.body.status, "pending");
    const timedOut = await waitProposal(s.link, id, "1");
    assert.deepEqual([timedOut.body.status, timedOut.body.timed_out], ["pending", true]);
    assert.equal(s.allowsPut(), false);
    const waiting = waitProposal(s.link, id, "30");
    const chunk = await h.op.getChunk(id);
    await h.op.approve(id, chunk.review_token);
    const done = await waiting;
    assert.equal(done.status, 200);
    assert.equal(done.body.status, "approved");
    assert.equal(done.body.policy_reloaded, true);
    assert.equal(s.allowsPut(), true, "the loaded policy covers the rule when /wait answers");
    assert.deepEqual(s.loaded, [2]);
    await eventually(async () => (await h.op.getPolicy("sb")).status === "loaded", "loaded report");
  } finally {
    await s.link.stop();
    await h.dispose();
  }
});

test("/wait rejected carries the reviewer's reason byte for byte; timeout clamps", async () => {
  const h = await startHarness();
  const s = supervisor(h, "sb");
  try {
    const id = await linkedWithProposal(h, s);
    const viaRouter = await handleProposalAction(s.link, "get_proposal", {
      params: { id },
      query: new URLSearchParams(),
    });
    assert.deepEqual([viaRouter.status, viaRouter.body.chunk_id], [200, id]);
    const waiting = handleProposalAction(s.link, "wait_proposal", {
      params: { id },
      query: new URLSearchParams("timeout=60"),
    });
    const reason = "scope to docs/ paths only, not the whole repo";
    await h.op.reject(id, reason, "too_broad");
    const done = await waiting;
    assert.equal(done.body.status, "rejected");
    assert.equal(done.body.rejection_reason, reason);
    assert.equal(done.body.rejection_hint, "too_broad");
    assert.deepEqual(
      [
        waitTimeoutSeconds(undefined),
        waitTimeoutSeconds("0"),
        waitTimeoutSeconds("999"),
        waitTimeoutSeconds("x"),
      ],
      [60, 1, 300, 60],
    );
  } finally {
    await s.link.stop();
    await h.dispose();
  }
});

test("gateway goes away: policy kept, 503 gateway_unavailable, reconnect with backoff and catch up", async () => {
  const h = await startHarness();
  const s = supervisor(h, "sb");
  try {
    const id = await linkedWithProposal(h, s);
    const waiting = waitProposal(s.link, id, "30");
    // let /wait read the chunk before the gateway goes (a /wait begun while it is down is a 503)
    await new Promise((r) => setTimeout(r, 200));
    const port = h.gw.port;
    await h.stop();
    await eventually(() => !s.link.connected, "disconnect");
    assert.equal(s.link.loadedVersion, 1, "the sandbox keeps its last policy");
    const down = await submitProposal(s.link, { operations: [addRule("x", putRule("/y"))] });
    assert.deepEqual([down.status, down.body.error], [503, "gateway_unavailable"]);
    assert.equal((await getProposal(s.link, id)).status, 503);
    // The gateway comes back (same store); a decision is made before the link reconnects.
    await h.restart(port);
    const chunk = await h.op.getChunk(id);
    await h.op.approve(id, chunk.review_token);
    const done = await waiting;
    assert.deepEqual([done.body.status, done.body.policy_reloaded], ["approved", true]);
    assert.equal(s.allowsPut(), true);
    await eventually(() => s.link.connected, "reconnect");
    await eventually(
      async () => (await h.op.getSandbox("sb")).loaded_version === 2,
      "loaded report after reconnect",
    );
  } finally {
    await s.link.stop();
    await h.dispose();
  }
});

test("a revision the supervisor refuses is reported failed and the sandbox keeps its policy", async () => {
  const h = await startHarness();
  const link = new GatewayLink({
    gateway: h.gw.url,
    operatorToken: h.gw.operatorToken,
    sandbox: "sb",
    policy: BASE_POLICY as unknown as Policy,
    backoff: { initialMs: 20, maxMs: 200 },
    applyPolicy: async () => "failed",
  });
  try {
    await link.start();
    const rev = await h.op.setPolicy("sb", { version: 1, network_policies: {} });
    await eventually(
      async () => (await h.op.getPolicy("sb", rev.version)).status === "failed",
      "failed report",
    );
    assert.equal(link.loadedVersion, 1);
    assert.equal((await h.op.getSandbox("sb")).loaded_version, 1);
  } finally {
    await link.stop();
    await h.dispose();
  }
});
