// The CLI's conventions, as a script or a shell sees them: usage errors exit 2 and name the flag;
// `--exit-code` makes a decision an exit status; completion scripts made from the command tree
// complete in real bash, zsh and fish; a missing gateway token is called missing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AIRLOCK_BIN, REPO } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

let scratch: string;
before(() => {
  scratch = scratchDir("cli-conventions");
});
after(() => removeDir(scratch));

function airlock(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [AIRLOCK_BIN, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, AIRLOCK_HOME: join(scratch, "home"), AIRLOCK_GATEWAY: "", ...env },
  });
}

describe("usage errors exit 2 and name the flag", () => {
  const cases: Array<[string[], RegExp]> = [
    [["denials", "--last", "x"], /--last/],
    [["logs", "--last", "-3"], /--last/],
    [["rule", "get", "--status", "nope"], /--status/],
    [["rule", "approve", "--chunk-id", "c", "--for", "forever"], /--for/],
    [["rule", "reject", "--chunk-id", "c", "--hint", "nope"], /--hint/],
    [["gate", "check"], /--shell/],
    [["gate", "asks", "--status", "nope"], /--status/],
    [["settings", "set", "no_such_setting", "1"], /unknown setting/],
    [["policy", "get", "--rev", "two"], /--rev/],
    [["policy", "eval", "x.yaml", "--binary", "/b", "--host", "h", "--port", "99999"], /--port/],
    [["completion", "tcsh"], /bash, zsh, fish/],
    [["no-such-command"], /unknown command/],
  ];
  for (const [args, flag] of cases)
    test(args.join(" "), () => {
      const r = airlock(args);
      assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
      assert.match(r.stderr, flag);
    });
});

describe("--exit-code", () => {
  test("policy eval: 0 on allow, 3 on deny", () => {
    const policy = join(scratch, "policy.yaml");
    writeFileSync(
      policy,
      "version: 1\nnetwork_policies:\n  gh:\n    endpoints: [{ host: api.github.com, port: 443 }]\n    binaries: [{ path: /usr/bin/curl }]\n",
    );
    const ask = (host: string, extra: string[] = []) =>
      airlock([
        "policy",
        "eval",
        policy,
        "--binary",
        "/usr/bin/curl",
        "--host",
        host,
        "--port",
        "443",
        ...extra,
      ]);
    assert.equal(ask("api.github.com", ["--exit-code"]).status, 0);
    assert.equal(ask("evil.example.com", ["--exit-code"]).status, 3);
    assert.equal(ask("evil.example.com").status, 0, "without the flag a decision is not a failure");
  });

  test("gate check: 0 on allow, 3 on deny, 4 on ask", () => {
    const gate = join(REPO, "examples", "policies", "gate.yaml");
    const check = (command: string) =>
      airlock(["gate", "check", "--policy", gate, "--shell", command, "--exit-code"], { HOME: scratch });
    assert.equal(check("ls").status, 0);
    const rm = check("rm -rf ~");
    assert.ok(rm.status === 3 || rm.status === 4, `rm -rf ~: exit ${rm.status} ${rm.stdout}`);
    assert.match(rm.stdout, rm.status === 3 ? /^deny/ : /^(ask|contain)/);
  });
});

describe("completion scripts complete in the real shells", () => {
  const script = (shell: string) => {
    const r = airlock(["completion", shell]);
    assert.equal(r.status, 0, r.stderr);
    const file = join(scratch, `airlock.${shell}`);
    writeFileSync(file, r.stdout);
    return file;
  };

  test("bash", () => {
    const file = script("bash");
    const r = spawnSync(
      "bash",
      [
        "-c",
        `source ${file}
COMP_WORDS=(airlock pol); COMP_CWORD=1; _airlock; echo "\${COMPREPLY[*]}"
COMP_WORDS=(airlock rule ap); COMP_CWORD=2; _airlock; echo "\${COMPREPLY[*]}"
COMP_WORDS=(airlock --verbose policy eval --ex); COMP_CWORD=4; _airlock; echo "\${COMPREPLY[*]}"`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["policy", "approve approve-all", "--exit-code"]);
  });

  test("zsh", { skip: !existsSync("/usr/bin/zsh") && "zsh is not installed" }, () => {
    const file = script("zsh");
    const r = spawnSync(
      "zsh",
      [
        "-c",
        `autoload -U compinit && compinit -u
source ${file}
compadd() { print -r -- "\${@[2,-1]}" }
words=(airlock gate ""); CURRENT=3; _airlock
print -r -- \${_comps[airlock]}`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const [gate, registered] = r.stdout.trim().split("\n");
    const offered = gate?.split(" ") ?? [];
    for (const sub of ["check", "verify", "adopt", "contain"])
      assert.ok(offered.includes(sub), `${sub} in ${gate}`);
    assert.equal(registered, "_airlock");
  });

  test("fish", { skip: !existsSync("/usr/bin/fish") && "fish is not installed" }, () => {
    const file = script("fish");
    const r = spawnSync(
      "fish",
      ["-c", `source ${file}; complete -C 'airlock policy '; complete -C 'airlock rule get --st'`],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const names = r.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("\t")[0]);
    assert.deepEqual(names, ["check", "eval", "get", "revisions", "set", "--status"]);
  });
});

test("a gateway named without a token: the token is missing, nothing was refused", () => {
  const r = airlock(["rule", "get"], { AIRLOCK_GATEWAY: "http://127.0.0.1:9", AIRLOCK_TOKEN: "" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no gateway token: set AIRLOCK_TOKEN/);
  assert.doesNotMatch(r.stderr, /refused/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
});
