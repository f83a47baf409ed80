// `--json` on every CLI command that changes state prints what changed, against a real daemonized
// gateway and a linked sandbox: gateway start, settings set, rule approve/undo/edit/reject and
// policy set.
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

test("--json on state-changing commands says what changed", { timeout: 300_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), "airlock-cli-json-"));
  const env = { ...process.env, AIRLOCK_HOME: home, AIRLOCK_GATEWAY: "", AIRLOCK_TOKEN: "" };
  const json = async (...args: string[]) => {
    const r = await run(process.execPath, ["bin/airlock.js", ...args, "--json"], { env, timeout: 30_000 });
    return JSON.parse(r.stdout);
  };
  let link: GatewayLink | null = null;
  try {
    const started = await json("gateway", "start");
    assert.equal(started.started, true);
    assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await json("gateway", "start")).started, false);

    const op = GatewayClient.fromEnv(env);
    link = new GatewayLink({
      gateway: started.url,
      operatorToken: op.opts.token,
      sandbox: "cj",
      policy: BASE_POLICY as unknown as Policy,
      applyPolicy: async () => "loaded",
    });
    await link.start();
    assert.deepEqual(await json("settings", "set", "agent_policy_proposals_enabled", "true"), {
      key: "agent_policy_proposals_enabled",
      set: "true",
      scope: "global",
      effective: true,
    });
    const sub = await link.client().submit("cj", {
      operations: [addRule("put_x", putRule()), addRule("other", l4Rule("other.example"))],
    });
    const [putId, otherId] = sub.accepted_chunk_ids as [string, string];

    const approved = await json("rule", "approve", "--chunk-id", putId);
    assert.equal(approved.action, "approved");
    assert.deepEqual(approved.chunk, {
      id: putId,
      rule_name: "put_x",
      sandbox: "cj",
      status_before: "pending",
    });
    assert.equal(approved.revision.version, 2);

    const undone = await json("rule", "undo", "--chunk-id", putId);
    assert.equal(undone.action, "undone");
    assert.equal(undone.chunk.status_before, "approved");
    assert.equal(undone.revision.version, 3);

    const ruleFile = join(home, "rule.yaml");
    writeFileSync(
      ruleFile,
      "endpoints: [{host: other.example, port: 8443}]\nbinaries: [{path: /usr/bin/curl}]\n",
    );
    const edited = await json("rule", "edit", "--chunk-id", otherId, "--file", ruleFile);
    assert.equal(edited.action, "edited");
    assert.equal(edited.chunk.id, otherId);
    assert.deepEqual(
      edited.chunk.proposed_rule.endpoints[0].ports ?? [edited.chunk.proposed_rule.endpoints[0].port],
      [8443],
    );

    const rejected = await json("rule", "reject", "--chunk-id", otherId, "--reason", "not needed");
    assert.deepEqual([rejected.action, rejected.revision], ["rejected", null]);

    const policyFile = join(home, "p.yaml");
    writeFileSync(
      policyFile,
      "version: 1\nnetwork_policies:\n  only:\n    endpoints: [{host: a.example, port: 443}]\n    binaries: [{path: /usr/bin/curl}]\n",
    );
    const set = await json("policy", "set", "cj", policyFile, "--wait", "--timeout", "20");
    assert.equal(set.sandbox, "cj");
    assert.equal(set.revision.version, 4);
    assert.equal(set.loaded.status, "loaded");
  } finally {
    await link?.stop();
    await run(process.execPath, ["bin/airlock.js", "gateway", "stop"], { env }).catch(() => {});
    rmSync(home, { recursive: true, force: true });
  }
});
