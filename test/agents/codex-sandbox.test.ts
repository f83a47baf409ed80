// Codex inside `airlock run` with examples/policies/codex.yaml, unmodified, and no extra flags
// (its own sandbox is off through the sandbox's managed config): it reaches its (scripted) API
// through the proxy, its curl gets the structured 403, it follows next_steps (skill, proposal,
// /wait), the developer approves from the host, and the retry reaches api.github.com. And the
// first run on a machine with no ~/.codex.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { assertLoop, runLoopInSandbox } from "./sandbox-loop.ts";

test("codex in airlock run: denied, proposes, approved from the host, retry succeeds", async (t) => {
  const result = await runLoopInSandbox("codex", t, {
    prepareHome: (home) => mkdirSync(join(home, ".codex")),
  });
  if (!result) return;
  assertLoop(result, { host: "api.openai.com", binary: /\/bin\/codex\b/ });
  assert.ok(!result.logLines.some((l) => l.includes("ab.chatgpt.com")), "Codex's analytics are off inside");
  assert.doesNotMatch(
    result.run.stdout + result.run.stderr,
    /Creating new namespace failed/,
    "Codex's own sandbox is off",
  );
});

test("codex in airlock run, first run: no ~/.codex yet", async (t) => {
  const result = await runLoopInSandbox("codex", t, {
    prepareHome: (home) => assert.equal(existsSync(join(home, ".codex")), false),
  });
  if (!result) return;
  assert.equal(result.run.code, 0, result.run.stderr);
  assert.ok(result.github.files.has("docs/getting-started.md"));
});
