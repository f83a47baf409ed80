// bench/loop: the proposal loop's latency with a real gateway in-process (SQLite) and the real
// supervisor pieces (gateway link + policy.local proposal handlers; applyPolicy compiles).
//   proposal submitted → chunk.created on a connected inbox stream      (target p50 ≤ 100 ms)
//   approve → /wait answered with policy_reloaded: true                  (target p50 ≤ 250 ms)
// Baseline measured in the same run: one authenticated GET round trip to the same gateway.
// Reference design (polling): inbox poll 2 s, reload poll 10 s, /wait poll 1 s.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startGateway } from "../src/gateway/server.ts";
import { compilePolicy } from "../src/policy/engine.ts";
import type { Policy } from "../src/policy/schema.ts";
import { GatewayClient } from "../src/protocol/client.ts";
import type { GatewayEvent } from "../src/protocol/types.ts";
import { GatewayLink } from "../src/supervisor/gateway-link.ts";
import { submitProposal, waitProposal } from "../src/supervisor/proposals.ts";

const ROUNDS = process.argv.includes("--quick") ? 50 : Number(process.env.BENCH_ROUNDS ?? 200);

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const base: Policy = {
  version: 1,
  network_policies: {
    github_api: {
      endpoints: [{ host: "api.github.com", port: 443, protocol: "rest", access: "read-only" }],
      binaries: [{ path: "/usr/bin/curl" }],
    },
  },
} as Policy;

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "airlock-bench-loop-"));
  // AIRLOCK_BENCH_DB=postgres://... measures the PostgreSQL store instead of SQLite.
  const db = process.env.AIRLOCK_BENCH_DB || `sqlite:${join(home, "gateway.db")}`;
  const gw = await startGateway({ home, port: 0, db });
  const op = new GatewayClient({ url: gw.url, token: gw.operatorToken });
  let compiled = compilePolicy(base);
  const link = new GatewayLink({
    gateway: gw.url,
    operatorToken: gw.operatorToken,
    sandbox: "bench",
    policy: base,
    applyPolicy: async (policy) => {
      compiled = compilePolicy(policy);
      return compiled ? "loaded" : "failed";
    },
  });
  await link.start();
  await op.setSetting("agent_policy_proposals_enabled", true);
  while (!link.settings?.agent_policy_proposals_enabled) await new Promise((r) => setTimeout(r, 5));

  // The inbox: an operator event stream, timestamps of chunk.created by id.
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  const ac = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  void (async () => {
    for await (const e of op.watch({ signal: ac.signal, onOpen: opened }) as AsyncIterable<GatewayEvent>) {
      if (e.type !== "chunk.created") continue;
      const t = performance.now();
      const id = String(e.data.id);
      arrivals.set(id, t);
      waiters.get(id)?.(t);
    }
  })();
  await open;
  const arrival = (id: string) =>
    arrivals.has(id)
      ? Promise.resolve(arrivals.get(id) as number)
      : new Promise<number>((r) => waiters.set(id, r));

  const rtt: number[] = [];
  const visible: number[] = [];
  const reloaded: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await op.health();
    rtt.push(performance.now() - t);

    const rule = {
      endpoints: [
        {
          host: `h${i}.example.com`,
          port: 443,
          protocol: "rest",
          rules: [{ allow: { method: "PUT", path: "/docs/**" } }],
        },
      ],
      binaries: [{ path: "/usr/bin/curl" }],
    };
    const t0 = performance.now();
    const sub = await submitProposal(link, { operations: [{ addRule: { ruleName: `put_${i}`, rule } }] });
    const id = (sub.body.accepted_chunk_ids as string[])[0] as string;
    visible.push((await arrival(id)) - t0);

    const chunk = await op.getChunk(id); // what the reviewer sees
    const waiting = waitProposal(link, id, "30");
    await new Promise((r) => setImmediate(r));
    const t1 = performance.now();
    await op.approve(id, chunk.review_token);
    const done = await waiting;
    if (done.body.policy_reloaded !== true) throw new Error(`round ${i}: ${JSON.stringify(done.body)}`);
    reloaded.push(performance.now() - t1);
  }
  ac.abort();
  await link.stop();
  await gw.close();
  rmSync(home, { recursive: true, force: true });

  const row = (name: string, xs: number[], referenceMs: number, target: number | null) => ({
    name,
    p50_ms: +pct(xs, 50).toFixed(2),
    p95_ms: +pct(xs, 95).toFixed(2),
    x_baseline_rtt: +(pct(xs, 50) / pct(rtt, 50)).toFixed(1),
    reference_polling_ms: referenceMs,
    speedup_vs_polling: +(referenceMs / pct(xs, 50)).toFixed(0),
    target_p50_ms: target,
  });
  const rows = [
    row("baseline: GET /v1/health round trip", rtt, Number.NaN, null),
    // Polling reference: a 2 s inbox poll sees a proposal after 1 s on average.
    row("proposal → inbox event", visible, 1000, 100),
    // 10 s reload poll (avg 5 s) + 1 s /wait poll (avg 0.5 s).
    row("approve → /wait policy_reloaded", reloaded, 5500, 250),
  ];
  console.log(
    `bench/loop: ${ROUNDS} rounds, ${db.split(":")[0]} gateway in-process, link + proposal handlers`,
  );
  console.log(
    "measure                               p50 ms   p95 ms   ×RTT   polling ref ms   speedup   target p50",
  );
  for (const r of rows)
    console.log(
      `${r.name.padEnd(38)}${String(r.p50_ms).padStart(7)}  ${String(r.p95_ms).padStart(7)}  ${String(r.x_baseline_rtt).padStart(5)}  ${String(Number.isNaN(r.reference_polling_ms) ? "-" : r.reference_polling_ms).padStart(15)}  ${String(Number.isNaN(r.reference_polling_ms) ? "-" : `${r.speedup_vs_polling}x`).padStart(8)}  ${r.target_p50_ms ?? "-"}`,
    );
  console.log(
    "reference polling budget: /wait poll 1000 ms, reload poll 10000 ms, inbox poll 2000 ms (worst case 2 s to see, 11 s to reload)",
  );
  console.log(
    JSON.stringify({
      bench: "loop",
      rounds: ROUNDS,
      store: db.split(":")[0],
      rows,
      reference_polling_ms: { wait_poll: 1000, reload_poll: 10000, inbox_poll: 2000 },
    }),
  );
}

await main();
