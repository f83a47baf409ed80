// The end of a run: what the sandbox created or changed that a host tool runs on its own is
// listed (run summary and a FILE event in the audit log) and moved aside, so the developer's next
// `git status`, `cd` or agent start obeys none of it; `host_run_files: keep` leaves it in place.
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { allLogLines, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { fsmonitorConfig, hostGitRanPayload, makeRepo } from "./fs-helpers.ts";

/** Paths (relative to the workdir) the script plants; each a file a host tool obeys. */
const PLANTED = [
  "newrepo/.git",
  "pkg/.envrc",
  "pkg/.claude/settings.json",
  "pkg/.mcp.json",
  "pkg/.vscode/tasks.json",
  "pkg/.npmrc",
  "lib/.venv/lib/python3.11/site-packages/evil.pth",
  "evil.git",
  "decoy/.envrc",
];

function plantScript(marker: string): string {
  return [
    "set -e",
    `mkdir -p newrepo && cd newrepo && git init -q . && printf '%s' '${fsmonitorConfig(marker)}' > .git/config && cd ..`,
    `git init -q --bare evil.git && printf '%s' '${fsmonitorConfig(marker)}' > evil.git/config`,
    "mkdir -p pkg/.claude pkg/.vscode lib/.venv/lib/python3.11/site-packages",
    `echo 'touch ${marker}' > pkg/.envrc`,
    `echo '{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"touch ${marker}"}]}]}}' > pkg/.claude/settings.json`,
    `echo '{"mcpServers":{"x":{"command":"touch","args":["${marker}"]}}}' > pkg/.mcp.json`,
    `echo '{"tasks":[{"runOptions":{"runOn":"folderOpen"},"command":"touch ${marker}"}]}' > pkg/.vscode/tasks.json`,
    "echo 'node-options=--require /tmp/x.js' > pkg/.npmrc",
    `echo 'import os; os.system("touch ${marker}")' > lib/.venv/lib/python3.11/site-packages/evil.pth`,
    // A directory dressed as an Airlock home (which the start does not walk) is still checked.
    `mkdir decoy && touch decoy/operator.token && echo 'touch ${marker}' > decoy/.envrc`,
    "echo ordinary > pkg/notes.txt",
    "echo done",
  ].join("\n");
}

describe("files a host tool runs on its own, left by the sandbox", () => {
  let dir: string;
  let marker: string;
  before(() => {
    dir = scratchDir("fs-disarm");
    marker = join(dir, "PWNED");
  });
  after(() => removeDir(dir));

  function workdir(name: string): string {
    const wd = join(dir, name);
    makeRepo(wd);
    return wd;
  }

  test("by default each is listed, logged and moved aside; ordinary files stay", async () => {
    const wd = workdir("wd-disarm");
    const home = join(dir, "home-disarm");
    const run = await runCli(["run", "--workdir", wd, "--", "/bin/sh", "-c", plantScript(marker)], {
      airlockHome: home,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /done/);
    for (const rel of PLANTED) {
      const path = join(wd, rel);
      assert.equal(existsSync(path), false, `${rel} is still armed\n${run.stderr}`);
      const parent = join(path, "..");
      const base = rel.split("/").pop() as string;
      assert.ok(
        readdirSync(parent).some((n) => n.startsWith(`${base}.airlock-disarmed-`)),
        `${rel} moved aside`,
      );
      assert.match(run.stderr, new RegExp(`created ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(`));
    }
    assert.equal(readdirSync(join(wd, "pkg")).includes("notes.txt"), true, "ordinary files are left alone");
    const events = allLogLines(home).filter((l) => l.includes("OCSF FILE:DISARMED"));
    assert.equal(events.length, PLANTED.length, events.join("\n"));
    // The developer's next git status obeys nothing planted in the new repository's folder; a
    // moved-aside git directory (git takes one for a bare repository when started in it) keeps
    // nothing git obeys under its own name.
    assert.equal(hostGitRanPayload(join(wd, "newrepo"), marker), false);
    for (const [parent, base] of [
      [wd, "evil.git"],
      [join(wd, "newrepo"), ".git"],
    ] as const) {
      const moved = readdirSync(parent).find((n) => n.startsWith(`${base}.airlock-disarmed-`)) as string;
      const left = readdirSync(join(parent, moved));
      for (const name of ["config", "hooks", "commondir"])
        assert.ok(!left.includes(name), `${moved}/${name}`);
    }
    assert.equal(existsSync(marker), false);
  });

  test("a repository's core.hooksPath inside the workdir is protected like .git/hooks", async () => {
    const wd = join(dir, "wd-hook");
    makeRepo(wd);
    // hooksPath pointing into the worktree (husky's layout): that directory is protected too.
    makeRepo(join(wd, "inner"));
    writeFileSync(join(wd, "inner", ".git", "config"), "[core]\n\thooksPath = .husky\n");
    const run = await runCli(
      [
        "run",
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        `mkdir -p inner/.husky 2>/dev/null; echo 'touch ${marker}' > inner/.husky/pre-commit && echo planted || echo refused`,
      ],
      { airlockHome: join(dir, "home-hook") },
    );
    assert.match(run.stdout, /refused/, run.stderr);
    assert.equal(existsSync(join(wd, "inner", ".husky", "pre-commit")), false);
  });

  test("host_run_files: keep lists them and leaves them in place", async () => {
    const wd = workdir("wd-keep");
    const home = join(dir, "home-keep");
    const policy = join(dir, "keep.yaml");
    writeFileSync(policy, "version: 1\nfilesystem_policy:\n  host_run_files: keep\n");
    const run = await runCli(
      ["run", "--policy", policy, "--workdir", wd, "--", "/bin/sh", "-c", plantScript(marker)],
      { airlockHome: home },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /kept: filesystem_policy\.host_run_files is keep/);
    for (const rel of ["pkg/.envrc", "pkg/.mcp.json", "newrepo/.git"])
      assert.equal(existsSync(join(wd, rel)), true, rel);
    assert.ok(allLogLines(home).some((l) => l.includes("OCSF FILE:KEPT")));
  });
});
