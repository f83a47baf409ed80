// `airlock demo --agent claude-code|codex`: the demo's loop with the real agent (the pinned CLI
// put on PATH) and the scripted model, through the real CLI; a clear message how to install the
// agent when it is not on PATH; a wrong --agent is a usage error.
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { test } from "node:test";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { requireAgent } from "./locate.ts";

for (const agent of ["claude-code", "codex"] as const) {
  test(`airlock demo --agent ${agent}: denied, proposed, approved, hot-reloaded, retried`, async (t) => {
    const bin = requireAgent(agent, t);
    if (!bin) return;
    const home = scratchDir("demo-agent");
    t.after(() => removeDir(home));
    const run = await runCli(["demo", "--agent", agent], {
      airlockHome: home,
      env: { PATH: `${dirname(bin)}:${process.env["PATH"]}` },
      timeoutMs: 300_000,
    });
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout.slice(-4000)}`);
    assert.match(run.stdout, new RegExp(`The policy: the shipped preset examples/policies/${agent}.yaml`));
    assert.match(run.stdout, /"error":"policy_denied"|policy_denied/);
    assert.match(run.stdout, /The developer approves chunk/);
    assert.match(
      run.stdout,
      /DENIED PUT https:\/\/api\.github\.com:443\/repos\/acme\/site\/contents\/docs\/getting-started\.md/,
    );
    assert.match(run.stdout, /LOADED policy version:2/);
    assert.match(
      run.stdout,
      /ALLOWED PUT https:\/\/api\.github\.com:443\/repos\/acme\/site\/contents\/docs\/getting-started\.md/,
    );
    assert.match(run.stdout, /The file the agent wrote reached the \(fake\) upstream\./);
  });
}

test("airlock demo --agent without the agent installed says how to install it", async () => {
  const home = scratchDir("demo-agent-missing");
  try {
    const run = await runCli(["demo", "--agent", "codex"], {
      airlockHome: home,
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /Codex is not installed \(no `codex` on PATH\)\. Install it with `npm install -g @openai\/codex`/,
    );
    assert.match(run.stderr, /`airlock demo` alone runs the scripted agent/);
    const wrong = await runCli(["demo", "--agent", "cursor"], { airlockHome: home });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--agent: expected one of claude-code, codex, got "cursor"/);
  } finally {
    removeDir(home);
  }
});
