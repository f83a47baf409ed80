// Git at tier 0 for callers that run the command as written (Codex hooks, POST
// /v1/gate/decide): allowed only where every config git reads is shown inert. Each attack is a
// real repository whose config runs a program on a read-only command, proven unguarded in real
// bash (a marker file); the gate must refuse tier 0 there, and what it allows is run as written.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CallContext } from "../../src/gate/call.ts";
import { createGateDecider } from "../../src/gate/decider.ts";
import { type GateRuntime, openGate } from "../../src/gate/runtime.ts";
import { agentContext } from "../gate/helpers.ts";
import { agentBash } from "./gate-helpers.ts";

const POLICY = join(import.meta.dirname, "../../examples/policies/gate.yaml");
const root = mkdtempSync(join(tmpdir(), "airlock-gate-git-"));
const home = join(root, "home");
const project = join(home, "project");
const marker = join(root, "PWNED");
after(() => rmSync(root, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=a", "-c", "user.email=a@a", ...args], {
    cwd,
    stdio: "ignore",
    env: { PATH: "/usr/bin:/bin", HOME: home },
  });

/** A repository with one commit and README.md changed since; the home's config empty. */
function fresh(): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "README.md"), "hello\n");
  git(project, "init", "-q");
  git(project, "add", "README.md");
  git(project, "commit", "-qm", "x");
  writeFileSync(join(project, "README.md"), "changed, and longer than before\n");
}

const bash = (line: string) => agentBash(line, project, home);

let gate: GateRuntime;
before(async () => {
  gate = await openGate(POLICY, { receipts: false });
});

/** What a Codex hook decides with: the command runs as written. */
const asWritten = (): CallContext => ({ ...agentContext(home, project), canRewrite: false });

interface Attack {
  name: string;
  line: string;
  setup: () => void;
  reason: RegExp;
}

const touch = `touch ${marker}; false`;
const ATTACKS: Attack[] = [
  {
    name: "core.fsmonitor in the repository's config",
    line: "git status",
    setup: () => git(project, "config", "core.fsmonitor", touch),
    reason: /own config sets core\.fsmonitor/,
  },
  {
    name: "core.fsmonitor in the user's global config",
    line: "git status",
    setup: () => writeFileSync(join(home, ".gitconfig"), `[core]\n\tfsmonitor = "${touch}"\n`),
    reason: /its config sets core\.fsmonitor/,
  },
  {
    name: "a clean filter named by .gitattributes",
    line: "git diff",
    setup: () => {
      git(project, "config", "filter.x.clean", `touch ${marker}; cat`);
      writeFileSync(join(project, ".gitattributes"), "* filter=x\n");
    },
    reason: /sets filter\.x\.clean/,
  },
  {
    name: "a textconv driver named by info/attributes, defined in an included file",
    line: "git log -p -1",
    setup: () => {
      writeFileSync(join(root, "inc"), `[diff "t"]\n\ttextconv = touch ${marker}\n`);
      git(project, "config", "include.path", join(root, "inc"));
      writeFileSync(join(project, ".git", "info", "attributes"), "* diff=t\n");
    },
    reason: /sets include\.path/,
  },
  {
    name: "diff.external",
    line: "git diff",
    setup: () => git(project, "config", "diff.external", `sh -c '${touch}'`),
    reason: /sets diff\.external/,
  },
  {
    name: "a submodule whose own config has core.fsmonitor",
    line: "git status",
    setup: () => {
      const sub = join(project, "sub");
      mkdirSync(sub);
      writeFileSync(join(sub, "b"), "b\n");
      git(sub, "init", "-q");
      git(sub, "add", "b");
      git(sub, "commit", "-qm", "y");
      git(project, "add", "sub");
      git(sub, "config", "core.fsmonitor", touch);
      writeFileSync(join(sub, "b"), "changed\n");
    },
    reason: /has submodules/,
  },
  {
    name: "a config git cannot parse",
    line: "git status",
    setup: () => writeFileSync(join(project, ".git", "config"), "[core\n\tfsmonitor = x\n"),
    reason: /cannot read the git config/,
  },
];

describe("git as written (Codex, gateway decide)", () => {
  it("is tier 0 without a rewrite in a repository whose every config is inert, and runs nothing", async () => {
    fresh();
    writeFileSync(
      join(home, ".gitconfig"),
      "[user]\n\tname = a\n[alias]\n\tst = status\n[core]\n\teditor = vim\n",
    );
    writeFileSync(join(project, ".gitattributes"), "*.md diff=markdown\n*.png binary\n");
    for (const line of ["git status", "git diff", "git log --oneline -3", "git show --stat"]) {
      const d = await gate.decide({ kind: "shell", command: line }, asWritten());
      assert.equal(d.decision, "allow", `${line}: ${d.reason}`);
      assert.equal(d.tier, 0);
      assert.equal(d.rewrite, undefined, "nothing to substitute: the caller runs it as written");
    }
    const decider = createGateDecider({ policy: POLICY, receipts: join(root, "receipts.jsonl") });
    const v = await decider.decide(
      { tool_name: "Bash", tool_input: { command: "git status" } },
      { cwd: project },
    );
    assert.ok(v.ok);
    assert.equal(v.ok && v.decision, "allow", JSON.stringify(v));
  });

  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      fresh();
      attack.setup();
      await bash(attack.line);
      if (!attack.name.includes("parse"))
        assert.ok(existsSync(marker), `the attack itself must work unguarded: ${attack.line}`);
      rmSync(marker, { force: true });
      const d = await gate.decide({ kind: "shell", command: attack.line }, asWritten());
      if (d.decision === "allow") await bash(attack.line);
      assert.equal(existsSync(marker), false, `allowed and it ran: ${attack.line}`);
      assert.notEqual(d.decision, "allow", attack.name);
      assert.match(d.reason, attack.reason);
    });
  }
});
