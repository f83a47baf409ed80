// Git hook managers, attacked from inside a real `airlock run`: husky 9 sets core.hooksPath to
// `.husky/_` (protected, as what the repository's config names), but its stubs there run
// `.husky/<hook>` from the worktree. What the sandbox writes there must not run at the developer's
// next host `git commit`: it is listed and moved aside when the run ends.
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { allLogLines, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { hostCommitRanPayload, huskyRepo } from "./fs-helpers.ts";

describe("husky's hooks, written from inside the sandbox", () => {
  let dir: string;
  let marker: string;
  before(() => {
    dir = scratchDir("attack-host-hooks");
    marker = join(dir, "PWNED");
  });
  after(() => removeDir(dir));

  /** `script` under /bin/sh in a real `airlock run` on `wd`. */
  const runIn = (wd: string, airlockHome: string, script: string) =>
    runCli(["run", "--workdir", wd, "--", "/bin/sh", "-c", script], { airlockHome });

  test("the attack is real: husky's stub runs .husky/pre-commit at the next commit", () => {
    const wd = join(dir, "wd-real");
    huskyRepo(wd);
    writeFileSync(join(wd, ".husky", "pre-commit"), `touch ${marker}\n`);
    assert.equal(hostCommitRanPayload(wd, marker), true);
    rmSync(marker);
  });

  for (const existing of [false, true])
    test(`a ${existing ? "changed" : "new"} .husky/pre-commit is listed, logged and moved aside; the next commit runs nothing`, async () => {
      const wd = join(dir, `wd-${existing ? "changed" : "new"}`);
      huskyRepo(wd);
      if (existing) writeFileSync(join(wd, ".husky", "pre-commit"), "true\n");
      const home = join(dir, `home-${existing ? "changed" : "new"}`);
      const run = await runIn(wd, home, `echo 'touch ${marker}' >> .husky/pre-commit && echo planted`);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /planted/, "the sandbox may write its workdir");
      assert.match(run.stderr, /\.husky\/pre-commit \(husky\) -> /, run.stderr);
      assert.ok(
        readdirSync(join(wd, ".husky")).some((n) => n.startsWith("pre-commit.airlock-disarmed-")),
        "moved aside",
      );
      assert.ok(allLogLines(home).some((l) => l.includes("OCSF FILE:DISARMED")));
      assert.equal(hostCommitRanPayload(wd, marker), false, "the developer's commit ran the planted hook");
    });

  test("the hooks directory core.hooksPath names (.husky/_) stays read-only inside", async () => {
    const wd = join(dir, "wd-stub");
    huskyRepo(wd);
    const run = await runIn(
      wd,
      join(dir, "home-stub"),
      `echo 'touch ${marker}' >> .husky/_/h 2>/dev/null && echo planted || echo refused`,
    );
    assert.match(run.stdout, /refused/, run.stderr);
    assert.equal(existsSync(marker), false);
    assert.equal(hostCommitRanPayload(wd, marker), false);
  });
});
