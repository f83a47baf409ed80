// $AIRLOCK_HOME has one owner (src/protocol/home.ts, sandbox-record.ts): no other file of src/
// spells a path under it, a relative AIRLOCK_HOME lands in the same place for every real
// process that uses it (whatever its current directory), and a sandbox record whose write is
// cut off leaves the previous record whole.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import ts from "typescript";
import {
  gatePolicyFile,
  homePaths,
  namedGatePolicy,
  SANDBOXES,
  sandboxDir,
  sandboxFiles,
} from "../../src/protocol/home.ts";
import {
  readSandboxRecord,
  type SandboxRecord,
  writeSandboxRecord,
} from "../../src/protocol/sandbox-record.ts";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const SRC = resolve("src");
const OWNER = ["protocol/home.ts"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|cts|mts)$/.test(e.name) ? [path] : [];
  });
}

/** Every string literal (and every literal piece of a template) in a TypeScript file's code. */
function literals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    // A literal type (`Timeline["sandboxes"]`) names a property, not a file.
    if (ts.isLiteralTypeNode(node)) return;
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) found.push(node.text);
    node.forEachChild(visit);
  };
  visit(source);
  return found;
}

describe("one owner of $AIRLOCK_HOME's layout", () => {
  /**
   * A path under the home is built from literal segments (`join(home, "gate", "receipts.jsonl")`,
   * `${home}/operator.token`): a literal that is such a segment, alone or with a leading slash,
   * is a path built by hand. Names that are plain words (gate, logs, ca, contain, policy.yaml's
   * folder-mates) also name commands and other folders, so a home path is searched for by its
   * distinctive parts: every relative path of homePaths(), every file name in it, the
   * sandboxes folder and the sandbox folder's own records.
   */
  function homeNames(): Set<string> {
    const files = sandboxFiles("/d");
    const rel = Object.values(homePaths("/h")).map((p) => relative("/h", p));
    return new Set([
      ...rel,
      ...rel.map((p) => basename(p)).filter((name) => name.includes(".")),
      SANDBOXES,
      basename(files.record),
      basename(files.mountPoints),
    ]);
  }
  const spellsHomePath = (names: Set<string>, text: string): boolean => {
    const segment = text.replace(/^\//, "");
    return [...names].some((name) => segment === name || segment.startsWith(`${name}/`));
  };

  test("no file of src/ but src/protocol/home.ts names a file or folder of the home", () => {
    const names = homeNames();
    assert.ok(names.has("sandbox.json") && names.has("operator.token") && names.has("gate/receipts.jsonl"));
    const spelled = sourceFiles(SRC)
      .filter((file) => !OWNER.includes(relative(SRC, file)))
      .flatMap((file) =>
        literals(file)
          .filter((text) => spellsHomePath(names, text))
          .map((text) => `${relative(SRC, file)}: "${text}"`),
      );
    assert.deepEqual(spelled, []);
  });

  test("the checker finds a path built by hand, and not a help text", () => {
    const dir = scratchDir("home-literals");
    try {
      const file = join(dir, "x.ts");
      writeFileSync(
        file,
        [
          "const a = join(home, 'sandboxes', name, 'sandbox.json');",
          `const b = \`\${home}/gate/receipts.jsonl\`;`,
          "const c = join(home, 'gate', 'mcp-pins.json');",
          "const help = 'receipt file (default $AIRLOCK_HOME/gate/receipts.jsonl)';",
        ].join("\n"),
      );
      const names = homeNames();
      assert.deepEqual(
        literals(file).filter((text) => spellsHomePath(names, text)),
        ["sandboxes", "sandbox.json", "/gate/receipts.jsonl", "mcp-pins.json"],
      );
    } finally {
      removeDir(dir);
    }
  });
});

test("a sandbox name never leads out of sandboxes/", () => {
  assert.equal(sandboxDir("/h", "box-1.a"), "/h/sandboxes/box-1.a");
  for (const name of ["", ".", "..", "../x", "a/b", "/etc", "x\0y"])
    assert.throws(() => sandboxDir("/h", name), /not a sandbox name/, JSON.stringify(name));
});

describe("a relative AIRLOCK_HOME, for every process that uses it", () => {
  let dir: string;
  let user: string;
  let agentDir: string;
  let home: string;
  const REL = "state/airlock-rel";
  // Every process runs in the agent's directory, outside the user's home: a relative home
  // resolved against the current directory would land there.
  const env = () => ({ HOME: user, AIRLOCK_GATEWAY: "", AIRLOCK_TOKEN: "", AIRLOCK_GATE_POLICY: "" });
  const airlock = (args: string[], stdin?: string) =>
    runCli(args, { airlockHome: REL, cwd: agentDir, env: env(), ...(stdin ? { stdin } : {}) });

  before(() => {
    dir = scratchDir("relative-home");
    user = join(dir, "user");
    agentDir = join(dir, "agent");
    mkdirSync(user);
    mkdirSync(agentDir);
    home = join(user, REL);
  });
  after(async () => {
    await airlock(["gateway", "stop"]);
    removeDir(dir);
  });

  test("a hook's receipts and key go under the user's home, not the agent's directory", async () => {
    const payload = {
      session_id: "relative-home",
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_input: { command: "ls" },
      cwd: agentDir,
    };
    const r = await airlock(
      ["hook", "claude-code", "--policy", resolve("examples/policies/gate.yaml")],
      JSON.stringify(payload),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).hookSpecificOutput.permissionDecision, "allow");
    const paths = homePaths(home);
    assert.equal(readFileSync(paths.receipts, "utf8").trim().split("\n").length, 1);
    assert.ok(existsSync(paths.receiptKey) && existsSync(`${paths.receipts}.head`));
    const verify = await airlock(["gate", "verify", paths.receipts]);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    assert.deepEqual(readdirSync(agentDir), []);
  });

  test("the gateway's files, and a client in another directory that finds them", async () => {
    const started = await airlock(["gateway", "start", "--json"]);
    assert.equal(started.code, 0, started.stderr);
    const info = JSON.parse(started.stdout) as { url: string; db: string };
    const paths = homePaths(home);
    assert.equal(JSON.parse(readFileSync(paths.gatewayInfo, "utf8")).url, info.url);
    assert.ok(existsSync(paths.operatorToken) && existsSync(paths.gatewayDb));
    assert.equal(info.db, `sqlite:${paths.gatewayDb}`);
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    // The client finds the gateway and its operator token through the same relative home.
    const settings = await runCli(["settings", "get", "--json"], {
      airlockHome: REL,
      cwd: elsewhere,
      env: env(),
    });
    assert.equal(settings.code, 0, settings.stderr);
    assert.equal(JSON.parse(settings.stdout).effective.approval_mode, "manual");
    assert.deepEqual(readdirSync(agentDir), []);
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  test("a sandbox's record and logs, and `airlock logs` from another directory", async () => {
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, "version: 1\nnetwork_policies: {}\n");
    const workdir = join(dir, "work");
    mkdirSync(workdir);
    const ran = await runCli(
      ["run", "--name", "rel", "--policy", policy, "--workdir", workdir, "--", "true"],
      { airlockHome: REL, cwd: agentDir, env: env() },
    );
    assert.equal(ran.code, 0, ran.stderr);
    const record = readSandboxRecord(sandboxDir(home, "rel"));
    assert.equal(record?.exit_code, 0);
    assert.equal(record?.logs, sandboxFiles(sandboxDir(home, "rel")).logs);
    const logs = await runCli(["logs", "rel"], { airlockHome: REL, cwd: workdir, env: env() });
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /LOADED policy/);
    assert.deepEqual(readdirSync(agentDir), []);
  });
});

