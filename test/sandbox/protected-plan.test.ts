// The pure parts of protected paths and the homes: which mounts pin what in place, what counts as
// a file a host tool runs on its own, and what changed between two scans.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostRunChanges } from "../../src/sandbox/host-run.ts";
import { type MountOp, type PathKind, planMounts } from "../../src/sandbox/mounts.ts";
import { configReferences, disarmedName, hostRunTool, movedAgentHomes } from "../../src/sandbox/protected.ts";

const TREE: Record<string, PathKind> = {
  "/tmp": "dir",
  "/home": "dir",
  "/home/u": "dir",
  "/home/u/.claude": "dir",
  "/home/u/.claude/settings.json": "file",
  "/home/u/.claude/settings.work.json": "file",
  "/home/u/.nvm/versions/node/v20": "dir",
  "/home/u/.ssh": "dir",
  "/home/u/p": "dir",
  "/home/u/p/.git": "dir",
  "/home/u/p/.git/config": "file",
  "/home/u/p/.git/hooks": "dir",
  "/home/u/p/.git/modules": "dir",
  "/home/u/p/.git/modules/sub": "dir",
  "/home/u/p/.git/modules/sub/config": "file",
  "/home/u/p/.git/modules/sub/hooks": "dir",
  "/home/u/p/a": "dir",
  "/home/u/p/a/b": "dir",
  "/home/u/p/a/b/.git": "dir",
  "/home/u/p/a/b/.git/config": "file",
  "/home/u/p/a/b/.git/hooks": "dir",
  "/home/u/p/sub": "dir",
  "/home/u/p/sub/.git": "file",
  "/home/u/p/link": "dir",
  "/home/u/p/link/.envrc": "file",
};

function plan(extra: Partial<Parameters<typeof planMounts>[0]> = {}) {
  return planMounts({
    workdir: "/home/u/p",
    readWrite: ["/tmp", "/home/u/.claude"],
    readOnly: [],
    deny: ["/home/u/.ssh", "/airlock-home"],
    home: "/home/u",
    hidden: ["/home"],
    visible: [{ path: "/home/u/.nvm/versions/node/v20" }],
    tree: {
      gitDirs: ["/home/u/p/.git", "/home/u/p/.git/modules/sub", "/home/u/p/a/b/.git"],
      gitFiles: ["/home/u/p/sub/.git"],
      namedByConfig: [],
      nested: ["/home/u/p/link/.envrc"],
    },
    etc: [],
    airlockFiles: {},
    probe: (p) => TREE[p] ?? "missing",
    isLink: (p) => p === "/home/u/p/link",
    list: (dir) => (dir === "/home/u/.claude" ? ["settings.json", "settings.work.json", "projects"] : []),
    emptyFile: "/state/empty",
    selfCommondir: "/state/commondir",
    ...extra,
  });
}

const at = (ops: MountOp[], op: MountOp["op"], dest: string, src = dest) =>
  ops.findIndex((m) => m.op === op && m.dest === dest && (!("src" in m) || m.src === src));

