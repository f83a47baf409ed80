// Attacks on the shell gate with the shipped preset, checked against real bash: each attack is
// first run unguarded to prove it really does what it claims (a marker file, a decoy secret on
// stdout, bytes at a listening socket); then the gate decides, and whatever it allows (as
// rewritten) is run the same way. The effect must not happen through the gate.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CallContext } from "../../src/gate/call.ts";
import { type GateRuntime, openGate } from "../../src/gate/runtime.ts";
import { agentContext } from "../gate/helpers.ts";
import { agentBash, assertGateStops, type ShellAttack } from "./gate-helpers.ts";

const POLICY = join(import.meta.dirname, "../../examples/policies/gate.yaml");
const root = mkdtempSync(join(tmpdir(), "airlock-gate-attack-"));
const home = join(root, "home");
const project = join(home, "project");
const marker = join(project, "PWNED");
const SECRET = "DECOY-SECRET-7f3a";
after(() => rmSync(root, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=a", "-c", "user.email=a@a", ...args], { cwd, stdio: "ignore" });

function fresh(): void {
  rmSync(root, { recursive: true, force: true });
  for (const d of [".ssh", ".aws", "project/src", "project/build", "project/dist"])
    mkdirSync(join(home, d), { recursive: true });
  writeFileSync(join(home, ".ssh", "id_rsa"), `${SECRET}\n`);
  writeFileSync(join(home, ".aws", "credentials"), `${SECRET}\n`);
  writeFileSync(join(home, ".bashrc"), "# rc\n");
  writeFileSync(join(project, "README.md"), "hello\n");
}

const bash = (line: string) => agentBash(line, project, home);

let gate: GateRuntime;
before(async () => {
  gate = await openGate(POLICY, { receipts: false });
});

const ctx = (): CallContext => agentContext(home, project);

/** The project as a repository with one commit and README.md changed since. */
function committedProject(config: [string, string], changed: string): void {
  git(project, "init", "-q");
  git(project, "add", "README.md");
  git(project, "commit", "-qm", "x");
  git(project, "config", ...config);
  writeFileSync(join(project, "README.md"), changed);
}

const touched = () => existsSync(marker);
const leaked = (out: string) => out.includes(SECRET);

const ATTACKS: ShellAttack[] = [
  {
    name: "BASH_CMDS turns cat into sh",
    line: `BASH_CMDS[cat]=/bin/sh; cat -c 'touch ${marker}'`,
    worked: touched,
  },
  { name: "code in a [[ -eq ]] subscript", line: `[[ 'a[$(touch ${marker})]' -eq 0 ]]`, worked: touched },
  { name: "code in a (( )) subscript", line: `(( 'x[$(touch ${marker})]' ))`, worked: touched },
  { name: "code in a [[ -v ]] subscript", line: `[[ -v 'a[$(touch ${marker})]' ]]`, worked: touched },
  { name: "[ a > file ] writes the file", line: `[ a > ${marker} ]`, worked: touched },
  {
    name: "tree -o overwrites a shell rc file",
    line: "tree -o ~/.bashrc .",
    worked: () => !readFileSync(join(home, ".bashrc"), "utf8").startsWith("# rc"),
  },
  {
    name: "a workdir symlink to a key",
    line: "cat k",
    setup: () => symlinkSync(join(home, ".ssh", "id_rsa"), join(project, "k")),
    worked: leaked,
  },
  {
    name: "a symlinked directory and .. behind it",
    line: "cat kd/../.aws/credentials",
    setup: () => symlinkSync(join(home, ".ssh"), join(project, "kd")),
    worked: leaked,
  },
  { name: "/proc/self/root", line: `cat /proc/self/root${home}/.ssh/id_rsa`, worked: leaked },
  { name: "/proc/self/cwd and ..", line: "cat /proc/self/cwd/../.ssh/id_rsa", worked: leaked },
  { name: "env -C moves the command", line: "env -C ../.ssh cat id_rsa", worked: leaked },
  {
    name: "core.fsmonitor in a repository the agent wrote",
    line: "git -C build status",
    setup: () => {
      git(join(project, "build"), "init", "-q");
      git(join(project, "build"), "config", "core.fsmonitor", `touch ${marker}; false`);
    },
    worked: touched,
  },
  {
    name: "a .git file pointing at a git dir with fsmonitor",
    line: "git -C build status",
    setup: () => {
      git(join(project, "dist"), "init", "-q", "--bare", "g");
      git(join(project, "dist", "g"), "config", "core.bare", "false");
      git(join(project, "dist", "g"), "config", "core.fsmonitor", `touch ${marker}; false`);
      writeFileSync(join(project, "build", ".git"), "gitdir: ../dist/g\n");
    },
    worked: touched,
  },
  {
    name: "a clean filter named by .gitattributes",
    line: "git diff",
    setup: () => {
      committedProject(["filter.x.clean", `touch ${marker}; cat`], "changed, and bigger than before\n");
      writeFileSync(join(project, ".gitattributes"), "* filter=x\n");
    },
    worked: touched,
  },
  {
    name: "an external diff program in the repository config",
    line: "git diff",
    setup: () => committedProject(["diff.external", `sh -c 'touch ${marker}'`], "changed\n"),
    worked: touched,
  },
];

const hasTree = spawnSync("which", ["tree"]).status === 0;

describe("shell gate attacks, run in real bash", () => {
  for (const attack of ATTACKS) {
    it(attack.name, { skip: attack.line.startsWith("tree") && !hasTree }, () =>
      assertGateStops(gate, ctx(), attack, fresh),
    );
  }

  it("a /dev/tcp redirection reaches a listening socket unguarded, and is never tier 0", async () => {
    fresh();
    const got: Buffer[] = [];
    const server = createServer((s) => s.on("data", (b) => got.push(b)));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const line = `echo hello-over-tcp > /dev/tcp/127.0.0.1/${port}`;
    try {
      await bash(line);
      await new Promise((r) => setTimeout(r, 200));
      assert.match(Buffer.concat(got).toString(), /hello-over-tcp/, "the redirection really connects");
      got.length = 0;
      for (const l of [line, `cat < /dev/tcp/127.0.0.1/${port}`, `ls >&3`, "cat /dev/udp/127.0.0.1/9"]) {
        const d = await gate.decide({ kind: "shell", command: l }, ctx());
        assert.notEqual(d.decision, "allow", l);
      }
    } finally {
      server.close();
    }
  });

  it("read-only programs with options that run or write are refused in every spelling", async () => {
    fresh();
    for (const line of [
      "rg --pre=sh x",
      "rg --pr=sh x",
      "rg --pre sh x",
      "rg -nz x",
      "tree -ao out",
      "date -s 2020-01-01",
      "date --se=2020-01-01",
      "date 01010000",
      "find . -fprint out",
      "git --config-env=core.pager=P log",
      "git --git-dir=/tmp/x status",
      "git --work-tree=/ status",
      "git diff --ext-diff",
      "git show --textconv",
      "git log --outp=out",
      "git branch -D main",
      "git branch -f main HEAD~1",
      "git branch new",
      "wc --files0-from=list",
      "file --comp -m x",
      "tail --fo README.md",
    ]) {
      const d = await gate.decide({ kind: "shell", command: line }, ctx());
      assert.notEqual(d.decision, "allow", line);
    }
  });

  it("tier-0 git is run with its exec-capable settings disarmed; callers that cannot rewrite get it only where every config is inert", async () => {
    fresh();
    git(project, "init", "-q");
    const d = await gate.decide({ kind: "shell", command: "git status" }, ctx());
    assert.equal(d.decision, "allow");
    assert.equal(d.rewrite?.kind, "shell");
    const rewritten = d.rewrite?.kind === "shell" ? d.rewrite.command : "";
    for (const part of [
      "--no-pager",
      "core.fsmonitor=false",
      "core.hooksPath=/dev/null",
      "--no-optional-locks",
    ])
      assert.ok(rewritten.includes(part), part);
    const plain = await gate.decide(
      { kind: "shell", command: "git status" },
      { ...ctx(), canRewrite: false },
    );
    assert.equal(plain.decision, "allow", plain.reason);
    assert.equal(plain.rewrite, undefined);
    git(project, "config", "core.pager", `touch ${marker}`);
    const paged = await gate.decide(
      { kind: "shell", command: "git status" },
      { ...ctx(), canRewrite: false },
    );
    assert.notEqual(paged.decision, "allow");
    assert.equal((await gate.decide({ kind: "shell", command: "git status" }, ctx())).decision, "ask");
  });

  it("writes that make tools run code are hard stops; so are reads of credential stores", async () => {
    fresh();
    for (const path of [
      "build/.git/config",
      "build/.git",
      ".gitattributes",
      ".gitmodules",
      ".mcp.json",
      ".envrc",
      "~/.bashrc",
      ".claude/settings.json",
      "~/.airlock/gate.yaml",
      "AGENTS.md",
    ]) {
      const d = await gate.decide({ kind: "file_write", path }, ctx());
      assert.equal(d.step, "hard_stop", path);
    }
    for (const path of [
      "~/.config/gh/hosts.yml",
      "~/.git-credentials",
      "~/.kube/config",
      "~/.npmrc",
      "~/.pypirc",
      "~/.docker/config.json",
      "~/.config/gcloud/credentials.db",
      "~/.azure/accessTokens.json",
      "~/.airlock/operator.token",
    ]) {
      const d = await gate.decide({ kind: "file_read", path }, ctx());
      assert.equal(d.decision, "deny", path);
    }
    const tmp = await gate.decide({ kind: "file_write", path: "/tmp/x" }, ctx());
    assert.notEqual(tmp.decision, "allow", "/tmp is not the workdir");
  });
});