describe("the sandbox record", () => {
  let dir: string;
  before(() => {
    dir = scratchDir("sandbox-record");
  });
  after(() => removeDir(dir));

  const record = (extra: Record<string, unknown> = {}): SandboxRecord => ({
    name: "rec",
    pid: 4242,
    started: "2026-01-01T00:00:00.000Z",
    workdir: "/w",
    command: "true",
    policy_file: null,
    logs: "/w/logs",
    ca: "/w/ca/ca.pem",
    ...extra,
  });

  test("reads back what was written, keeps fields it does not know, and refuses a field of the wrong type", () => {
    const at = join(dir, "shape");
    mkdirSync(at);
    writeSandboxRecord(at, record({ future_field: [1, 2] }));
    assert.deepEqual(readSandboxRecord(at), record({ future_field: [1, 2] }));
    const older = { name: "rec", started: "2026-01-01T00:00:00.000Z", pid: 4242 };
    writeFileSync(sandboxFiles(at).record, JSON.stringify(older));
    assert.deepEqual(readSandboxRecord(at), older, "a record that lacks fields is read as it is");
    writeFileSync(sandboxFiles(at).record, JSON.stringify({ ...record(), pid: "4242" }));
    assert.equal(readSandboxRecord(at), null, "a pid that is not a number is no record");
    assert.throws(() => writeSandboxRecord(at, { ...record(), pid: "x" } as unknown as SandboxRecord));
    assert.equal(readSandboxRecord(join(dir, "absent")), null);
  });

  /**
   * A child process writes a record larger than the file size limit it is held to (prlimit
   * --fsize): the kernel refuses the write past 64 KiB (EFBIG; Node ignores SIGXFSZ), in the
   * middle of the record, as a full disk would. `writer` is either the real writeSandboxRecord
   * or a plain writeFileSync over the record (the control, which shows that the cut-off really
   * tears a record written in place).
   */
  function cutOffWrite(at: string, writer: "atomic" | "in-place"): { status: number | null; stderr: string } {
    const script = `
      import { writeFileSync } from "node:fs";
      import { writeSandboxRecord } from ${JSON.stringify(resolve("src/protocol/sandbox-record.ts"))};
      import { sandboxFiles } from ${JSON.stringify(resolve("src/protocol/home.ts"))};
      const next = ${JSON.stringify(record({ name: "next", padding: "x".repeat(256 * 1024) }))};
      if (${JSON.stringify(writer)} === "atomic") writeSandboxRecord(${JSON.stringify(at)}, next);
      else writeFileSync(sandboxFiles(${JSON.stringify(at)}).record, JSON.stringify(next));
    `;
    const file = join(dir, `cut-${writer}.mts`);
    writeFileSync(file, script);
    // tsx writes nothing of its own (no cache), so the one file the child writes is the record.
    const r = spawnSync("prlimit", ["--fsize=65536", process.execPath, "--import", "tsx", file], {
      encoding: "utf8",
      env: { ...process.env, TSX_DISABLE_CACHE: "1" },
    });
    return { status: r.status, stderr: r.stderr };
  }

  test("a write cut off in the middle leaves the previous record whole", () => {
    const at = join(dir, "cut");
    mkdirSync(at);
    writeSandboxRecord(at, record());
    const cut = cutOffWrite(at, "atomic");
    assert.notEqual(cut.status, 0);
    assert.match(cut.stderr, /EFBIG/, "the write was cut off by the file size limit");
    assert.deepEqual(readSandboxRecord(at), record());
    assert.deepEqual(readdirSync(at), ["sandbox.json"], "and the cut-off temporary file is gone");
  });

  test("control: the same cut-off tears a record written in place", () => {
    const at = join(dir, "cut-control");
    mkdirSync(at);
    writeSandboxRecord(at, record());
    const cut = cutOffWrite(at, "in-place");
    assert.match(cut.stderr, /EFBIG/);
    assert.equal(readFileSync(sandboxFiles(at).record).length, 65536, "cut off at the limit");
    assert.equal(readSandboxRecord(at), null, "the in-place write left a torn record");
  });
});

test("the gate policy in effect: --policy, else a non-empty AIRLOCK_GATE_POLICY, else the home's gate.yaml", () => {
  const env = { AIRLOCK_HOME: "/h" };
  assert.equal(gatePolicyFile("/p.yaml", { ...env, AIRLOCK_GATE_POLICY: "/e.yaml" }), "/p.yaml");
  assert.equal(gatePolicyFile(undefined, { ...env, AIRLOCK_GATE_POLICY: "/e.yaml" }), "/e.yaml");
  // An empty value names nothing, the same for the hook, `gate contain` and `agent setup`.
  assert.equal(gatePolicyFile(undefined, { ...env, AIRLOCK_GATE_POLICY: "" }), homePaths("/h").gatePolicy);
  assert.equal(namedGatePolicy(undefined, { ...env, AIRLOCK_GATE_POLICY: "" }), undefined);
  assert.equal(namedGatePolicy("", env), undefined);
});
