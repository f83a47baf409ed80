// A contained run (tier 1: `npm install`, `make`... run on an overlay and committed by rule)
// writing what a host tool runs on its own: a husky hook, a `.pth` file, a new bare repository
// with an fsmonitor. The commit must refuse every one of them, as `airlock run` disarms them and
// the gate's hard stops refuse them; ordinary changes, and package caches the sandbox's walk
// skips, are still committed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { hostCommitRanPayload, hostGitRanPayload, huskyRepo } from "./fs-helpers.ts";

const GATE = join(REPO, "examples", "policies", "gate.yaml");

describe("a contained run's commit and the files host tools run on their own", () => {
  let dir: string;
  let marker: string;
  before(() => {
    dir = scratchDir("attack-host-contain");
    marker = join(dir, "PWNED");
  });
  after(() => removeDir(dir));

  const plant = (m: string) =>
    [
      `echo 'touch ${m}' >> .husky/pre-commit`,
      // A git directory under another name, and a worktree whose .git file points at it.
      `git init -q --bare evil.git && printf '[core]\\n\\tbare = false\\n\\tfsmonitor = "touch ${m}; false"\\n' > evil.git/config`,
      "mkdir sub && echo 'gitdir: ../evil.git' > sub/.git",
      `mkdir -p lib/site-packages && echo 'import os; os.system("touch ${m}")' > lib/site-packages/x.pth`,
    ].join(" && ");

  test("the attack is real: unsandboxed, the script's files run at the next commit and git status", () => {
    const wd = join(dir, "wd-real");
    huskyRepo(wd);
    execFileSync("/bin/sh", ["-c", plant(marker)], { cwd: wd });
    assert.equal(hostCommitRanPayload(wd, marker), true, "husky ran the planted hook");
    rmSync(marker);
    assert.equal(hostGitRanPayload(join(wd, "sub"), marker), true, "git status in sub ran fsmonitor");
    rmSync(marker);
  });

  test("contained, every one is refused and nothing is committed; the next commit runs nothing", async () => {
    const wd = join(dir, "wd-contained");
    huskyRepo(wd);
    const run = await runCli(
      ["gate", "contain", "--policy", GATE, "--workdir", wd, "--", "/bin/sh", "-c", plant(marker)],
      {
        airlockHome: join(dir, "airlock"),
        cwd: wd,
      },
    );
    assert.equal(run.code, 1, `a discarded run exits 1\n${run.stdout}\n${run.stderr}`);
    const out = run.stdout + run.stderr;
    assert.match(out, /discarded/);
    for (const why of [
      /\.husky\/pre-commit: a file a host tool runs or obeys on its own \(husky\)/,
      /evil\.git\/config: protected/,
      /sub\/\.git: a file a host tool runs or obeys on its own \(git repository\)/,
      /lib\/site-packages\/x\.pth: a file a host tool runs or obeys on its own \(Python\)/,
    ])
      assert.match(out, why);
    assert.equal(existsSync(join(wd, "evil.git")), false);
    assert.equal(hostGitRanPayload(join(wd, "sub"), marker), false);
    assert.equal(existsSync(join(wd, ".husky", "pre-commit")), false);
    assert.equal(hostCommitRanPayload(wd, marker), false);
  });

  test("ordinary changes, and host-run names inside node_modules, are still committed", async () => {
    const wd = join(dir, "wd-ordinary");
    huskyRepo(wd);
    const script =
      "mkdir -p src node_modules/pkg/.husky && echo x > src/a.ts && echo y > node_modules/pkg/.husky/pre-commit";
    const run = await runCli(
      ["gate", "contain", "--policy", GATE, "--workdir", wd, "--", "/bin/sh", "-c", script],
      {
        airlockHome: join(dir, "airlock"),
        cwd: wd,
      },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(existsSync(join(wd, "src", "a.ts")), true);
    assert.equal(existsSync(join(wd, "node_modules", "pkg", ".husky", "pre-commit")), true);
  });
});
