// kill -9 of a gateway process in the middle of approvals: after a restart on the same store every
// acknowledged submission and approval is there and the policy history is consistent.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import pg from "pg";
import { policyHash } from "../../src/policy/canonical.ts";
import { GatewayClient, GatewayRequestError } from "../../src/protocol/client.ts";
import { readGatewayInfo } from "../../src/protocol/gateway-info.ts";
import { readOperatorToken } from "../../src/protocol/home.ts";
import { addRule, BASE_POLICY, eventually, l4Rule, PG_URL } from "./fixtures.ts";

async function spawnGateway(
  home: string,
  db: string,
): Promise<{ child: ChildProcess; client: GatewayClient }> {
  const child = spawn(process.execPath, ["bin/airlock.js", "gateway", "run", "--db", db], {
    env: { ...process.env, AIRLOCK_HOME: home },
    stdio: "ignore",
  });
  const info = await eventually(
    () => {
      const i = readGatewayInfo(home);
      return i && i.pid === child.pid ? i : null;
    },
    "gateway.json",
    20_000,
  );
  const client = new GatewayClient({ url: info.url, token: readOperatorToken(home)!, timeoutMs: 10_000 });
  await eventually(
    () =>
      client.health().then(
        () => true,
        () => false,
      ),
    "health",
    10_000,
  );
  return { child, client };
}

const cases = [
  { name: "sqlite", skip: false as string | false, db: (home: string) => `sqlite:${join(home, "gw.db")}` },
  {
    name: "postgres",
    skip: PG_URL ? (false as const) : "AIRLOCK_TEST_POSTGRES not set",
    db: () => `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=crash_${process.pid}_${Date.now()}`,
  },
];

for (const c of cases) {
  test(`kill -9 during approvals (${c.name}): acknowledged work survives, policy consistent`, {
    skip: c.skip,
    timeout: 120_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), "airlock-crash-"));
    const db = c.db(home);
    let gw = await spawnGateway(home, db);
    try {
      const reg = await gw.client.register("sb", BASE_POLICY);
      await gw.client.setSetting("agent_policy_proposals_enabled", true);
      const sandbox = gw.client.withToken(reg.token);
      const submitted: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await sandbox.submit("sb", { operations: [addRule(`r${i}`, l4Rule(`h${i}.example`))] });
        submitted.push(...r.accepted_chunk_ids);
      }
      const acknowledged: string[] = [];
      let next = 0;
      let killed = false;
      const worker = async () => {
        while (!killed && next < submitted.length) {
          const id = submitted[next++] as string;
          for (let attempt = 0; attempt < 50 && !killed; attempt++) {
            try {
              const chunk = await gw.client.getChunk(id);
              await gw.client.approve(id, chunk.review_token);
              acknowledged.push(id);
              if (acknowledged.length === 12) {
                killed = true;
                gw.child.kill("SIGKILL");
              }
              break;
            } catch (e) {
              if (e instanceof GatewayRequestError && e.status === 409) continue;
              break; // connection lost: this approval was never acknowledged
            }
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      assert.ok(killed, "the gateway was killed mid-run");
      const dead = gw.child;
      if (dead.exitCode === null && dead.signalCode === null) await new Promise((r) => dead.once("exit", r));

      gw = await spawnGateway(home, db);
      const chunks = await gw.client.listChunks({ sandbox: "sb" });
      const byId = new Map(chunks.map((ch) => [ch.id, ch]));
      for (const id of submitted) assert.ok(byId.has(id), `submitted chunk ${id} survived`);
      for (const id of acknowledged)
        assert.equal(byId.get(id)?.status, "approved", `approval of ${id} survived`);
      const revisions = (await gw.client.listRevisions("sb")).reverse();
      assert.deepEqual(
        revisions.map((r) => r.version),
        revisions.map((_, i) => i + 1),
        "versions contiguous",
      );
      for (const r of revisions) assert.equal(r.hash, policyHash(r.policy));
      const head = revisions.at(-1)!;
      assert.equal((await gw.client.getSandbox("sb")).head_hash, head.hash);
      const approved = chunks.filter((ch) => ch.status === "approved");
      assert.deepEqual(
        Object.keys(head.policy.network_policies).sort(),
        ["github_api", "pypi", ...approved.map((ch) => ch.rule_name)].sort(),
        "the head policy holds exactly the approved rules",
      );
      assert.equal(revisions.length, 1 + approved.length);
      // and the restarted gateway keeps working
      const rest = chunks.find((ch) => ch.status === "pending")!;
      await gw.client.approve(rest.id, rest.review_token);
    } finally {
      gw.child.kill("SIGKILL");
      rmSync(home, { recursive: true, force: true });
      const schema = /schema=(\w+)/.exec(db)?.[1];
      if (schema) {
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      }
    }
  });
}
