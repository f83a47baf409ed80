// Codex inside `airlock run` with examples/policies/codex.yaml, unmodified, and no extra flags
// (its own sandbox is off through the sandbox's managed config): it reaches its (scripted) API
// through the proxy, its curl gets the structured 403, it follows next_steps (skill, proposal,
// /wait), the developer approves from the host, and the retry reaches api.github.com. And the
// first run on a machine with no ~/.codex.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { afterTurn, runLoopInSandbox } from "./sandbox-loop.ts";

test("codex in airlock run: denied, proposes, approved from the host, retry succeeds", async (t) => {
  const result = await runLoopInSandbox("codex", t, {
    prepareHome: (home) => mkdirSync(join(home, ".codex")),
  });
  if (!result) return;
  const { run, model, github, approved, logLines } = result;
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
  assert.ok(
    logLines.some((l) => l.includes("ALLOWED CONNECT api.openai.com:443") && l.includes("/bin/codex")),
    "the agent's own binary reached its API through the proxy",
  );
  assert.ok(!logLines.some((l) => l.includes("ab.chatgpt.com")), "Codex's analytics are off inside");
  assert.doesNotMatch(run.stdout + run.stderr, /Creating new namespace failed/, "Codex's own sandbox is off");
  const denied = afterTurn(model, 0);
  assert.match(denied, /policy_denied/, "the PUT's structured 403 reached the model");
  assert.match(denied, /next_steps/);
  assert.match(afterTurn(model, 1), /policy\.local/, "the skill file was read");
  const decision = afterTurn(model, 2);
  assert.match(decision, /accepted_chunk_ids/);
  assert.match(decision, /\\"status\\":\\"approved\\"/);
  assert.match(decision, /policy_reloaded\\":true/);
  assert.equal(approved.length, 1, "one proposal, approved from the host");
  assert.equal(
    github.files.get("docs/getting-started.md")?.includes("real agent"),
    true,
    "the retry's PUT landed",
  );
  assert.deepEqual(
    github.seen.filter((s) => s.startsWith("PUT")),
    ["PUT /repos/acme/site/contents/docs/getting-started.md"],
    "the denied PUT never reached the upstream; the retry did",
  );
});

test("codex in airlock run, first run: no ~/.codex yet", {
  todo: "the sandbox creates a missing read_write path under the home (the mounts branch)",
}, async (t) => {
  const result = await runLoopInSandbox("codex", t, {
    prepareHome: (home) => assert.equal(existsSync(join(home, ".codex")), false),
  });
  if (!result) return;
  assert.equal(result.run.code, 0, result.run.stderr);
  assert.ok(result.github.files.has("docs/getting-started.md"));
});
