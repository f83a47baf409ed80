import assert from "node:assert/strict";
import { test } from "node:test";
import { buildDenyBody, denyResponse, errorResponse, rawResponse } from "../../src/proxy/deny.ts";
import {
  denyNextSteps,
  matchPolicyLocalRoute,
  POLICY_LOCAL_ROUTES,
} from "../../src/proxy/policy-local-api.ts";

const L4 = {
  layer: "l4" as const,
  protocol: null,
  method: "CONNECT",
  path: null,
  host: "evil.example.com",
  port: 443,
  binary: "/usr/bin/curl",
  policy: null,
  reason: "no rule allows evil.example.com:443",
  ruleMissing: {
    type: "l4_allow" as const,
    layer: "l4" as const,
    host: "evil.example.com",
    port: 443,
    binary: "/usr/bin/curl",
  },
};

test("L4 deny body with proposals off: next_steps empty, no agent_guidance", () => {
  const body = buildDenyBody({ ...L4, proposalsEnabled: false });
  assert.deepEqual(body, {
    error: "policy_denied",
    layer: "l4",
    protocol: null,
    method: "CONNECT",
    path: null,
    host: "evil.example.com",
    port: 443,
    binary: "/usr/bin/curl",
    policy: null,
    rule: "evil.example.com:443",
    reason: "no rule allows evil.example.com:443",
    detail: "CONNECT evil.example.com:443 not permitted by policy",
    rule_missing: L4.ruleMissing,
    next_steps: [],
  });
});

test("a deny-rule match has no rule_missing and guidance says a rule will not help", () => {
  const body = buildDenyBody({
    ...L4,
    layer: "l7",
    protocol: "rest",
    method: "delete",
    path: "/admin/x?token=s",
    policy: "api",
    reason: 'blocked by deny rule "* /admin/**" in api',
    ruleMissing: undefined,
    proposalsEnabled: true,
  });
  assert.equal(body.rule_missing, undefined);
  assert.equal(body.method, "DELETE");
  assert.equal(body.path, "/admin/x", "never the query");
  assert.equal(body.rule, "DELETE /admin/x");
  assert.match(body.agent_guidance ?? "", /will not change it/);
});

test("response headers: 403, JSON, X-Airlock-Policy, Connection: close", () => {
  const r = denyResponse({ ...L4, proposalsEnabled: false });
  assert.equal(r.status, 403);
  assert.deepEqual(r.headers, {
    "Content-Type": "application/json",
    Connection: "close",
    "X-Airlock-Policy": "-",
  });
  const raw = rawResponse(r);
  assert.match(raw, /^HTTP\/1.1 403 Forbidden\r\n/);
  assert.match(raw, new RegExp(`Content-Length: ${Buffer.byteLength(r.body)}\\r\\n`));
});

test("502 upstream_unreachable and other errors are {error, detail}", () => {
  const r = errorResponse("upstream_unreachable", "api.github.com:443: ECONNREFUSED");
  assert.equal(r.status, 502);
  assert.deepEqual(JSON.parse(r.body), {
    error: "upstream_unreachable",
    detail: "api.github.com:443: ECONNREFUSED",
  });
  assert.equal(errorResponse("invalid_policy_local_scheme", "x").status, 400);
});

test("next_steps come from the route table", () => {
  const steps = denyNextSteps();
  assert.deepEqual(steps[0], { action: "read_skill", path: "/etc/airlock/skills/policy_advisor.md" });
  const fromTable = POLICY_LOCAL_ROUTES.filter((r) => r.nextStep).map((r) => r.action);
  assert.deepEqual(
    steps.slice(1).map((s) => s.action),
    fromTable,
  );
});

test("route matching with {id} parameters", () => {
  const m = matchPolicyLocalRoute("get", "/v1/proposals/abc-123/wait");
  assert.ok("route" in m);
  assert.equal(m.route.action, "wait_proposal");
  assert.deepEqual(m.params, { id: "abc-123" });
  assert.deepEqual(matchPolicyLocalRoute("DELETE", "/v1/proposals"), { error: "method_not_allowed" });
  assert.deepEqual(matchPolicyLocalRoute("GET", "/v1/nope"), { error: "not_found" });
  assert.deepEqual(matchPolicyLocalRoute("GET", "/v1/proposals//wait"), { error: "not_found" });
});
