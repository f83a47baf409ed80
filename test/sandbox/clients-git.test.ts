// git inside `airlock run` with the shipped Claude Code and Codex presets, unmodified: clone and
// fetch over HTTPS from github.com (the real `git http-backend` on loopback) pass the preset's
// read-only L7 rules; a push gets the proxy's 403 and never reaches the server.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO } from "./cli-helpers.ts";
import { runInSandbox, startUpstream, type Upstream } from "./clients-helpers.ts";
import { commitFile, git, gitHttpBackend, makeRepo } from "./git-server.ts";
import { removeDir, scratchDir } from "./helpers.ts";

for (const preset of ["claude-code", "codex"]) {
  describe(`git inside airlock run with examples/policies/${preset}.yaml`, () => {
    let dir: string;
    let root: string;
    let hostWork: string;
    let github: Upstream;
    const policyFile = join(REPO, "examples", "policies", `${preset}.yaml`);
    before(async () => {
      dir = scratchDir(`clients-git-${preset}`);
      root = join(dir, "repos");
      hostWork = join(dir, "host-work");
      mkdirSync(root);
      makeRepo(join(root, "acme"), "site", hostWork, "README.md", "first\n");
      github = await startUpstream(dir, ["github.com"], (req, res) => gitHttpBackend(root, req, res));
    });
    after(async () => {
      await github.close();
      removeDir(dir);
    });

    test("clone and fetch pass, a push is refused before the server", async () => {
      // The agent works in a repository (a workdir that is not one has its .git blocked).
      const wd = join(dir, "wd");
      mkdirSync(wd);
      git(["init", "-q", wd], dir);
      const home = join(dir, "airlock-home");
      const clone = await runInSandbox(
        { airlockHome: home, policyFile, workdir: wd, upstreams: [github] },
        "git clone -q https://github.com/acme/site.git site && cat site/README.md",
      );
      assert.equal(clone.code, 0, clone.stderr);
      assert.equal(clone.stdout, "first\n");

      const second = commitFile(hostWork, "NEWS.md", "second\n");
      const fetched = await runInSandbox(
        { airlockHome: home, policyFile, workdir: wd, upstreams: [github] },
        "cd site && git fetch -q https://github.com/acme/site.git main && git rev-parse FETCH_HEAD",
      );
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(fetched.stdout.trim(), second);

      const before = git(["rev-parse", "main"], join(root, "acme", "site.git"));
      const push = await runInSandbox(
        {
          airlockHome: home,
          policyFile,
          workdir: wd,
          upstreams: [github],
          env: {
            GIT_AUTHOR_NAME: "a",
            GIT_AUTHOR_EMAIL: "a@x",
            GIT_COMMITTER_NAME: "a",
            GIT_COMMITTER_EMAIL: "a@x",
          },
        },
        "cd site && git merge -q --ff-only FETCH_HEAD && echo x > x && git add x && git commit -qm x && git push https://github.com/acme/site.git HEAD:main",
      );
      assert.notEqual(push.code, 0, "the push fails");
      assert.match(push.stderr, /403/);
      assert.equal(
        git(["rev-parse", "main"], join(root, "acme", "site.git")),
        before,
        "the repository is unchanged",
      );
      assert.ok(
        !github.seen.some((r) => r.method === "POST" && r.path.endsWith("/git-receive-pack")),
        "no receive-pack request reached the server",
      );
      assert.ok(
        github.seen.some((r) => r.path.endsWith("/git-upload-pack")),
        "fetches went through",
      );
      assert.ok(readFileSync(policyFile, "utf8").includes("git-upload-pack"));
    });
  });
}
