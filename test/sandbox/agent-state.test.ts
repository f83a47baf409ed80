// The private copy of ~/.claude.json on real files: which policies get one, where it is bound in
// the mount plan, and the merge back into the host's file under Claude Code's own lock.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type AgentStateCopy,
  makeAgentStateCopies,
  mergeAgentStateBack,
} from "../../src/sandbox/agent-state.ts";
import { type PathKind, planMounts } from "../../src/sandbox/mounts.ts";
import { removeDir, scratchDir } from "./helpers.ts";

describe("agent state copies", () => {
  const dir = scratchDir("agent-state");
  after(() => removeDir(dir));
  let n = 0;
  /** A fresh home and sandbox folder. */
  function setup(hostDoc?: unknown) {
    const home = join(dir, `home-${++n}`);
    mkdirSync(home);
    const file = join(home, ".claude.json");
    if (hostDoc !== undefined) writeFileSync(file, JSON.stringify(hostDoc), { mode: 0o640 });
    return { home, file, copies: join(dir, `sandbox-${n}`, "agent-state") };
  }

  test("a copy only when the policy makes the file writable and does not deny it", () => {
    const { home, file, copies } = setup({ numStartups: 1 });
    assert.deepEqual(makeAgentStateCopies(home, {}, [join(home, ".claude")], [], copies), []);
    assert.deepEqual(makeAgentStateCopies(home, {}, [home], [file], copies), []);
    const [copy] = makeAgentStateCopies(home, {}, [home], [], copies);
    assert.equal(copy?.file, file);
    assert.deepEqual(copy?.shownAt, [file]);
    assert.equal(readFileSync(copy?.copy as string, "utf8"), '{"numStartups":1}');
    assert.equal(statSync(copy?.copy as string).mode & 0o777, 0o600);
  });

  test("where the host's environment moves Claude Code's config (CLAUDE_CONFIG_DIR, a custom OAuth endpoint): that file too", () => {
    const { home, file, copies } = setup({ numStartups: 1 });
    const cfg = join(home, "cfg");
    mkdirSync(cfg);
    const env = { CLAUDE_CONFIG_DIR: cfg, CLAUDE_CODE_CUSTOM_OAUTH_URL: "https://example.test" };
    const made = makeAgentStateCopies(home, env, [home], [], copies);
    assert.deepEqual(
      made.map((c) => c.file),
      [file, join(cfg, ".claude-custom-oauth.json")],
    );
    assert.notEqual(made[0]?.copy, made[1]?.copy, "one copy each");
    assert.equal(readFileSync(join(cfg, ".claude-custom-oauth.json"), "utf8"), "{}\n");
    // A config directory that does not exist: nothing to copy there.
    assert.equal(
      makeAgentStateCopies(home, { CLAUDE_CONFIG_DIR: join(home, "none") }, [home], [], copies).length,
      1,
    );
  });

  test("no host file (a writable home): {} made on the host and in the copy; only harmless entries land", () => {
    const { home, file, copies } = setup();
    const [copy] = makeAgentStateCopies(home, {}, [home], [], copies);
    assert.ok(copy);
    assert.equal(readFileSync(copy.copy, "utf8"), "{}\n");
    assert.equal(readFileSync(file, "utf8"), "{}\n", "no empty mount point left for bubblewrap to make");
    writeFileSync(copy.copy, JSON.stringify({ numStartups: 1, env: { A: "1" } }));
    const found = mergeAgentStateBack([copy], { applyAll: false, time: 0 });
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { numStartups: 1 });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(
      found.map((f) => [f.entry, f.change, f.applied]),
      [["env", "created", false]],
    );
    assert.ok(found[0]?.keptAt && existsSync(found[0].keptAt), "the copy kept aside");
    assert.equal(existsSync(copy.copy), false);
  });

  test("nothing held back: the copy is removed, the host's mode kept", () => {
    const { home, file, copies } = setup({ numStartups: 1 });
    const [copy] = makeAgentStateCopies(home, {}, [file], [], copies);
    assert.ok(copy);
    writeFileSync(copy.copy, JSON.stringify({ numStartups: 2 }));
    assert.deepEqual(mergeAgentStateBack([copy], { applyAll: false, time: 0 }), []);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { numStartups: 2 });
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(existsSync(copy.copy), false);
  });

  test("Claude Code's lock: a stale one is taken over, a live one leaves the host's file alone", () => {
    const { home, file, copies } = setup({ numStartups: 1 });
    const [copy] = makeAgentStateCopies(home, {}, [file], [], copies);
    assert.ok(copy);
    writeFileSync(copy.copy, JSON.stringify({ numStartups: 2 }));
    mkdirSync(`${file}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    assert.deepEqual(mergeAgentStateBack([copy], { applyAll: false, time: 0 }), []);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { numStartups: 2 });
    assert.equal(existsSync(`${file}.lock`), false);

    const [again] = makeAgentStateCopies(home, {}, [file], [], copies);
    assert.ok(again);
    writeFileSync(again.copy, JSON.stringify({ numStartups: 3 }));
    mkdirSync(`${file}.lock`); // a host session holds it (for longer than the merge waits)
    const [failed] = mergeAgentStateBack([again], { applyAll: false, time: 0 });
    assert.match(failed?.error ?? "", /held by another process/);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { numStartups: 2 }, "not written");
    assert.ok(existsSync(`${file}.lock`), "the host's lock is not removed");
    assert.equal(readFileSync(failed?.keptAt as string, "utf8"), '{"numStartups":3}');
  });

  test("a folder at ~/.claude.json refuses the start; an oversized one is shown, never merged", () => {
    const { home, file, copies } = setup();
    mkdirSync(file);
    assert.throws(
      () => makeAgentStateCopies(home, {}, [file], [], copies),
      /\.claude\.json: not a regular file/,
    );
    const big = setup({});
    truncateSync(big.file, 33 * 1024 * 1024); // sparse: the size alone is past the bound
    const [copy] = makeAgentStateCopies(big.home, {}, [big.file], [], big.copies);
    assert.equal(statSync(copy?.copy as string).size, 33 * 1024 * 1024);
    const [failed] = mergeAgentStateBack([copy as AgentStateCopy], { applyAll: true, time: 0 });
    assert.match(failed?.error ?? "", /larger than 32 MiB/);
    assert.equal(statSync(big.file).size, 33 * 1024 * 1024, "the host's file untouched");
  });

  test("a copy with very many entries: the first hundred are listed, the rest counted", () => {
    const { home, file, copies } = setup({});
    const [copy] = makeAgentStateCopies(home, {}, [file], [], copies);
    const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`k${i}`, i]));
    writeFileSync(copy?.copy as string, JSON.stringify(many));
    const found = mergeAgentStateBack([copy as AgentStateCopy], { applyAll: false, time: 0 });
    assert.equal(found.length, 101);
    assert.equal(found[100]?.entry, "(150 more)");
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), {});
  });

  test("the host's file no longer JSON at the end: nothing written, the copy kept", () => {
    const { home, file, copies } = setup({ numStartups: 1 });
    const [copy] = makeAgentStateCopies(home, {}, [file], [], copies);
    assert.ok(copy);
    writeFileSync(copy.copy, JSON.stringify({ numStartups: 2 }));
    writeFileSync(file, "{ half");
    const [failed] = mergeAgentStateBack([copy], { applyAll: true, time: 0 });
    assert.match(failed?.error ?? "", /host's file is not valid JSON/);
    assert.equal(readFileSync(file, "utf8"), "{ half");
  });
});

describe("mount plan: private copies", () => {
  const tree: Record<string, PathKind> = { "/home": "dir", "/home/u": "dir", "/home/u/.claude.json": "file" };
  const plan = (deny: string[] = []) =>
    planMounts({
      workdir: null,
      readWrite: ["/home/u/.claude.json"],
      readOnly: [],
      deny,
      hidden: ["/home"],
      etc: [],
      airlockFiles: {},
      probe: (p) => tree[p] ?? "missing",
      privateCopies: [{ path: "/home/u/.claude.json", src: "/state/agent-state/.claude.json" }],
    });

  test("the listed file is shown from the copy, never from the host", () => {
    const binds = plan().ops.filter((m) => "dest" in m && m.dest === "/home/u/.claude.json");
    assert.deepEqual(binds, [
      { op: "bind", src: "/state/agent-state/.claude.json", dest: "/home/u/.claude.json" },
    ]);
  });

  test("a copy inside a writable folder: the folders above it are pinned first", () => {
    const real = "/home/u/.claude/state/claude.json";
    const deep: Record<string, PathKind> = {
      ...tree,
      "/home/u/.claude": "dir",
      "/home/u/.claude/state": "dir",
    };
    const { ops } = planMounts({
      workdir: null,
      readWrite: ["/home/u/.claude"],
      readOnly: [],
      deny: [],
      hidden: ["/home"],
      etc: [],
      airlockFiles: {},
      probe: (p) => deep[p] ?? "missing",
      privateCopies: [{ path: real, src: "/state/c.json" }],
    });
    const pin = ops.findIndex(
      (m) => m.op === "bind" && m.src === "/home/u/.claude/state" && m.dest === m.src,
    );
    const copy = ops.findIndex((m) => m.op === "bind" && m.src === "/state/c.json" && m.dest === real);
    assert.ok(pin > 0 && copy > pin, JSON.stringify(ops));
    assert.equal(copy, ops.length - 1, "nothing shadows the copy");
  });

  test("deny still wins: nothing shows the file", () => {
    const ops = plan(["/home/u/.claude.json"]).ops;
    assert.deepEqual(
      ops.filter((m) => "dest" in m && m.dest === "/home/u/.claude.json"),
      [],
    );
  });
});
