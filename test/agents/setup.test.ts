// `airlock agent setup|doctor` against the real clients: setup writes a complete hook and is
// idempotent; doctor passes a good setup, and names each thing wrong with the command that
// fixes it; Codex's trust is Codex's own (a hook Codex does not trust never runs, a hook setup
// trusted does).
import assert from "node:assert/strict";
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import {
  type Airlock,
  airlock as airlockCli,
  doctorAgent,
  homePointingAt,
  makeProject,
  SECRET,
  setupAgent,
  startAirlock,
  userEnv,
} from "./harness.ts";
import { type AgentName, requireAgent } from "./locate.ts";
import { runAgent } from "./run-agent.ts";

const FILE: Record<AgentName, string> = {
  "claude-code": ".claude/settings.json",
  codex: ".codex/hooks.json",
};

let airlock: Airlock;
before(async () => {
  airlock = await startAirlock();
});
after(() => airlock.close());

for (const agent of ["claude-code", "codex"] as const)
  describe(`airlock agent setup|doctor ${agent}`, () => {
    test("setup writes a complete hook, keeps other hooks, and a second run changes nothing", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const p = makeProject();
      const file = join(p.userHome, FILE[agent]);
      const other = {
        matcher: "Write",
        hooks: [{ type: "command", command: "/usr/local/bin/my-linter", timeout: 5 }],
      };
      const codexBin = agent === "codex" ? { codexBin: bin } : {};
      const first = await setupAgent(agent, airlock.home, p, { wait: 50, ...codexBin });
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /PreToolUse hook added/);
      const config = JSON.parse(readFileSync(file, "utf8"));
      config.hooks.PreToolUse.unshift(other);
      writeFileSync(file, JSON.stringify(config));
      const again = await setupAgent(agent, airlock.home, p, { wait: 50, ...codexBin });
      assert.equal(again.status, 0, again.stderr);
      const written = readFileSync(file, "utf8");
      const groups = JSON.parse(written).hooks.PreToolUse;
      assert.deepEqual(groups[0], other, "another hook is kept as it was");
      assert.equal(groups.length, 2);
      const ours = groups[1];
      assert.equal(ours.matcher, "*");
      assert.equal(ours.hooks.length, 1);
      assert.match(ours.hooks[0].command, /bin\/airlock-hook .*--wait 50 --max-time 55/);
      assert.equal(ours.hooks[0].timeout, 60, "longer than the hook's own 55 s deadline");
      assert.equal(ours.hooks[0].onFailure, agent === "claude-code" ? "block" : undefined);
      const third = await setupAgent(agent, airlock.home, p, { wait: 50, ...codexBin });
      assert.match(third.stdout, /PreToolUse hook unchanged/);
      assert.equal(readFileSync(file, "utf8"), written, "idempotent");
      const doc = await doctorAgent(agent, airlock.home, p, agent === "codex" ? ["--codex-bin", bin] : []);
      assert.equal(doc.status, 0, doc.stdout + doc.stderr);
      assert.match(doc.stdout, /the hook is installed as it should be/);
    });

    test("doctor says what is wrong and how to fix it", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const p = makeProject();
      const codexArgs = agent === "codex" ? ["--codex-bin", bin] : [];
      const missing = await doctorAgent(agent, airlock.home, p, codexArgs);
      assert.equal(missing.status, 1);
      assert.match(
        missing.stdout,
        new RegExp(`hook missing[^\\n]*\\n\\s+fix: airlock agent setup ${agent} --user`),
      );
      const set = await setupAgent(agent, airlock.home, p, {
        wait: 50,
        ...(agent === "codex" ? { codexBin: bin } : {}),
      });
      assert.equal(set.status, 0, set.stderr);
      const file = join(p.userHome, FILE[agent]);
      const config = JSON.parse(readFileSync(file, "utf8"));
      const hook = config.hooks.PreToolUse[0].hooks[0];
      hook.timeout = 30;
      delete hook.onFailure;
      writeFileSync(file, JSON.stringify(config));
      const bad = await doctorAgent(agent, airlock.home, p, codexArgs);
      assert.equal(bad.status, 1);
      assert.match(bad.stdout, /timeout too short: 30, but the hook may take 55s/);
      if (agent === "claude-code") assert.match(bad.stdout, /onFailure is not "block"/);
      // Codex's hash covers the timeout: the edited hook is no longer trusted, and Codex says so.
      else assert.match(bad.stdout, /pre_tool_use:0:0: modified \(Codex skips untrusted hooks/);
      assert.match(bad.stdout, new RegExp(`fix: airlock agent setup ${agent} --user`));
      const down = await doctorAgent(agent, homePointingAt("http://127.0.0.1:9"), p, codexArgs);
      assert.match(down.stdout, /gateway unreachable .*\n\s+fix: airlock gateway start/);
      const policy = join(p.userHome, "gate.yaml");
      writeFileSync(policy, "gate:\n  hard_stops: [\n");
      const withBrokenPolicy = await setupAgent(agent, airlock.home, p, {
        wait: 50,
        policy,
        ...(agent === "codex" ? { codexBin: bin } : {}),
      });
      assert.equal(withBrokenPolicy.status, 0, withBrokenPolicy.stderr);
      const unloadable = await doctorAgent(agent, airlock.home, p, codexArgs);
      assert.equal(unloadable.status, 1);
      assert.match(
        unloadable.stdout,
        /the gate policy fails to load: [\s\S]*?gate\.yaml[\s\S]*?fix: airlock gate check --policy /,
      );
      writeFileSync(file, "{ not json");
      const broken = await doctorAgent(agent, airlock.home, p, codexArgs);
      assert.match(broken.stdout, /not valid JSON .* then ignores every hook in it/);
    });
  });

