import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy, decideConnect } from "../../src/policy/engine.ts";
import { loadPolicyFile } from "../../src/policy/file.ts";

test("example policy loads and allows curl to api.github.com:443 with L7 inspection", () => {
  const loaded = loadPolicyFile("examples/policies/github-readonly.yaml");
  assert.ok(loaded.ok);
  const d = decideConnect(compilePolicy(loaded.value), "api.github.com", 443, { binary: "/usr/bin/curl" });
  assert.equal(d.decision, "allow");
  assert.equal(d.inspect, true);
});
