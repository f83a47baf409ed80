// The pure lifecycle: coverage by the live policy, supersede rules, exact revert, review tokens.
import assert from "node:assert/strict";
import { test } from "node:test";
import { coveredBy, newChunk, reviewToken, supersededBy } from "../../src/gateway/lifecycle.ts";
import { planMerge, planRevert } from "../../src/gateway/merge-plan.ts";
import { policyHash } from "../../src/policy/canonical.ts";
import { loadPolicyValue } from "../../src/policy/load.ts";
import type { NetworkRule, Policy } from "../../src/policy/schema.ts";
import { parseDuration } from "../../src/protocol/vocabulary.ts";
import { BASE_POLICY, l4Rule, putRule } from "./fixtures.ts";

const policy = (value: unknown): Policy => {
  const v = loadPolicyValue(value);
  assert.ok(v.ok, JSON.stringify(v));
  return v.value;
};
const rule = (r: unknown) => r as NetworkRule;
const base = policy(BASE_POLICY);
const head = { policy: base, hash: policyHash(base), version: 1 };

test("coveredBy: the decision function answers for concrete rules; globs and presets are never assumed", () => {
  assert.equal(coveredBy(base, "x", rule(l4Rule("pypi.org", 443, "/usr/bin/pip"))), true);
  assert.equal(coveredBy(base, "x", rule(l4Rule("pypi.org", 443, "/usr/bin/curl"))), false, "other binary");
  assert.equal(coveredBy(base, "x", rule(l4Rule("api.github.com"))), false, "L4 where policy inspects at L7");
  const get = {
    endpoints: [
      {
        host: "api.github.com",
        port: 443,
        protocol: "rest",
        rules: [{ allow: { method: "GET", path: "/repos/o/r" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  };
  assert.equal(coveredBy(base, "x", rule(get)), true, "GET under access=read-only");
  assert.equal(coveredBy(base, "x", rule(putRule())), false, "PUT is not read-only");
  assert.equal(coveredBy(base, "x", rule(putRule("/repos/**"))), false, "path glob: not assumed");
  assert.equal(
    coveredBy(base, "github_api", rule(BASE_POLICY.network_policies.github_api)),
    true,
    "identical rule",
  );
});

test("planMerge/planRevert: a binary addition to a same-endpoint rule; revert refuses when built upon", () => {
  const add = planMerge(base, "pypi", rule(l4Rule("pypi.org", 443, "/usr/bin/python3")));
  assert.ok(add.ok);
  assert.deepEqual(add.operations, [{ addBinary: { ruleName: "pypi", path: "/usr/bin/python3" } }]);
  const back = planRevert(add.policy, add.operations);
  assert.ok(back.ok);
  assert.equal(policyHash(back.policy), policyHash(base));
  const conflict = planMerge(base, "pypi", rule(l4Rule("other.org")));
  assert.equal(conflict.ok, false);
  const fresh = planMerge(base, "new", rule(l4Rule("new.example")));
  assert.ok(fresh.ok);
  const later = planMerge(fresh.policy, "new", rule(l4Rule("new.example", 443, "/usr/bin/wget")));
  assert.ok(later.ok);
  const refused = planRevert(later.policy, fresh.operations);
  assert.equal(refused.ok, false);
  assert.match(refused.ok ? "" : refused.error, /changed after this approval/);
  const forced = planRevert(later.policy, fresh.operations, true);
  assert.ok(forced.ok && !("new" in forced.policy.network_policies), "an expiring grant is removed anyway");
});

test("supersede: same host|port|binary from another submission; mechanistic never supersedes the agent's", () => {
  const mk = (id: string, source: "mechanistic" | "agent_authored", r: unknown, submissionId = id) =>
    newChunk(head, {
      id,
      sandbox: "s",
      submissionId,
      ruleName: id,
      rule: rule(r),
      source,
      rationale: null,
      intentSummary: null,
      confidence: null,
      hitCount: 1,
      now: "t",
    });
  const agent = mk("a", "agent_authored", putRule());
  const mech = mk("m", "mechanistic", l4Rule("api.github.com"));
  const refined = mk("r", "agent_authored", putRule("/repos/o/r/contents/docs/x.md"));
  const sibling = mk("s2", "agent_authored", putRule("/other"), "r");
  assert.deepEqual(supersededBy(mech, [agent]), []);
  assert.deepEqual(
    supersededBy(refined, [agent, mech, sibling]).map((c) => c.id),
    ["a", "m"],
  );
  assert.equal(mech.dedup_key, "api.github.com|443|/usr/bin/curl");
  assert.equal(agent.dedup_key, null);
});

test("review token binds rule, current and candidate hash; durations parse", () => {
  const r = rule(putRule());
  assert.equal(reviewToken("a", r, "h1", "h2"), reviewToken("a", r, "h1", "h2"));
  assert.notEqual(reviewToken("a", r, "h1", "h2"), reviewToken("a", r, "h0", "h2"));
  assert.notEqual(reviewToken("a", r, "h1", "h2"), reviewToken("b", r, "h1", "h2"));
  assert.deepEqual(["30m", "2h", "1d", "45s", "0m", "x", "5"].map(parseDuration), [
    1800,
    7200,
    86400,
    45,
    null,
    null,
    null,
  ]);
});