test("codex: a hook setup trusted runs; without Codex's trust entry it is skipped, and doctor says so", async (t) => {
  const bin = requireAgent("codex", t);
  if (!bin) return;
  const p = makeProject();
  const set = await setupAgent("codex", airlock.home, p, { wait: 1, codexBin: bin });
  assert.equal(set.status, 0, set.stderr);
  const config = readFileSync(join(p.userHome, ".codex", "config.toml"), "utf8");
  assert.match(
    config,
    /\[hooks\.state\."[^"]+hooks\.json:pre_tool_use:0:0"\]\ntrusted_hash = "sha256:[0-9a-f]{64}"/,
  );
  const readSecret = { tool: "exec_command", input: { cmd: "cat .env" } };
  const run = async () => {
    const model = await startFakeModel({ scenario: parseScenario({ turns: [readSecret] }) });
    try {
      const r = await runAgent({
        agent: "codex",
        bin,
        model,
        prompt: "go",
        cwd: p.workdir,
        home: p.userHome,
        args: ["--dangerously-bypass-approvals-and-sandbox"],
      });
      assert.equal(r.status, 0, r.stderr);
      return toolResults(model.turns().at(-1))[0] ?? "";
    } finally {
      await model.close();
    }
  };
  await run();
  assert.equal(
    readFileSync(join(p.victim, "keep.txt"), "utf8"),
    "keep me\n",
    "the trusted hook ran and denied",
  );
  // The trust entry gone (as after `hooks.json` copied by hand, the old docs' way): Codex skips it.
  writeFileSync(join(p.userHome, ".codex", "config.toml"), "");
  const doc = await doctorAgent("codex", airlock.home, p, ["--codex-bin", bin]);
  assert.match(doc.stdout, /pre_tool_use:0:0: untrusted \(Codex skips untrusted hooks/);
  const ungated = await run();
  assert.ok(
    ungated.includes(SECRET),
    `untrusted: Codex ran cat .env ungated and sent the secret on: ${ungated}`,
  );
});

test("doctor --preset: the sandbox policy must let the installed agent binary reach its API", async (t) => {
  const bin = requireAgent("claude-code", t);
  if (!bin) return;
  const p = makeProject();
  const set = await setupAgent("claude-code", airlock.home, p, { wait: 50 });
  assert.equal(set.status, 0, set.stderr);
  const real = realpathSync(bin);
  const preset = (binary: string) => {
    const file = join(p.userHome, `preset-${binary.length}.yaml`);
    writeFileSync(
      file,
      `version: 1\nnetwork_policies:\n  api:\n    endpoints: [{ host: api.anthropic.com, port: 443 }]\n    binaries: [{ path: "${binary}" }]\n`,
    );
    return file;
  };
  const path = { PATH: `${dirname(bin)}:${process.env["PATH"]}` };
  const doctor = (file: string) =>
    airlockCli(
      ["agent", "doctor", "claude-code", "--preset", file],
      { ...userEnv(airlock.home, p), ...path },
      p.workdir,
    );
  // The npm layout's binary is …/@anthropic-ai/claude-code/bin/claude.exe: a `/**/claude` rule misses it.
  const missed = await doctor(preset("/**/claude"));
  assert.equal(missed.status, 1, missed.stdout);
  assert.match(missed.stdout, new RegExp(`does not list the agent's binary ${real.replaceAll(".", "\\.")}`));
  assert.match(missed.stdout, /fix: add "- path: .*claude\.exe" to the binaries/);
  const listed = await doctor(preset(real));
  assert.equal(listed.status, 0, listed.stdout);
  assert.match(listed.stdout, /lets .*claude\.exe reach api\.anthropic\.com/);
});
