// Claude Code inside `airlock run` with examples/policies/claude-code.yaml, unmodified, on a
// machine where it never ran (no ~/.claude): it reaches its (scripted) API through the proxy,
// its curl gets the structured 403, it follows next_steps (skill, proposal, /wait), the
// developer approves from the host, and the retry reaches api.github.com.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { afterTurn, runLoopInSandbox } from "./sandbox-loop.ts";

test("claude-code in airlock run: denied, proposes, approved from the host, retry succeeds", async (t) => {
  const result = await runLoopInSandbox("claude-code", t, {
    prepareHome: (home) => assert.equal(existsSync(`${home}/.claude`), false, "first run"),
  });
  if (!result) return;
  const { run, model, github, approved, logLines } = result;
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-3000)}`);
  assert.ok(
    logLines.some((l) => l.includes("ALLOWED CONNECT api.anthropic.com:443") && l.includes("claude.exe")),
    "the agent's own binary reached its API through the proxy",
  );
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
