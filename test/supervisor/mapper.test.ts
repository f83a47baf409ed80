import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy } from "../../src/policy/engine.ts";
import { loadPolicyText } from "../../src/policy/load.ts";
import { DenialAggregator } from "../../src/supervisor/aggregator.ts";
import { mechanisticConfidence, proposalFor } from "../../src/supervisor/mapper.ts";

const loaded = loadPolicyText(
  `version: 1
network_policies:
  github_api:
    endpoints: [{ host: api.github.com, port: 443, protocol: rest, access: read-only }]
    binaries: [{ path: /usr/bin/curl }]
`,
  "p.yaml",
);
if (!loaded.ok) throw new Error("fixture");
const cp = compilePolicy(loaded.value);
const group = (host: string, port: number, binary = "/usr/bin/curl", hits = 3) => ({
  host,
  port,
  binary,
  hits,
  firstSeen: "t0",
  lastSeen: "t1",
});

test("an L4 denial group becomes allow_<host>_<port> with an L4 endpoint and that binary only", () => {
  const p = proposalFor(group("blocked.example", 443), cp);
  assert.ok(p);
  assert.equal(p.ruleName, "allow_blocked_example_443");
  assert.deepEqual(p.operation, {
    addRule: {
      ruleName: "allow_blocked_example_443",
      rule: { endpoints: [{ host: "blocked.example", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
    },
  });
  assert.equal(p.hitCount, 3);
  assert.equal(proposalFor(group("my-api.example.co", 8443), cp)?.ruleName, "allow_my_api_example_co_8443");
});

test("an endpoint the policy inspects at L7 becomes a binary addition, never an L4 downgrade", () => {
  const p = proposalFor(group("api.github.com", 443, "/usr/bin/node"), cp);
  assert.deepEqual(p?.operation, {
    addRule: {
      ruleName: "github_api",
      rule: {
        endpoints: [{ host: "api.github.com", port: 443, protocol: "rest", access: "read-only" }],
        binaries: [{ path: "/usr/bin/node" }],
      },
    },
  });
});

test("always-blocked destinations and IP literals get no proposal", () => {
  for (const host of [
    "localhost",
    "127.0.0.1",
    "169.254.169.254",
    "metadata.google.internal",
    "10.0.0.5",
    "93.184.216.34",
  ]) {
    assert.equal(proposalFor(group(host, 80), cp), null, host);
  }
});

test("confidence rises with hits and falls for high ports", () => {
  assert.ok(mechanisticConfidence(10, 443) > mechanisticConfidence(1, 443));
  assert.ok(mechanisticConfidence(5, 443) > mechanisticConfidence(5, 9000));
  assert.ok(mechanisticConfidence(100, 443) <= 0.95);
});

test("the aggregator groups by host, port and binary and keeps groups when the flush fails", async () => {
  const flushed: unknown[][] = [];
  let fail = true;
  const agg = new DenialAggregator(async (groups) => {
    if (fail) throw new Error("gateway down");
    flushed.push(groups);
  });
  agg.add({ host: "a.example", port: 443, binary: "/usr/bin/curl", time: "1" });
  agg.add({ host: "a.example", port: 443, binary: "/usr/bin/curl", time: "2" });
  agg.add({ host: "a.example", port: 443, binary: "/usr/bin/node", time: "3" });
  assert.equal(agg.pending(), 2);
  await assert.rejects(agg.flush(), /gateway down/);
  assert.equal(agg.pending(), 2, "nothing lost when the flush fails");
  agg.add({ host: "a.example", port: 443, binary: "/usr/bin/curl", time: "4" });
  fail = false;
  await agg.flush();
  assert.equal(agg.pending(), 0);
  const curl = (
    flushed[0] as Array<{ binary: string; hits: number; firstSeen: string; lastSeen: string }>
  ).find((g) => g.binary === "/usr/bin/curl");
  assert.deepEqual([curl?.hits, curl?.firstSeen, curl?.lastSeen], [3, "1", "4"]);
});
