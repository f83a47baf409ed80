// Paths whose name does not say what they are, against the shipped preset, checked in real
// bash: hard links (the same file under another name, made before the session or by an
// approved call) and symlinks the agent can replace between the decision and the run. Each
// attack is first run unguarded to prove it works; then whatever the gate allows is run.
import assert from "node:assert/strict";
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CallContext, ToolCall } from "../../src/gate/call.ts";
import { type GateRuntime, openGate } from "../../src/gate/runtime.ts";
import { agentContext } from "../gate/helpers.ts";
import { agentBash } from "./gate-helpers.ts";

const POLICY = join(import.meta.dirname, "../../examples/policies/gate.yaml");
const root = mkdtempSync(join(tmpdir(), "airlock-gate-paths-"));
const home = join(root, "home");
const project = join(home, "project");
const SECRET = "DECOY-SECRET-91c2";
after(() => rmSync(root, { recursive: true, force: true }));

function fresh(): void {
  rmSync(home, { recursive: true, force: true });
  for (const d of [".ssh", "other", "project/src"]) mkdirSync(join(home, d), { recursive: true });
  writeFileSync(join(home, ".ssh", "id_rsa"), `${SECRET}\n`);
  writeFileSync(join(home, "other", ".env"), `TOKEN=${SECRET}\n`);
  writeFileSync(join(home, ".bashrc"), "# rc\n");
  writeFileSync(join(home, "notes.txt"), "public notes\n");
  writeFileSync(join(project, "README.md"), "hello\n");
}

const bash = (line: string) => agentBash(line, project, home);

let preset: GateRuntime;
let anchored: GateRuntime;
before(async () => {
  preset = await openGate(POLICY, { receipts: false });
  // Every file this gate protects is named under a fixed directory: all of them can be listed.
  const file = join(root, "anchored.yaml");
  writeFileSync(
    file,
    `gate:
  hard_stops:
    - { id: secrets, decision: deny, reason: secrets, file: { path: ["~/.ssh/**", "~/.bashrc"] } }
  allow:
    - { id: read, shell: { command: [cat, head] } }
    - { id: workdir-read, file: { op: read, path: ["./**"] } }
`,
  );
  anchored = await openGate(file, { receipts: false });
});

const ctx = (): CallContext => agentContext(home, project);
const shell = (command: string): ToolCall => ({ kind: "shell", command });
const mcpRead = (path: string): ToolCall => ({
  kind: "mcp",
  server: "fs",
  tool: "read_file",
  arguments: { path },
});

/** Decides each call; a shell line that is allowed is run (as rewritten) and must not leak. */
async function refused(gate: GateRuntime, calls: ToolCall[]): Promise<Map<ToolCall, string>> {
  const out = new Map<ToolCall, string>();
  for (const call of calls) {
    const d = await gate.decide(call, ctx());
    if (d.decision === "allow" && call.kind === "shell") {
      const line = d.rewrite?.kind === "shell" ? d.rewrite.command : call.command;
      assert.ok(!(await bash(line)).includes(SECRET), `allowed and it leaked: ${line}`);
    }
    assert.notEqual(d.decision, "allow", `${JSON.stringify(call)}: ${d.reason}`);
    out.set(call, `${d.decision} ${d.step} ${d.rule ?? ""}: ${d.reason}`);
  }
  return out;
}

describe("hard links: a path is the file it names, not its name", () => {
  it("a hard link to a key is the key, for every tool kind", async () => {
    fresh();
    linkSync(join(home, ".ssh", "id_rsa"), join(project, "k"));
    assert.ok((await bash("cat k")).includes(SECRET), "the link reads the key unguarded");
    assert.ok(readFileSync(join(project, "k"), "utf8").includes(SECRET));
    const calls = [
      shell("cat k"),
      shell("head -c 64 ./src/../k"),
      { kind: "file_read", path: "k" } as ToolCall,
      mcpRead("k"),
      mcpRead(`file://${project}/k`),
    ];
    for (const [call, d] of await refused(preset, calls))
      assert.match(d, /^deny hard_stop secrets/, JSON.stringify(call));
    for (const [, d] of await refused(anchored, [shell("cat k"), { kind: "file_read", path: "k" }]))
      assert.match(d, /^deny hard_stop secrets/);
  });

  it("a write through a hard link to a shell rc file is a write to it", async () => {
    fresh();
    linkSync(join(home, ".bashrc"), join(project, "rc"));
    await bash("echo 'touch pwned' >> rc");
    assert.match(readFileSync(join(home, ".bashrc"), "utf8"), /touch pwned/, "the link writes the rc file");
    fresh();
    linkSync(join(home, ".bashrc"), join(project, "rc"));
    for (const call of [shell("echo x >> rc"), { kind: "file_write", path: "rc" } as ToolCall]) {
      const d = await preset.decide(call, ctx());
      assert.equal(d.step, "hard_stop", JSON.stringify(call));
    }
  });

  it("a file with other names that a rule protects anywhere (**/.env) is not tier 0", async () => {
    fresh();
    linkSync(join(home, "other", ".env"), join(project, "notes.txt"));
    assert.ok((await bash("cat notes.txt")).includes(SECRET), "the link reads the .env unguarded");
    const decided = await refused(preset, [
      shell("cat notes.txt"),
      { kind: "file_read", path: "notes.txt" },
      mcpRead("notes.txt"),
    ]);
    for (const d of decided.values()) assert.match(d, /has 2 names/);
  });

  it("where the line is: other names are harmless when every protected file can be listed", async () => {
    fresh();
    linkSync(join(project, "README.md"), join(project, "README.copy"));
    for (const call of [shell("cat README.copy"), { kind: "file_read", path: "README.copy" } as ToolCall]) {
      const d = await anchored.decide(call, ctx());
      assert.equal(d.decision, "allow", `${JSON.stringify(call)}: ${d.reason}`);
      assert.notEqual((await preset.decide(call, ctx())).decision, "allow", "the preset has **/.env");
    }
    assert.equal((await bash("cat README.copy")).trim(), "hello");
    // Too many protected files to look at: a file with other names cannot be told apart from them.
    for (let i = 0; i < 4100; i++) writeFileSync(join(home, ".ssh", `k${i}`), "");
    const d = await anchored.decide(shell("cat README.copy"), ctx());
    assert.notEqual(d.decision, "allow");
    assert.match(d.reason, /could not all be checked/);
  });
});

describe("symlinks the agent can replace", () => {
  it("a replaceable link leading out of the workdir is not tier 0; one leading inside is", async () => {
    fresh();
    // Outside the workdir and the home (a path in the home is not tier 0 by itself).
    const notes = join(root, "notes.txt");
    writeFileSync(notes, "public notes\n");
    symlinkSync(notes, join(project, "out"));
    symlinkSync("README.md", join(project, "in"));
    assert.equal((await preset.decide(shell(`cat ${notes}`), ctx())).decision, "allow", "the file itself");
    for (const [, d] of await refused(preset, [shell("cat out"), mcpRead("out")]))
      assert.match(d, /a symlink the agent can replace/);
    const inside = await preset.decide(shell("cat in"), ctx());
    assert.equal(inside.decision, "allow", inside.reason);
    // A swap needs a link leading out; the agent cannot make one without a person.
    for (const line of [`ln -sf ${home}/.ssh/id_rsa in`, "mv out in", "ln -sfn ~/.ssh in", "cp -P out in"]) {
      const d = await preset.decide(shell(line), ctx());
      assert.notEqual(d.decision, "allow", line);
    }
  });
});
