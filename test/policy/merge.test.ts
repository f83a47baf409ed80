import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalPolicy, dumpPolicyYaml, policyHash } from "../../src/policy/canonical.ts";
import { applyOperation, applyOperations, MergeOperationSchema } from "../../src/policy/merge.ts";
import { renderEndpoint, renderRule } from "../../src/policy/render.ts";
import { policyFrom as load } from "./helpers.ts";

const base = load(`
version: 1
network_policies:
  github_api:
    endpoints:
      - { host: api.github.com, port: 443, protocol: rest, access: read-only }
    binaries: [{ path: /usr/bin/curl }]
`);

test("hash is independent of key order, formatting, defaults and list order", () => {
  const a = load(`
version: 1
network_policies:
  r:
    binaries: [{ path: /usr/bin/b }, { path: /usr/bin/a }]
    endpoints:
      - host: API.Example.com
        ports: [8443, 443]
        protocol: rest
        access: read-only
        rules:
          - allow: { path: /x, method: get }
          - allow: { method: PUT, path: /y }
`);
  const b = load(`
network_policies:
  r:
    endpoints: [{ protocol: rest, enforcement: enforce, access: read-only, host: api.example.com, ports: [443, 8443], rules: [{ allow: { method: PUT, path: /y } }, { allow: { method: GET, path: /x } }] }]
    binaries: [{ path: /usr/bin/a }, { path: /usr/bin/b }, { path: /usr/bin/a }]
    name: r
version: 1
filesystem_policy: { include_workdir: true }
`);
  assert.equal(policyHash(a), policyHash(b));
  assert.deepEqual(canonicalPolicy(a), canonicalPolicy(b));
  const c = load(`
version: 1
network_policies:
  r:
    binaries: [{ path: /usr/bin/a }, { path: /usr/bin/b }]
    endpoints: [{ host: api.example.com, ports: [443, 8443], protocol: rest, access: read-write }]
`);
  assert.notEqual(policyHash(a), policyHash(c));
});

test("canonical YAML loads back to the same hash", () => {
  const yaml = dumpPolicyYaml(base);
  const again = load(yaml);
  assert.equal(policyHash(again), policyHash(base));
});

test("addRule adds a rule; the same rule again is a no-op; a different one under that name is refused", () => {
  const rule = {
    endpoints: [
      {
        host: "api.github.com",
        port: 443,
        protocol: "rest" as const,
        rules: [{ allow: { method: "PUT", path: "/repos/o/r/contents/x.md" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  };
  const added = applyOperation(base, { addRule: { ruleName: "put_x", rule } });
  assert.ok(added.ok && added.changed);
  assert.ok(added.ok && added.policy.network_policies.put_x);
  if (!added.ok) return;
  const again = applyOperation(added.policy, { addRule: { ruleName: "put_x", rule } });
  assert.ok(again.ok && !again.changed);
  const clash = applyOperation(added.policy, {
    addRule: { ruleName: "put_x", rule: { ...rule, binaries: [{ path: "/usr/bin/node" }] } },
  });
  assert.ok(!clash.ok);
  assert.match(clash.ok ? "" : clash.error, /already exists with different content/);
  assert.equal(base.network_policies.put_x, undefined, "the input policy is not mutated");
});

test("addBinary / removeBinary / removeRule, with errors naming what is missing", () => {
  const result = applyOperations(base, [
    { addBinary: { ruleName: "github_api", path: "/usr/bin/gh" } },
    { removeBinary: { ruleName: "github_api", path: "/usr/bin/curl" } },
  ]);
  assert.ok(result.ok);
  if (!result.ok) return;
  assert.deepEqual(result.policy.network_policies.github_api?.binaries, [{ path: "/usr/bin/gh" }]);
  const missing = applyOperations(base, [{ removeRule: { ruleName: "nope" } }]);
  assert.deepEqual(missing, { ok: false, error: 'operations[0]: rule "nope" does not exist' });
  const removed = applyOperation(base, { removeRule: { ruleName: "github_api" } });
  assert.ok(removed.ok);
  assert.deepEqual(removed.ok ? removed.policy.network_policies : null, {});
});

test("a merge that would produce an invalid policy is refused", () => {
  const bad = applyOperation(base, {
    addRule: {
      ruleName: "bad",
      rule: { endpoints: [{ host: "*.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
    },
  });
  assert.ok(!bad.ok);
  assert.match(bad.ok ? "" : bad.error, /public suffix/);
});

test("operation schema rejects unknown operations and malformed rules", () => {
  assert.equal(MergeOperationSchema.safeParse({ grantAll: {} }).success, false);
  assert.equal(
    MergeOperationSchema.safeParse({ addRule: { ruleName: "x", rule: { endpoints: [] } } }).success,
    false,
  );
  assert.equal(MergeOperationSchema.safeParse({ addBinary: { ruleName: "x", path: "curl" } }).success, false);
});

test("the endpoint renderer's three shapes", () => {
  assert.equal(renderEndpoint({ host: "api.example.com", port: 443 }), "api.example.com:443 [L4]");
  assert.equal(
    renderEndpoint({ host: "api.example.com", port: 443, protocol: "rest", access: "read-only" }),
    "api.example.com:443 [L7 rest, access=read-only]",
  );
  assert.equal(
    renderEndpoint({
      host: "api.example.com",
      port: 443,
      protocol: "rest",
      rules: [{ allow: { method: "PUT", path: "/v1/foo/bar" } }],
      deny_rules: [{ method: "*", path: "/admin/**" }],
    }),
    "api.example.com:443 [L7 rest, allow PUT /v1/foo/bar, deny * /admin/**]",
  );
  assert.equal(
    renderEndpoint({ host: "c.internal.example.com", ports: [443, 8443], allowed_ips: ["10.0.0.0/8"] }),
    "c.internal.example.com:443,8443 [L4, allowed_ips=10.0.0.0/8]",
  );
  assert.deepEqual(renderRule("github_api", base.network_policies.github_api!), [
    "github_api: /usr/bin/curl",
    "  api.github.com:443 [L7 rest, access=read-only]",
  ]);
});
