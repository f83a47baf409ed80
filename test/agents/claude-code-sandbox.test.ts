// Claude Code inside `airlock run` with examples/policies/claude-code.yaml, unmodified, on a
// machine where it never ran (no ~/.claude): it reaches its (scripted) API through the proxy,
// its curl gets the structured 403, it follows next_steps (skill, proposal, /wait), the
// developer approves from the host, and the retry reaches api.github.com.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { assertLoop, runLoopInSandbox } from "./sandbox-loop.ts";

test("claude-code in airlock run: denied, proposes, approved from the host, retry succeeds", async (t) => {
  const result = await runLoopInSandbox("claude-code", t, {
    prepareHome: (home) => assert.equal(existsSync(`${home}/.claude`), false, "first run"),
  });
  if (!result) return;
  assertLoop(result, { host: "api.anthropic.com", binary: /claude\.exe/ });
});
