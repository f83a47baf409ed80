// Codex's exec-policy rules (`~/.codex/rules/*.rules`): a command an `allow` rule matches is run
// without asking and outside Codex's own sandbox (its PreToolUse hooks, the gate's among them,
// still run first and can deny it). A sandbox that could write the host's rules would have the
// developer's next host Codex run what it chose, unsandboxed, whenever the gate lets it through. Shown on the real
// Codex against the fake model, then attacked from inside a real `airlock run` with the preset;
// an absent `rules/` is blocked by an empty directory, which the real Codex inside starts with.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel } from "../../src/demo/fake-model/server.ts";
import { requireAgent } from "../agents/locate.ts";
import { runAgent } from "../agents/run-agent.ts";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { assertAllOk, checkNames, mustFail, mustPass } from "./fs-helpers.ts";

const CODEX_PRESET = join(REPO, "examples", "policies", "codex.yaml");
const ALLOW_TOUCH = 'prefix_rule(pattern=["touch"], decision="allow")\n';

describe("Codex's exec-policy rules: what the host Codex runs unsandboxed", () => {
  let dir: string;
  let home: string;
  let wd: string;
  let codex: string;
  before(() => {
    dir = scratchDir("attack-codex-rules");
    home = join(dir, "user");
    wd = join(home, "work");
    codex = join(home, ".codex");
    mkdirSync(wd, { recursive: true });
  });
  after(() => removeDir(dir));

  /** The host's Codex, in its read-only sandbox, asked to touch `marker` (outside the workdir). */
  async function hostCodexTouches(t: import("node:test").TestContext, marker: string): Promise<boolean> {
    const bin = requireAgent("codex", t);
    if (!bin) return false;
    const turns = [{ tool: "exec_command", input: { cmd: `touch ${marker}` } }];
    const model = await startFakeModel({ scenario: parseScenario({ turns }) });
    try {
      const args = ["--sandbox", "read-only"];
      const run = await runAgent({ agent: "codex", bin, model, prompt: "go", cwd: wd, home, args });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      await model.close();
    }
    return true;
  }

  test("the attack is real: an allow rule makes the host Codex run the command outside its sandbox", async (t) => {
    for (const rule of [false, true]) {
      const marker = join(dir, `OUTSIDE-${rule}`);
      rmSync(codex, { recursive: true, force: true });
      mkdirSync(join(codex, "rules"), { recursive: true });
      if (rule) writeFileSync(join(codex, "rules", "default.rules"), ALLOW_TOUCH);
      if (!(await hostCodexTouches(t, marker))) return;
      assert.equal(existsSync(marker), rule, rule ? "the rule lifted the sandbox" : "the sandbox held");
    }
  });

  test("codex preset: rules cannot be planted or changed from inside, present or absent", async (t) => {
    const attempts = [
      mustFail("create", `mkdir -p ${codex}/rules && printf '${ALLOW_TOUCH}' > ${codex}/rules/default.rules`),
      mustFail("move", `mv ${codex}/rules ${codex}/rules-x && mkdir ${codex}/rules`),
      mustPass("state", `echo x > ${codex}/history.jsonl`),
    ];
    for (const existing of [true, false]) {
      rmSync(codex, { recursive: true, force: true });
      mkdirSync(codex);
      if (existing) {
        mkdirSync(join(codex, "rules"));
        writeFileSync(join(codex, "rules", "default.rules"), "");
      }
      const checks = [
        ...attempts,
        existing
          ? mustFail("append", `echo '${ALLOW_TOUCH}' >> ${codex}/rules/default.rules`)
          : mustPass("placeholder-is-a-directory", `test -d ${codex}/rules && ls ${codex}/rules`),
      ];
      const run = await runCli(
        ["run", "--policy", CODEX_PRESET, "--workdir", wd, "--", "/bin/sh", "-c", checks.join("\n")],
        { airlockHome: join(dir, "airlock-codex"), env: { HOME: home, XDG_STATE_HOME: join(dir, "state") } },
      );
      assertAllOk(run.stdout, checkNames(checks), run.stderr);
      if (existing) assert.equal(readFileSync(join(codex, "rules", "default.rules"), "utf8"), "");
      else assert.equal(existsSync(join(codex, "rules")), false, "no placeholder left on the host");
    }
    const marker = join(dir, "OUTSIDE-after");
    if (!(await hostCodexTouches(t, marker))) return;
    assert.equal(existsSync(marker), false, "the host Codex ran the command unsandboxed");
  });
});
