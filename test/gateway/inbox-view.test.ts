// The web inbox's pure view: the diff against the current policy, through the one renderer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkDiff, inboxState, reachChange, requestTimeline } from "../../src/gateway/inbox-view.ts";
import type { NetworkRule, Policy } from "../../src/policy/schema.ts";
import type { Chunk } from "../../src/protocol/types.ts";
import { BASE_POLICY, l4Rule, putRule } from "./fixtures.ts";

const policy = BASE_POLICY as unknown as Policy;
const rule = (r: unknown) => r as NetworkRule;

test("chunkDiff: a new rule, a binary addition, no change, a conflict", () => {
  assert.deepEqual(chunkDiff(policy, { rule_name: "put_x", proposed_rule: rule(putRule("/p")) }), [
    "+ rule put_x: /usr/bin/curl",
    "+   api.github.com:443 [L7 rest, allow PUT /p]",
  ]);
  const node = { ...rule(BASE_POLICY.network_policies.github_api), binaries: [{ path: "/usr/bin/node" }] };
  assert.deepEqual(chunkDiff(policy, { rule_name: "github_api", proposed_rule: node }), [
    "+ binary /usr/bin/node → rule github_api",
  ]);
  assert.deepEqual(
    chunkDiff(policy, { rule_name: "pypi", proposed_rule: rule(BASE_POLICY.network_policies.pypi) }),
    ["(no change: the current policy already has this)"],
  );
  const [conflict] = chunkDiff(policy, { rule_name: "pypi", proposed_rule: rule(l4Rule("other.example")) });
  assert.match(conflict ?? "", /^! cannot merge: .*already exists/);
});

test("inboxState: pending grouped by sandbox, newest 20 decided first", () => {
  const chunk = (id: string, sandbox: string, at: string, decided: string | null = null) =>
    ({
      id,
      sandbox,
      created_at: at,
      decided_at: decided,
      rule_name: `r_${id}`,
      proposed_rule: rule(l4Rule(`${id}.example`)),
    }) as unknown as Chunk;
  const state = inboxState({
    pending: [
      chunk("b1", "b", "2026-01-01T00:00:00Z"),
      chunk("a2", "a", "2026-01-02T00:00:00Z"),
      chunk("a1", "a", "2026-01-01T00:00:00Z"),
    ],
    decided: Array.from({ length: 25 }, (_, i) =>
      chunk(`d${i}`, "a", "2026-01-01T00:00:00Z", `2026-01-01T00:00:${String(i).padStart(2, "0")}Z`),
    ),
    denies: [],
    asks: [],
    policies: new Map([["a", policy]]),
  });
  assert.deepEqual(
    state.pending.map((c) => c.id),
    ["a1", "a2", "b1"],
  );
  assert.deepEqual(state.pending[0]?.rendered_endpoints, ["a1.example:443 [L4]"]);
  assert.deepEqual(state.pending[2]?.diff, ["! the sandbox's policy could not be read"]);
  assert.equal(state.decided.length, 20);
  assert.equal(state.decided[0]?.id, "d24");
});

test("reachChange: hosts × methods before and after, L7 paths, every path, raw L4", () => {
  const before = policy;
  const put = rule(putRule("/repos/o/r/contents/x.md"));
  const merged = {
    ...policy,
    network_policies: { ...policy.network_policies, put_x: put },
  } as Policy;
  const [row] = reachChange(before, merged, put);
  assert.equal(row?.destination, "api.github.com:443");
  const cell = (m: string) => row?.cells.find((c) => c.method === m);
  assert.deepEqual(cell("GET"), { method: "GET", before: "all", after: "all" });
  assert.deepEqual(cell("PUT"), { method: "PUT", before: "none", after: "some" });
  assert.deepEqual(cell("DELETE"), { method: "DELETE", before: "none", after: "none" });
  const raw = rule(l4Rule("raw.example"));
  const [rawRow] = reachChange(
    before,
    { ...policy, network_policies: { ...policy.network_policies, raw } } as Policy,
    raw,
  );
  assert.ok(rawRow?.cells.every((c) => c.before === "none" && c.after === "raw"));
});

test("requestTimeline: one-minute buckets over the last hour, busiest destinations first", () => {
  const now = 10_000_000;
  const events = [
    { time: now - 59 * 60_000 - 1, destination: "a:443", allowed: true },
    { time: now - 1, destination: "a:443", allowed: false },
    { time: now - 1, destination: "b:443", allowed: true },
    { time: now - 1, destination: "b:443", allowed: true },
    { time: now - 2, destination: "b:443", allowed: true },
    { time: now - 61 * 60_000, destination: "old:443", allowed: true },
  ];
  const t = requestTimeline(new Map([["sb", events]]), now);
  assert.equal(t.bucket_ms, 60_000);
  assert.deepEqual(
    t.sandboxes[0]?.destinations.map((d) => d.destination),
    ["b:443", "a:443"],
  );
  const a = t.sandboxes[0]?.destinations[1];
  assert.equal(a?.allowed[0], 1);
  assert.equal(a?.denied[59], 1);
  assert.deepEqual(requestTimeline(new Map([["empty", []]]), now).sandboxes, []);
});
