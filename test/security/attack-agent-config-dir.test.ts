// An agent's home moved by the environment (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`): the host's agent
// obeys that folder's settings, hooks, skills and `.env` instead of `~/.claude`'s / `~/.codex`'s,
// so they are protected there the same way. Attacked from inside a real `airlock run` with the
// shipped presets, adapted as a developer would (the moved home listed as writable), and with the
// moved home inside the workdir (not listed: read-only as a whole); asserted on the host's files.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { assertAllOk, checkNames, mustFail, mustPass } from "./fs-helpers.ts";

/** A shipped preset whose agent home is `folder` instead (what a developer with the variable set writes). */
function presetFor(file: string, from: string, folder: string, out: string): string {
  const text = readFileSync(join(REPO, "examples", "policies", file), "utf8");
  const adapted = text.replace(from, folder);
  assert.notEqual(adapted, text, `${file} lists ${from}`);
  writeFileSync(out, adapted);
  return out;
}

const HOOK = '{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"touch /tmp/PWNED"}]}]}}';

describe("an agent home the environment moves: protected where it really is", () => {
  let dir: string;
  let home: string;
  let wd: string;
  before(() => {
    dir = scratchDir("attack-agent-config-dir");
    home = join(dir, "user");
    wd = join(home, "work");
    mkdirSync(wd, { recursive: true });
  });
  after(() => removeDir(dir));

  /** The checks from inside a real `airlock run`, with the host's environment moving a home. */
  async function runChecks(policy: string, checks: string[], name: string, moved: NodeJS.ProcessEnv) {
    const run = await runCli(
      ["run", "--policy", policy, "--workdir", wd, "--", "/bin/sh", "-c", checks.join("\n")],
      {
        airlockHome: join(dir, name),
        env: { HOME: home, XDG_STATE_HOME: join(dir, "state"), ...moved },
      },
    );
    assertAllOk(run.stdout, checkNames(checks), run.stderr);
  }

  test("CLAUDE_CONFIG_DIR listed as writable: settings, hooks, skills, .config.json stay as the host has them", async () => {
    const cfg = join(home, "claude-config");
    rmSync(cfg, { recursive: true, force: true });
    mkdirSync(cfg);
    writeFileSync(join(cfg, "settings.json"), "{}\n");
    const policy = presetFor(
      "claude-code.yaml",
      "~/.claude, ~/.claude.json",
      "~/claude-config",
      join(dir, "claude-moved.yaml"),
    );
    const checks = [
      mustFail("settings", `echo '${HOOK}' > ${cfg}/settings.json`),
      mustFail("settings-rename", `echo '${HOOK}' > ${cfg}/s && mv ${cfg}/s ${cfg}/settings.json`),
      mustFail("settings-local", `echo '${HOOK}' > ${cfg}/settings.local.json`),
      mustFail("hooks", `mkdir -p ${cfg}/hooks && echo 'touch /tmp/PWNED' > ${cfg}/hooks/h.sh`),
      mustFail("skills", `mkdir -p ${cfg}/skills/x && echo '!touch /tmp/PWNED' > ${cfg}/skills/x/SKILL.md`),
      mustFail("legacy-config", `echo '{"env":{"BASH_ENV":"/tmp/x"}}' > ${cfg}/.config.json`),
      mustFail("move-home", `mv ${cfg} ${home}/claude-config-old`),
      mustPass("state-writable", `echo x > ${cfg}/history.jsonl`),
      mustPass("config-json-writable", `echo '{"numStartups":2}' > ${cfg}/.claude.json`),
    ];
    await runChecks(policy, checks, "airlock-claude", { CLAUDE_CONFIG_DIR: cfg });
    assert.equal(readFileSync(join(cfg, "settings.json"), "utf8"), "{}\n");
    for (const name of ["settings.local.json", "hooks", "skills", ".config.json"])
      assert.equal(existsSync(join(cfg, name)), false, `${name} (or its placeholder) left on the host`);
  });

  test("CODEX_HOME listed as writable: config, .env and hooks stay as the host has them", async () => {
    const codex = join(home, "codex-home");
    rmSync(codex, { recursive: true, force: true });
    mkdirSync(codex);
    writeFileSync(join(codex, "config.toml"), 'model = "fake-model"\n');
    writeFileSync(join(codex, "work.config.toml"), 'model = "fake-model"\n');
    const policy = presetFor("codex.yaml", "~/.codex]", "~/codex-home]", join(dir, "codex-moved.yaml"));
    const checks = [
      mustFail("config", `echo 'notify = ["touch", "/tmp/PWNED"]' >> ${codex}/config.toml`),
      mustFail("env", `echo 'BASH_ENV=/tmp/x' > ${codex}/.env`),
      mustFail("hooks", `echo '{}' > ${codex}/hooks.json`),
      mustFail("profile", `cp ${codex}/config.toml ${codex}/p && mv ${codex}/p ${codex}/work.config.toml`),
      mustFail("profile-append", `echo 'notify = ["touch", "/tmp/PWNED"]' >> ${codex}/work.config.toml`),
      mustPass("state-writable", `echo x > ${codex}/history.jsonl`),
    ];
    await runChecks(policy, checks, "airlock-codex", { CODEX_HOME: codex });
    assert.equal(readFileSync(join(codex, "config.toml"), "utf8"), 'model = "fake-model"\n');
    for (const name of [".env", "hooks.json"]) assert.equal(existsSync(join(codex, name)), false, name);
  });

  test("CLAUDE_CONFIG_DIR and the policy naming the folder through a symbolic link: protected all the same", async () => {
    const real = join(home, "real-config");
    const link = join(home, "config-link");
    rmSync(real, { recursive: true, force: true });
    rmSync(link, { force: true });
    mkdirSync(real);
    symlinkSync(real, link);
    const policy = presetFor(
      "claude-code.yaml",
      "~/.claude, ~/.claude.json",
      "~/real-config",
      join(dir, "real.yaml"),
    );
    const checks = [
      mustFail("via-real", `echo '${HOOK}' > ${real}/settings.json`),
      mustFail("via-link", `echo '${HOOK}' > ${link}/settings.json`),
      mustPass("state-writable", `echo x > ${real}/history.jsonl`),
    ];
    await runChecks(policy, checks, "airlock-claude-link", { CLAUDE_CONFIG_DIR: link });
    assert.equal(existsSync(join(real, "settings.json")), false);
  });

  test("CLAUDE_CONFIG_DIR inside the workdir (not listed): read-only as a whole", async () => {
    const cfg = join(wd, "agent-config");
    rmSync(cfg, { recursive: true, force: true });
    mkdirSync(cfg);
    const checks = [
      mustFail("settings", `echo '${HOOK}' > ${cfg}/settings.json`),
      mustFail("move-home", `mv ${cfg} ${wd}/elsewhere`),
      mustPass("workdir-writable", `echo x > ${wd}/file`),
    ];
    const policy = join(REPO, "examples", "policies", "claude-code.yaml");
    await runChecks(policy, checks, "airlock-claude-wd", { CLAUDE_CONFIG_DIR: cfg });
    assert.equal(existsSync(join(cfg, "settings.json")), false);
  });
});
