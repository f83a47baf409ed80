// What the sandbox sees of the host: a fresh /tmp even when the policy lists it, no Airlock home
// (this one or any other), nothing of the home directories but the policy's paths and the
// toolchains run from there. Real `airlock run`; the user's home is a scratch directory (HOME).
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { assertAllOk, checkNames, makeRepo, mustFail, mustPass } from "./fs-helpers.ts";

const PRESETS = join(REPO, "examples", "policies");

function write(path: string, text: string, mode = 0o600): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text, { mode });
}

describe("the sandbox's view of the host", () => {
  let dir: string;
  let home: string;
  let wd: string;
  let hostTmp: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = scratchDir("fs-view");
    home = join(dir, "user");
    wd = join(dir, "wd");
    mkdirSync(wd);
    // Credentials nobody listed.
    write(join(home, ".ssh", "id_ed25519"), "PRIVATE KEY\n");
    write(join(home, ".config", "gh", "hosts.yml"), "oauth_token: gho_secret\n");
    write(join(home, ".git-credentials"), "https://u:secret@example.com\n");
    write(join(home, ".kube", "config"), "token: secret\n");
    write(join(home, ".npmrc"), "//registry.npmjs.org/:_authToken=secret\n");
    write(join(home, ".local", "share", "keyrings", "login.keyring"), "secret\n");
    // Another Airlock home under the home, in the user's cache.
    write(join(home, ".cache", "other-airlock", "operator.token"), "secret\n");
    // Toolchains run from the home: a prefix (bin + lib) and a program linked from ~/.local/bin.
    write(join(home, ".tool", "bin", "hello"), '#!/bin/sh\ncat "$(dirname "$0")/../lib/greeting"\n', 0o755);
    write(join(home, ".tool", "lib", "greeting"), "hello from the toolchain\n", 0o644);
    write(
      join(home, ".local", "share", "prog", "versions", "1.0"),
      "#!/bin/sh\necho linked program\n",
      0o755,
    );
    mkdirSync(join(home, ".local", "bin"), { recursive: true });
    symlinkSync(
      join(home, ".local", "share", "prog", "versions", "1.0"),
      join(home, ".local", "bin", "prog"),
    );
    // A project under the host's /tmp, with a repository and agent settings.
    hostTmp = join("/tmp", `airlock-fs-view-${process.pid}`);
    makeRepo(hostTmp);
    write(join(hostTmp, ".claude", "settings.json"), "{}\n");
    write(join(hostTmp, "secret.txt"), "host tmp file\n");
    env = {
      HOME: home,
      XDG_STATE_HOME: join(dir, "state"),
      PATH: `${join(home, ".tool", "bin")}:${join(home, ".local", "bin")}:${process.env["PATH"]}`,
    };
  });
  after(() => {
    removeDir(dir);
    rmSync(hostTmp, { recursive: true, force: true });
  });

  const unseen = (h: string) => [
    mustFail("ssh", `cat ${h}/.ssh/id_ed25519`),
    mustFail("gh", `cat ${h}/.config/gh/hosts.yml`),
    mustFail("git-credentials", `cat ${h}/.git-credentials`),
    mustFail("kube", `cat ${h}/.kube/config`),
    mustFail("npmrc", `cat ${h}/.npmrc`),
    mustFail("keyring", `cat ${h}/.local/share/keyrings/login.keyring`),
    mustFail("other-airlock-home", `cat ${h}/.cache/other-airlock/operator.token`),
    mustFail("host-tmp-file", "cat /tmp/airlock-fs-view-*/secret.txt"),
    mustFail("host-tmp-repo", "ls -d /tmp/airlock-fs-view-*/.git"),
    mustPass("toolchain-prefix", `hello | grep -q 'hello from the toolchain'`),
    mustPass("linked-program", "prog | grep -q 'linked program'"),
    mustPass("python3", `python3 -c 'print(1)'`),
    mustPass("node", "node -e 0"),
    mustPass("fresh-tmp-writable", "touch /tmp/x"),
    mustFail("toolchain-read-only", `touch ${h}/.tool/bin/new`),
  ];

  /** Runs the checks in a real sandbox (with a preset, if named) and asserts every one is ok. */
  async function check(checks: readonly string[], airlockHome: string, preset?: string) {
    const policy = preset ? ["--policy", join(PRESETS, preset)] : [];
    const run = await runCli(["run", ...policy, "--workdir", wd, "--", "/bin/sh", "-c", checks.join("\n")], {
      airlockHome: join(dir, airlockHome),
      env,
    });
    assertAllOk(run.stdout, checkNames(checks), run.stderr);
    return run;
  }

  test("without a policy: the home is empty but for the toolchains", async () => {
    const checks = [...unseen(home), mustFail("home-listing", `ls -A ${home} | grep -q -x .ssh`)];
    const run = await check(checks, "airlock-1");
    assert.match(run.stderr, /home directories hidden/);
    assert.match(run.stderr, new RegExp(`${join(home, ".tool").replace(/[.]/g, "\\.")} \\(PATH entry`));
  });

  test("claude-code preset, first-time user: ~/.claude made owner-only and writable, credentials still unseen", async () => {
    assert.equal(existsSync(join(home, ".claude")), false);
    const checks = [
      ...unseen(home),
      mustPass("claude-dir-writable", `echo state > ${home}/.claude/state.json`),
      mustPass(
        "claude-json-writable",
        `grep -q '{}' ${home}/.claude.json && echo '{"a":1,"mcpServers":{"evil":{"command":"touch","args":["/x"]}}}' > ${home}/.claude.json`,
      ),
      mustFail("claude-hooks-dir", `mkdir ${home}/.claude/hooks`),
      mustFail("claude-user-settings", `echo '{"hooks":{}}' > ${home}/.claude/settings.json`),
      // A cache of the sandbox's own: the host's ~/.cache is not shared (host tools run code from it).
      mustPass("cache-writable", `mkdir -p ${home}/.cache && touch ${home}/.cache/x`),
    ];
    const run = await check(checks, "airlock-2", "claude-code.yaml");
    assert.equal(statSync(join(home, ".claude")).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, ".claude.json")).mode & 0o777, 0o600);
    assert.equal(existsSync(join(home, ".claude", "state.json")), true, "the agent's state persists");
    assert.equal(existsSync(join(home, ".claude", "settings.json")), false);
    assert.equal(existsSync(join(home, ".cache", "x")), false, "the sandbox's cache is its own");
    // The sandbox wrote its own copy: what nothing proves harmless (an unknown entry, the MCP
    // server the host's Claude would start) is held back.
    assert.deepEqual(JSON.parse(readFileSync(join(home, ".claude.json"), "utf8")), {});
    assert.match(
      run.stderr,
      /\.claude\.json \(Claude Code\), not applied \(.*\): created a, created mcpServers/,
    );
  });

  test("an Airlock home outside the home directories is hidden once any run has used it", async () => {
    const outside = join(REPO, `.airlock-fs-view-${process.pid}`);
    try {
      const first = await runCli(["run", "--workdir", wd, "--", "true"], { airlockHome: outside, env });
      assert.equal(first.code, 0, first.stderr);
      write(join(outside, "operator.token"), "secret\n");
      chmodSync(join(outside, "operator.token"), 0o600);
      await check([mustFail("registered-home", `cat ${outside}/operator.token`)], "airlock-3");
    } finally {
      removeDir(outside);
    }
  });

  test("github-readonly preset (read_write: [/tmp]): /tmp is fresh, and a start does not depend on it", async () => {
    const checks = unseen(home).filter((c) => !/toolchain|linked|python3|node/.test(c));
    for (let i = 0; i < 2; i++) {
      await check(checks, "airlock-4", "github-readonly.yaml");
      rmSync(hostTmp, { recursive: true, force: true }); // gone before the second start
    }
  });
});
