// The user's caches hold code that host tools run without checking it: zsh sources
// powerlevel10k's instant prompt from ~/.cache at every start (the first lines of a p10k
// .zshrc), npx runs what its cache under ~/.npm/_npx holds, corepack and pre-commit keep their
// programs in ~/.cache. The shipped presets must not share those directories with the sandbox:
// what it writes there stays in its own home and is gone at exit.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { assertAllOk, checkNames, mustPass } from "./fs-helpers.ts";

/** The first lines of the .zshrc `p10k configure` writes. */
const P10K_ZSHRC = `if [[ -r "\${XDG_CACHE_HOME:-$HOME/.cache}/p10k-instant-prompt-\${(%):-%n}.zsh" ]]; then
  source "\${XDG_CACHE_HOME:-$HOME/.cache}/p10k-instant-prompt-\${(%):-%n}.zsh"
fi
`;

describe("the host's caches, from inside the shipped presets", () => {
  let dir: string;
  let home: string;
  let wd: string;
  let marker: string;
  let prompt: string;
  before(() => {
    dir = scratchDir("attack-host-caches");
    home = join(dir, "user");
    wd = join(home, "work");
    mkdirSync(wd, { recursive: true });
    marker = join(dir, "PWNED");
    writeFileSync(join(home, ".zshrc"), P10K_ZSHRC);
    prompt = join(home, ".cache", `p10k-instant-prompt-${userInfo().username}.zsh`);
  });
  after(() => removeDir(dir));

  /** The developer opens a terminal: an interactive zsh with that .zshrc; did it run the payload? */
  function hostShellRanPayload(): boolean {
    spawnSync("zsh", ["-i", "-c", "exit"], {
      env: { PATH: "/usr/bin:/bin", HOME: home, TERM: "dumb" },
      stdio: "ignore",
      timeout: 20_000,
    });
    return existsSync(marker);
  }

  test("the attack is real: zsh sources the instant prompt from ~/.cache at every start", () => {
    mkdirSync(join(home, ".cache"), { recursive: true });
    writeFileSync(prompt, `touch ${marker}\n`);
    assert.equal(hostShellRanPayload(), true);
    rmSync(marker);
    rmSync(join(home, ".cache"), { recursive: true, force: true });
  });

  for (const preset of ["claude-code", "codex"])
    test(`${preset} preset: what the sandbox writes in ~/.cache and ~/.npm never reaches the host`, async () => {
      mkdirSync(join(home, ".cache"), { recursive: true });
      mkdirSync(join(home, ".npm"), { recursive: true });
      const npx = `${home}/.npm/_npx/0123456789abcdef/node_modules/tool`;
      const checks = [
        // The home inside is writable, so tools keep a cache; it is the sandbox's own.
        mustPass("prompt", `mkdir -p ${home}/.cache && echo 'touch ${marker}' > ${prompt}`),
        mustPass(
          "npx",
          `mkdir -p ${npx} && echo 'require("fs").writeFileSync("${marker}", "")' > ${npx}/index.js`,
        ),
      ];
      const run = await runCli(
        [
          "run",
          "--policy",
          join(REPO, "examples", "policies", `${preset}.yaml`),
          "--workdir",
          wd,
          "--",
          "/bin/sh",
          "-c",
          checks.join("\n"),
        ],
        {
          airlockHome: join(dir, `airlock-${preset}`),
          env: { HOME: home, XDG_STATE_HOME: join(dir, "state") },
        },
      );
      assertAllOk(run.stdout, checkNames(checks), run.stderr);
      assert.deepEqual(readdirSync(join(home, ".cache")), [], "nothing written in the host's ~/.cache");
      assert.deepEqual(readdirSync(join(home, ".npm")), [], "nothing written in the host's ~/.npm");
      assert.equal(hostShellRanPayload(), false, "the developer's next shell ran the sandbox's code");
    });
});
