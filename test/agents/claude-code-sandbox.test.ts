// Claude Code inside `airlock run` with examples/policies/claude-code.yaml, unmodified, on a
// machine where it never ran (no ~/.claude): it reaches its (scripted) API through the proxy,
// its curl gets the structured 403, it follows next_steps (skill, proposal, /wait), the
// developer approves from the host, and the retry reaches api.github.com.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { assertLoop, runLoopInSandbox } from "./sandbox-loop.ts";

test("claude-code in airlock run: denied, proposes, approved from the host, retry succeeds", async (t) => {
  const result = await runLoopInSandbox("claude-code", t, {
    prepareHome: (home) => assert.equal(existsSync(`${home}/.claude`), false, "first run"),
  });
  if (!result) return;
  assertLoop(result, { host: "api.anthropic.com", binary: /claude\.exe/ });
  // Claude Code wrote its private copy of ~/.claude.json inside (it renames a temporary file over
  // it, which the mount refuses, then writes in place); its bookkeeping reached the host's file.
  const state = JSON.parse(readFileSync(join(result.home, ".claude.json"), "utf8"));
  assert.match(state.firstStartTime ?? "", /^\d{4}-/, JSON.stringify(state));
  assert.deepEqual(
    readdirSync(result.home).filter((n) => n.startsWith(".claude.json.")),
    [],
    "no temporary file or lock left in the home",
  );
});
