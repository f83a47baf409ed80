// Protected paths hold against a sandboxed attacker: no ancestor of a git directory, `.claude/`
// or a `.git` file can be renamed, removed or replaced, in any repository of the workdir (nested
// ones, linked worktrees, submodules). Real git repositories, a real `airlock run`, and the proof
// on the host: every protected file unchanged and a host `git status` runs nothing planted.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  assertAllOk,
  checkNames,
  fsmonitorConfig,
  git,
  hostGitRanPayload,
  makeRepo,
  mustFail,
  mustPass,
} from "./fs-helpers.ts";

describe("protected paths cannot be replaced from inside", () => {
  let dir: string;
  let wd: string;
  let marker: string;
  const snapshot = new Map<string, string>();
  const protectedFiles = [
    ".git/config",
    ".claude/settings.json",
    "nested/deep/repo/.git/config",
    "wt/.git",
    "sub/.git",
    ".git/modules/sub/config",
    ".git/worktrees/wt/commondir",
    "project.gitconfig",
  ];
  before(() => {
    dir = scratchDir("fs-protected");
    wd = join(dir, "wd");
    marker = join(dir, "PWNED");
    makeRepo(wd);
    mkdirSync(join(wd, ".claude"));
    writeFileSync(join(wd, ".claude", "settings.json"), "{}\n");
    makeRepo(join(wd, "nested", "deep", "repo"));
    git(wd, "worktree", "add", "-q", "wt");
    makeRepo(join(dir, "upstream-sub"));
    git(wd, "submodule", "add", "-q", join(dir, "upstream-sub"), "sub");
    git(wd, "commit", "-q", "-m", "submodule");
    // Config the repository includes from the worktree: obeyed like .git/config itself.
    writeFileSync(join(wd, "project.gitconfig"), "[user]\n\tname = t\n");
    git(wd, "config", "include.path", "../project.gitconfig");
    for (const f of protectedFiles) snapshot.set(f, readFileSync(join(wd, f), "utf8"));
  });
  after(() => removeDir(dir));

  test("the attack works on an unprotected copy (the payload and the host probe are real)", () => {
    const copy = join(dir, "control");
    makeRepo(copy);
    writeFileSync(join(copy, ".git", "config"), fsmonitorConfig(join(dir, "CONTROL")));
    assert.equal(hostGitRanPayload(copy, join(dir, "CONTROL")), true);
  });

  test("rename, remove, replace, link: every attempt fails and the host is untouched", async () => {
    const evil = fsmonitorConfig(marker);
    const plant = (gitDir: string) =>
      `printf '%s' '${evil}' > ${gitDir}/config && mkdir -p ${gitDir}/hooks && printf '#!/bin/sh\\ntouch ${marker}\\n' > ${gitDir}/hooks/pre-commit`;
    const checks = [
      // What git needs keeps working (checked first: `rm -rf .git` below empties what is writable).
      mustPass("git-status", "git status --short"),
      mustPass("git-add", "echo work > work.txt && git add work.txt"),
      mustPass("content-writable", "echo more >> nested/deep/repo/README"),
      mustFail("mv-git-copy-back", `mv .git .git-x && cp -a .git-x .git && ${plant(".git")}`),
      mustFail("cp-then-rename-over", `cp -a .git /tmp/g && ${plant("/tmp/g")} && mv -T /tmp/g .git`),
      mustFail("rm-git", "rm -rf .git && test ! -e .git"),
      mustFail("symlink-over-git", "ln -sfn /tmp .git && test -L .git"),
      mustFail("write-config", `printf '%s' '${evil}' >> .git/config`),
      mustFail("included-config", `printf '%s' '${evil}' >> project.gitconfig`),
      mustFail("included-config-replace", "rm -f project.gitconfig"),
      mustFail("new-hook", `echo 'touch ${marker}' > .git/hooks/pre-commit`),
      mustFail("hooks-dir-rename", "mv .git/hooks .git/hooks-x"),
      mustFail("commondir-plant", "echo /tmp/g > .git/commondir"),
      mustFail("hardlink-config", "ln .git/config cfg-link"),
      mustFail("rename-ancestor", "mv nested nested-x"),
      mustFail("rename-deeper-ancestor", "mv nested/deep nested/deep-x"),
      mustFail("rm-ancestor", "rm -rf nested && test ! -e nested"),
      mustFail("nested-git-rename", "mv nested/deep/repo/.git nested/deep/repo/.git-x"),
      mustFail("nested-config", `printf '%s' '${evil}' > nested/deep/repo/.git/config`),
      mustFail("nested-hook", `echo x > nested/deep/repo/.git/hooks/post-checkout`),
      mustFail("worktree-file-rewrite", "echo 'gitdir: /tmp/g' > wt/.git"),
      mustFail("worktree-file-rename", "mv wt/.git wt/.git-x"),
      mustFail("worktree-dir-rename", "mv wt wt-x"),
      mustFail("worktree-commondir", "echo /tmp/g > .git/worktrees/wt/commondir"),
      mustFail("worktrees-rename", "mv .git/worktrees .git/worktrees-x"),
      mustFail("submodule-file", "echo 'gitdir: /tmp/g' > sub/.git"),
      mustFail("submodule-config", `printf '%s' '${evil}' > .git/modules/sub/config`),
      mustFail("submodule-hook", "echo x > .git/modules/sub/hooks/post-checkout"),
      mustFail("modules-rename", "mv .git/modules .git/modules-x"),
      mustFail("module-rename", "mv .git/modules/sub .git/modules/sub-x"),
      mustFail("claude-rename", "mv .claude .claude-x"),
      mustFail("claude-settings", `echo '{"hooks":{}}' > .claude/settings.json`),
      mustFail("claude-new-file", "echo x > .claude/settings.local.json"),
      mustFail("claude-symlink", "rm -rf .claude; ln -s /tmp .claude && test -L .claude"),
      mustFail("mcp-new", "echo '{}' > .mcp.json"),
    ];
    const run = await runCli(["run", "--workdir", wd, "--", "/bin/sh", "-c", checks.join("\n")], {
      airlockHome: join(dir, "airlock-home"),
    });
    assertAllOk(run.stdout, checkNames(checks), run.stderr);
    for (const [f, text] of snapshot) assert.equal(readFileSync(join(wd, f), "utf8"), text, f);
    assert.ok(!readdirSync(join(wd, ".git", "hooks")).includes("pre-commit"));
    assert.equal(existsSync(join(wd, ".git", "commondir")), false, "the commondir placeholder is gone");
    for (const repo of ["", "nested/deep/repo", "wt", "sub"]) {
      assert.equal(hostGitRanPayload(join(wd, repo), marker), false, `host git status in ${repo || "."}`);
    }
    assert.equal(existsSync(marker), false);
  });

  test("a workdir past the scan's bounds is refused, not half protected", async () => {
    const deep = join(dir, "deep");
    mkdirSync(join(deep, ...Array.from({ length: 70 }, (_, i) => `d${i}`)), { recursive: true });
    const run = await runCli(["run", "--workdir", deep, "--", "true"], {
      airlockHome: join(dir, "airlock-deep"),
    });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /too many to find every repository in it/);
  });
});
