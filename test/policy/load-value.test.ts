// loadPolicyValue (a policy that was never text: JSON from the wire, a merge) against the YAML
// loader: the same data gives the same problems and warnings, named by key path, without a position.
import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import {
  denyAllPolicy,
  formatProblemsInline,
  loadPolicyText,
  loadPolicyValue,
  type Problem,
} from "../../src/policy/load.ts";

const curl = [{ path: "/usr/bin/curl" }];
const withEndpoint = (endpoint: Record<string, unknown>) => ({
  version: 1,
  network_policies: { r: { endpoints: [endpoint], binaries: curl } },
});

const invalid: Array<{ name: string; value: Record<string, unknown> }> = [
  { name: "port too large", value: withEndpoint({ host: "a.example.com", port: 70000 }) },
  { name: "port a string", value: withEndpoint({ host: "a.example.com", port: "443" }) },
  { name: "bare wildcard host", value: withEndpoint({ host: "*", port: 443 }) },
  {
    name: "unknown endpoint keys",
    value: withEndpoint({ host: "a.example.com", port: 443, acess: 1, x: 2 }),
  },
  { name: "unknown top-level key", value: { version: 1, network_policy: {} } },
  { name: "wrong version", value: { version: 2 } },
  { name: "missing version", value: { network_policies: {} } },
  {
    name: "bad rule name",
    value: { version: 1, network_policies: { "a b": { endpoints: [], binaries: curl } } },
  },
  {
    name: "access without rest",
    value: withEndpoint({ host: "a.example.com", port: 443, access: "read-only" }),
  },
  { name: "run_as_user negative", value: { version: 1, process: { run_as_user: -1 } } },
  {
    name: "several at once",
    value: withEndpoint({ host: "*", port: 70000, protocol: "rest", access: "all", extra: 1 }),
  },
];

const byPath = (problems: readonly Problem[]) => problems.map((p) => `${p.path}: ${p.message}`).sort();

for (const c of invalid) {
  test(`a value is refused as its YAML is: ${c.name}`, () => {
    const fromValue = loadPolicyValue(c.value);
    const fromText = loadPolicyText(stringify(c.value), "same.yaml");
    assert.equal(fromValue.ok, false, `expected ${c.name} to be refused`);
    assert.equal(fromText.ok, false);
    if (fromValue.ok || fromText.ok) return;
    assert.deepEqual(byPath(fromValue.errors), byPath(fromText.errors));
    for (const problem of fromValue.errors) {
      assert.deepEqual([problem.line, problem.col], [0, 0], "a value has no position");
    }
  });
}

test("values of the wrong type are refused, never loaded", () => {
  for (const value of [null, undefined, "version: 1", 1, [], [{ version: 1 }], true]) {
    const loaded = loadPolicyValue(value);
    assert.equal(loaded.ok, false, JSON.stringify(value));
    if (!loaded.ok) assert.ok(loaded.errors.length > 0);
  }
});

test("a value gets the warnings its YAML gets", () => {
  const value = {
    version: 1,
    landlock: { compatibility: "best_effort" },
    network_policies: {
      empty: { endpoints: [{ host: "api.example.com", port: 443 }] },
      db: {
        endpoints: [{ host: "db.example.com", port: 5432, protocol: "tcp" }],
        binaries: [{ path: "/**" }, { path: "/usr/bin/psql", harness: true }],
      },
    },
  };
  const fromValue = loadPolicyValue(value);
  const fromText = loadPolicyText(stringify(value), "same.yaml");
  assert.ok(fromValue.ok && fromText.ok);
  assert.equal(fromValue.warnings.length, 5);
  assert.deepEqual(byPath(fromValue.warnings), byPath(fromText.warnings));
});

test("problems as one line: key paths, the root named", () => {
  const loaded = loadPolicyValue({ version: 1, network_policy: {} });
  assert.equal(loaded.ok, false);
  if (loaded.ok) return;
  assert.equal(formatProblemsInline(loaded.errors), 'network_policy: unknown key "network_policy"');
  const notAMapping = loadPolicyValue("x");
  assert.ok(!notAMapping.ok);
  if (!notAMapping.ok) assert.match(formatProblemsInline(notAMapping.errors), /^\(root\): /);
});

test("the policy without a file lets nothing out", () => {
  const policy = denyAllPolicy();
  assert.deepEqual(policy.network_policies, {});
  assert.notEqual(denyAllPolicy(), policy, "each caller gets its own value");
});

test("a `__proto__` key is refused, in YAML and in JSON, not dropped as zod's records drop it", () => {
  const rule = '{"endpoints":[{"host":"a.example.com","port":443}],"binaries":[{"path":"/usr/bin/curl"}]}';
  const json = JSON.parse(`{"version":1,"network_policies":{"__proto__":${rule},"ok":${rule}}}`) as unknown;
  const fromValue = loadPolicyValue(json);
  assert.equal(fromValue.ok, false);
  assert.match(formatProblemsInline(fromValue.ok ? [] : fromValue.errors), /network_policies\.__proto__/);
  const text = `version: 1\nnetwork_policies:\n  ok:\n    endpoints: [{host: a.example.com, port: 443}]\n    binaries: [{path: /usr/bin/curl}]\n    __proto__: {x: 1}\n`;
  const fromText = loadPolicyText(text, "p.yaml");
  assert.equal(fromText.ok, false);
  const errors = fromText.ok ? [] : fromText.errors;
  assert.deepEqual(
    errors.map((e) => [e.line, e.path]),
    [[6, "network_policies.ok.__proto__"]],
  );
});
