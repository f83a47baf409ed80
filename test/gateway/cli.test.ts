// The CLI against a daemonized gateway: start/status/stop, review commands, policy set --wait with
// a live gateway link, and errors that say what to do.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import type { Policy } from "../../src/policy/schema.ts";
import { GatewayClient } from "../../src/protocol/client.ts";
import { GatewayLink } from "../../src/supervisor/gateway-link.ts";
import { addRule, BASE_POLICY, l4Rule, putRule } from "./fixtures.ts";

const run = promisify(execFile);

test("airlock gateway/rule/policy/settings/denials end to end", { timeout: 300_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), "airlock-cli-"));
  const env = { ...process.env, AIRLOCK_HOME: home, AIRLOCK_GATEWAY: "", AIRLOCK_TOKEN: "" };
  const airlock = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, ["bin/airlock.js", ...args], { env, timeout: 30_000 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  let link: GatewayLink | null = null;
  try {
    const down = await airlock("rule", "get");
    assert.equal(down.code, 1);
    assert.match(down.err, /airlock gateway start/);
    assert.equal((await airlock("gateway", "status")).code, 1);
    const started = await airlock("gateway", "start");
    assert.equal(started.code, 0, started.err);
    assert.match(started.out, /gateway started at http:\/\/127\.0\.0\.1:\d+/);
    assert.match((await airlock("gateway", "start")).out, /already running/);
    const status = JSON.parse((await airlock("gateway", "status", "--json")).out);
    assert.equal(status.running, true);

    const op = GatewayClient.fromEnv(env);
    link = new GatewayLink({
      gateway: status.url,
      operatorToken: op.opts.token,
      sandbox: "cli",
      policy: BASE_POLICY as unknown as Policy,
      applyPolicy: async () => "loaded",
    });
    await link.start();
    assert.match((await airlock("settings", "set", "agent_policy_proposals_enabled", "true")).out, /= true/);
    const sb = link.client();
    const sub = await sb.submit("cli", {
      operations: [addRule("put_x", putRule()), addRule("other", l4Rule("other.example"))],
    });
    const [putId, otherId] = sub.accepted_chunk_ids;

    const listed = await airlock("rule", "get", "--status", "pending");
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /api\.github\.com:443 \[L7 rest, allow PUT \/repos\/o\/r\/contents\/x\.md\]/);
    assert.equal(JSON.parse((await airlock("rule", "get", "cli", "--json")).out).chunks.length, 2);
    const stale = await airlock("rule", "approve", "--chunk-id", putId!, "--review-token", "old");
    assert.equal(stale.code, 1);
    assert.match(stale.err, /refetch with `airlock rule get`/);
    assert.match(
      (await airlock("rule", "approve", "cli", "--chunk-id", "nope")).err,
      /no chunk with id nope/,
    );
    assert.match((await airlock("rule", "approve", "--chunk-id", putId!)).out, /policy revision 2/);
    const reason = "scope to docs/ paths only, not the whole repo";
    assert.equal((await airlock("rule", "reject", "--chunk-id", otherId!, "--reason", reason)).code, 0);
    assert.equal((await op.getChunk(otherId!)).rejection_reason, reason);
    assert.match((await airlock("rule", "history", "--json")).out, /"action": "approve"/);
    const file = join(home, "p.yaml");
    writeFileSync(
      file,
      "version: 1\nnetwork_policies:\n  only:\n    endpoints: [{host: a.example, port: 443}]\n    binaries: [{path: /usr/bin/curl}]\n",
    );
    const set = await airlock("policy", "set", "cli", file, "--wait", "--timeout", "20");
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /revision 3 loaded/);
    assert.match((await airlock("policy", "get")).out, /# sandbox cli, revision 3 \(loaded\)/);
    assert.match((await airlock("policy", "get", "--rev", "1")).out, /github_api/);
    const revs = JSON.parse((await airlock("policy", "revisions", "--json")).out).revisions;
    assert.deepEqual(
      revs.map((r: { version: number }) => r.version),
      [3, 2, 1],
    );
    assert.equal((await airlock("policy", "check", file)).code, 0, "the file commands still work");
    await sb.reportDenials("cli", [
      { binary: "/usr/bin/curl", host: "x.example", port: 443, layer: "l7", method: "PUT", path: "/p" },
    ]);
    assert.match(
      (await airlock("denials", "--last", "5")).out,
      /L7 \/usr\/bin\/curl -> x\.example:443 PUT \/p/,
    );
    assert.match((await airlock("settings", "get", "approval_mode")).out, /approval_mode = "manual"/);
    assert.equal((await airlock("settings", "set", "approval_mode", "sometimes")).code, 1);
    assert.match((await airlock("gateway", "stop")).out, /gateway stopped/);
    assert.equal((await airlock("gateway", "status")).code, 1);
  } finally {
    await link?.stop();
    await airlock("gateway", "stop");
    rmSync(home, { recursive: true, force: true });
  }
});
