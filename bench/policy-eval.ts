// Policy decision cost at 10, 1,000 and 100,000 rules, exact and wildcard hosts, L4 and L7.
// Each figure is also given as a ratio against the 10-rule run of the same kind (flatness).
import { compilePolicy, decideConnect, decideRequest } from "../src/policy/engine.ts";
import type { NetworkRule, Policy } from "../src/policy/schema.ts";

function policyOf(count: number, wildcard: boolean): Policy {
  const rules: Record<string, NetworkRule> = {};
  for (let i = 0; i < count; i++) {
    rules[`rule_${i}`] = {
      endpoints: [
        {
          host: wildcard ? `*.svc${i}.example.com` : `api${i}.example.com`,
          port: 443,
          protocol: "rest",
          access: "read-only",
          rules: [{ allow: { method: "PUT", path: `/repos/org${i}/*/contents/docs/**` } }],
          deny_rules: [{ method: "*", path: "/admin/**" }],
        },
      ],
      binaries: [{ path: "/usr/bin/curl" }],
    };
  }
  return { version: 1, network_policies: rules };
}

function measure(iterations: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

const sizes = [10, 1_000, 100_000];
const iterations = 200_000;
const rows: Array<Record<string, string | number>> = [];
const baseline = new Map<string, number>();
for (const wildcard of [false, true]) {
  for (const size of sizes) {
    const cp = compilePolicy(policyOf(size, wildcard));
    const identity = { binary: "/usr/bin/curl", ancestors: ["/usr/bin/bash"] };
    // Inputs are built before timing so only the decision is measured.
    const inputs = Array.from({ length: 4096 }, (_, i) => {
      const n = (i * 7919) % size;
      const host = wildcard ? `eu.svc${n}.example.com` : `api${n}.example.com`;
      return {
        ...identity,
        host,
        port: 443,
        method: "PUT",
        path: `/repos/org${n}/site/contents/docs/a.md?ref=main`,
      };
    });
    const at = (i: number) => inputs[i & 4095] as (typeof inputs)[number];
    const l4 = measure(iterations, (i) => decideConnect(cp, at(i).host, 443, identity));
    const l7 = measure(iterations, (i) => decideRequest(cp, at(i)));
    const kind = wildcard ? "wildcard" : "exact";
    for (const [layer, ns] of [
      ["l4", l4],
      ["l7", l7],
    ] as const) {
      const key = `${kind}/${layer}`;
      if (!baseline.has(key)) baseline.set(key, ns);
      rows.push({
        hosts: kind,
        layer,
        rules: size,
        ns_per_decision: Math.round(ns),
        decisions_per_s: Math.round(1e9 / ns),
        ratio_vs_10_rules: Number((ns / (baseline.get(key) as number)).toFixed(2)),
      });
    }
  }
}
console.table(rows);
console.log(JSON.stringify({ bench: "policy-eval", iterations, node: process.version, rows }));