describe("protected paths as mount points", () => {
  test("a nested repository: each ancestor and the git directory self-bound writable, then config and hooks read-only", () => {
    const { ops } = plan();
    const workdir = at(ops, "bind", "/home/u/p");
    const a = at(ops, "bind", "/home/u/p/a");
    const b = at(ops, "bind", "/home/u/p/a/b");
    const git = at(ops, "bind", "/home/u/p/a/b/.git");
    const config = at(ops, "ro-bind", "/home/u/p/a/b/.git/config");
    const hooks = at(ops, "ro-bind", "/home/u/p/a/b/.git/hooks");
    for (const [i, next] of [
      [workdir, a],
      [a, b],
      [b, git],
      [git, config],
      [git, hooks],
    ] as const) {
      assert.ok(i >= 0 && next > i, `${i} < ${next}`);
    }
  });

  test("submodules and worktrees: the module's git directory and its parents pinned, the .git file read-only", () => {
    const { ops } = plan();
    assert.ok(at(ops, "bind", "/home/u/p/.git/modules") >= 0);
    assert.ok(at(ops, "bind", "/home/u/p/.git/modules/sub") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/p/.git/modules/sub/config") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/p/sub/.git") >= 0);
    assert.ok(at(ops, "bind", "/home/u/p/sub") >= 0, "the checkout holding it cannot be renamed");
  });

  test("absent git files: commondir holds '.', the others are empty; both made on the host", () => {
    const { ops, createdOnHost, prefill } = plan();
    assert.ok(at(ops, "ro-bind", "/home/u/p/.git/commondir", "/state/commondir") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/p/.git/config.worktree", "/state/empty") >= 0);
    assert.deepEqual(
      prefill.map((p) => p.path),
      ["/home/u/p/.git/commondir", "/home/u/p/.git/modules/sub/commondir", "/home/u/p/a/b/.git/commondir"],
    );
    assert.ok(createdOnHost.includes("/home/u/p/.git/commondir"));
    assert.ok(at(ops, "ro-bind", "/home/u/p/.claude", "/state/empty") >= 0, "an absent .claude is blocked");
  });

  test("an agent home listed as writable keeps its settings files read-only, not the whole directory", () => {
    const { ops } = plan();
    assert.ok(at(ops, "bind", "/home/u/.claude") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/settings.json") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/settings.work.json") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/settings.local.json", "/state/empty") >= 0);
    assert.equal(at(ops, "ro-bind", "/home/u/.claude"), -1);
  });

  test("an absent directory of an agent's home is blocked by an empty directory, an absent file by an empty file", () => {
    const { ops, createdOnHost } = plan({ emptyDir: "/state/empty-dir" });
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/hooks", "/state/empty-dir") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/backups", "/state/empty-dir") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/.claude/settings.local.json", "/state/empty") >= 0);
    assert.ok(createdOnHost.includes("/home/u/.claude/hooks"));
  });

  test("an agent home the environment moves is protected where it is: inner entries when listed, whole when not", () => {
    const agentHomes = movedAgentHomes({ CLAUDE_CONFIG_DIR: "/home/u/cc/", CODEX_HOME: "/home/u/p/codex" });
    assert.deepEqual(
      agentHomes.map((h) => [h.path, h.entry.path]),
      [
        ["/home/u/cc", ".claude"],
        ["/home/u/p/codex", ".codex"],
      ],
    );
    const probe = (p: string) =>
      p === "/home/u/cc" || p === "/home/u/p/codex" ? "dir" : (TREE[p] ?? "missing");
    const { ops } = plan({ readWrite: ["/tmp", "/home/u/cc"], agentHomes, probe });
    assert.ok(at(ops, "bind", "/home/u/cc") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/cc/settings.json", "/state/empty") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/cc/.config.json", "/state/empty") >= 0);
    assert.ok(at(ops, "ro-bind", "/home/u/p/codex") >= 0, "inside the workdir: read-only as a whole");
    assert.deepEqual(movedAgentHomes({ CLAUDE_CONFIG_DIR: "relative", CODEX_HOME: "" }), []);
  });

  test("a protected path below a symbolic link is not pinned (a mount would follow it) and is noted", () => {
    const { ops, notes } = plan();
    assert.equal(at(ops, "ro-bind", "/home/u/p/link/.envrc"), -1);
    assert.ok(notes.some((n) => n.includes("/home/u/p/link/.envrc")));
  });

  test("homes: tmpfs, then the toolchains read-only (skipped if gone), then the policy's paths; no deny op for what is hidden anyway", () => {
    const { ops } = plan();
    const home = at(ops, "tmpfs", "/home");
    const nvm = at(ops, "ro-bind-try", "/home/u/.nvm/versions/node/v20");
    const claude = at(ops, "bind", "/home/u/.claude");
    assert.ok(home >= 0 && nvm > home && claude > nvm);
    assert.equal(at(ops, "tmpfs", "/home/u/.ssh"), -1, "hidden by the home's tmpfs already");
    assert.equal(
      ops.findIndex((m) => m.op === "bind" && m.dest === "/tmp"),
      -1,
      "a fresh /tmp is never the host's",
    );
  });

  test("overlaid workdir: no pins inside it", () => {
    const { ops } = plan({ workdirSource: "/stage/merged" });
    assert.ok(!ops.some((m) => "dest" in m && m.dest.startsWith("/home/u/p/")));
  });
});

describe("host-run files", () => {
  test("classified by what reads them", () => {
    assert.equal(hostRunTool("a/b/.envrc"), "direnv");
    assert.equal(hostRunTool(".claude/settings.local.json"), "Claude Code");
    assert.equal(hostRunTool("x/.vscode/tasks.json"), "VS Code");
    assert.equal(hostRunTool(".venv/lib/python3.11/site-packages/x.pth"), "Python");
    assert.equal(hostRunTool("src/index.ts"), null);
    assert.equal(hostRunTool(".claude/notes.md"), null);
    assert.equal(
      hostRunTool(".envrc.airlock-disarmed-20260101T000000"),
      null,
      "a disarmed name is read by nothing",
    );
    assert.match(
      disarmedName("/w/.envrc", Date.UTC(2026, 0, 2, 3, 4, 5)),
      /^\/w\/\.envrc\.airlock-disarmed-20260102T030405$/,
    );
  });

  test("git config references: the last core.hooksPath wins, includes are collected, other sections do not count", () => {
    const refs = configReferences(
      '[core]\n\thooksPath = .husky\n[alias]\n\thookspath = no\n[include]\n\tpath = ../shared.gitconfig\n[includeIf "gitdir:~/w/"]\n  path = "x y"\n[core]\n  HooksPath = b\n',
    );
    assert.deepEqual(refs, { hooksPath: "b", includes: ["../shared.gitconfig", "x y"] });
    assert.deepEqual(configReferences("[user]\nname = x\npath = no\n"), { hooksPath: null, includes: [] });
  });

  test("changes: created and changed are reported, a new directory stands for what is in it", () => {
    const before = new Map([
      ["/w/.git", { tool: "git repository", signature: "dir:1" }],
      ["/w/.envrc", { tool: "direnv", signature: "file:2:10:100" }],
      ["/w/x/.mcp.json", { tool: "MCP client", signature: "file:3:2:100" }],
    ]);
    const after = new Map([
      ["/w/.git", { tool: "git repository", signature: "dir:1" }],
      ["/w/.envrc", { tool: "direnv", signature: "file:2:10:200" }],
      ["/w/x/.mcp.json", { tool: "MCP client", signature: "file:3:2:100" }],
      ["/w/n/.git", { tool: "git repository", signature: "dir:9" }],
      ["/w/n/.git/config", { tool: "git", signature: "file:10:5:1" }],
      ["/w/p/.npmrc", { tool: "npm", signature: "file:11:0:1" }],
    ]);
    assert.deepEqual(hostRunChanges(before, after, new Set(["/w/p/.npmrc"])), [
      { path: "/w/.envrc", tool: "direnv", change: "changed", directory: false },
      { path: "/w/n/.git", tool: "git repository", change: "created", directory: true },
    ]);
  });
});
