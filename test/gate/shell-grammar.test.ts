// The tier-0 grammar, option spellings, inert assignments and real paths, judged by the cascade.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { searchReads } from "../../src/gate/call.ts";
import { decide } from "../../src/gate/cascade.ts";
import { loadGateText } from "../../src/gate/load.ts";
import { gatherFacts, resolveReal } from "../../src/gate/path-facts.ts";
import { hasRefusedFlag, parseArgs, refusedFlag } from "../../src/gate/shell/flags.ts";
import { analyzer, CTX, gateFrom, READ_ONLY_GATE } from "./helpers.ts";

const gate = gateFrom(READ_ONLY_GATE);
const tier0 = async (command: string, ctx = CTX) => {
  const d = await decide(gate, { kind: "shell", command }, ctx, { analyze: analyzer });
  return d.decision === "allow" && d.tier === 0;
};

describe("the tier-0 grammar", () => {
  it("allows only what it fully understands", async () => {
    for (const line of [
      "ls -la",
      "cat a | wc -l",
      "cd src && ls; pwd",
      "LC_ALL=C ls",
      "TZ=Europe/Paris ls",
      "(( 1 + 2 * 3 ))",
      "[[ 1 -lt 2 ]] && ls",
      "[[ -f a && a == b* ]] || ls",
      "[ -d src ] && ls src",
      "if [[ -n x ]]; then echo y; else echo z; fi",
      "{ ls; }",
      "(ls)",
      "cat <<'EOF'\n$(rm -rf ~)\nEOF",
      "cat <<< hello",
      "ls > /dev/null 2>&1",
    ]) {
      assert.ok(await tier0(line), line);
    }
  });

  it("refuses assignments, arithmetic on names, loops, declarations and expansions", async () => {
    for (const line of [
      "BASH_CMDS[cat]=/bin/sh; cat -c x",
      "BASH_ALIASES[x]=rm; ls",
      "IFS[0]=x ls",
      "a=(1 2); ls",
      "x=1; ls",
      "x+=1 ls",
      "IFS=/ ls",
      "PATH=/tmp ls",
      "BASH_ENV=x ls",
      "LC_ALL=/etc/passwd ls",
      "TZ=../../x ls",
      "TZ=:/etc/x ls",
      "[[ 'a[$(id)]' -eq 0 ]]",
      "[[ x -eq 0 ]]",
      "[[ 0x1 -eq 1 ]]",
      "[[ -v 'a[$(id)]' ]]",
      "[[ -R x ]]",
      "(( x ))",
      "(( 'x[$(id)]' ))",
      "echo $((1+2))",
      "let x=1",
      "declare -i x=1; ls",
      "export A=1",
      "for i in a; do ls; done",
      "while true; do ls; done",
      "case x in x) ls;; esac",
      "f() { ls; }",
      "cat <<EOF\n$x\nEOF",
      `echo \${x}`,
      "unset x; ls",
    ]) {
      assert.equal(await tier0(line), false, line);
    }
  });

  it("sees `[ a > b ]` as the redirection bash runs", () => {
    assert.match(analyzer("[ a > b ]").parseError ?? "", /redirection/);
    assert.equal(analyzer("[[ a > b ]]").parseError, undefined);
  });

  it("refuses network, device and kernel paths, and descriptors the line did not open", async () => {
    for (const line of [
      "cat < /dev/tcp/h/80",
      "echo x > /dev/udp/h/53",
      "cat /dev/sda",
      "cat /dev/zero",
      "ls >&3",
      "ls 2>&9",
      "cat /proc/self/root/etc/passwd",
      "cat /sys/kernel/x",
    ]) {
      assert.equal(await tier0(line), false, line);
    }
    for (const line of ["ls 2>&1", "ls >&2", "cat < /dev/null", "cat /dev/stdin", "ls > /dev/fd/2"]) {
      assert.ok(await tier0(line), line);
    }
  });

  it("policy may name more inert variables, never one that changes what runs", () => {
    const extended = gateFrom(READ_ONLY_GATE.replace("gate:\n", "gate:\n  inert_env: [MY_FLAG]\n"));
    assert.ok(extended.inertEnv.has("MY_FLAG"));
    for (const name of ["PATH", "BASH_CMDS", "LD_PRELOAD", "IFS", "GIT_DIR", "GCONV_PATH"]) {
      const loaded = loadGateText(`gate:\n  inert_env: [${name}]\n`, "t.yaml", analyzer);
      assert.equal(loaded.ok, false, name);
    }
  });
});

describe("option spellings", () => {
  const given = (line: string, flag: string) => {
    const cmd = analyzer(line).commands[0];
    assert.ok(cmd);
    return hasRefusedFlag(parseArgs(cmd), refusedFlag(cmd.name.value, flag));
  };
  it("finds a refused flag bundled, with a value, abbreviated, and not after --", () => {
    assert.ok(given("rg --pre=sh x", "pre"));
    assert.ok(given("rg --pr=sh x", "pre"));
    assert.ok(given("rg --pre sh x", "pre"));
    assert.ok(given("tree -ao x", "o"));
    assert.ok(given("git push --for", "force"));
    assert.ok(given("git push --for", "f"));
    assert.equal(given("rg --pretty x", "pre"), false);
    assert.equal(given("rg -- --pre x", "pre"), false);
    assert.equal(given("ls -la", "o"), false);
  });
});

describe("real paths", () => {
  const dir = mkdtempSync(join(tmpdir(), "airlock-real-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const home = join(dir, "home");
  const work = join(home, "w");
  mkdirSync(join(home, ".ssh"), { recursive: true });
  mkdirSync(work);
  writeFileSync(join(home, ".ssh", "id_rsa"), "k");
  symlinkSync(join(home, ".ssh", "id_rsa"), join(work, "k"));
  symlinkSync(join(home, ".ssh", "gone"), join(work, "dangling"));
  symlinkSync(join(home, ".ssh"), join(work, "kd"));
  symlinkSync("loop", join(work, "loop"));
  const ctx = { ...CTX, cwd: work, workdir: work, home };

  it("follows symlinks (dangling ones too), .. after them, /proc/self links; refuses loops", () => {
    assert.equal(resolveReal(join(work, "k"), work).path, join(home, ".ssh", "id_rsa"));
    assert.equal(resolveReal(join(work, "dangling"), work).path, join(home, ".ssh", "gone"));
    assert.equal(resolveReal(`${work}/kd/../x`, work).path, join(home, "x"));
    assert.equal(resolveReal(`/proc/self/cwd/../.ssh/id_rsa`, work).path, join(home, ".ssh", "id_rsa"));
    assert.equal(resolveReal(`/proc/self/root${work}/k`, work).path, join(home, ".ssh", "id_rsa"));
    assert.equal(resolveReal(`/proc/self/root${work}/k`, work).safe, false, "a kernel path is never tier 0");
    assert.equal(resolveReal(join(work, "loop"), work).safe, false);
    assert.equal(resolveReal(`${work}/missing/../x`, work).safe, false);
  });

  it("hard stops see where a path really leads; allows need every path resolved safely", async () => {
    const deps = { analyze: analyzer, facts: gatherFacts };
    for (const command of [
      "cat k",
      "cat kd/id_rsa",
      "echo x > dangling",
      "cat /proc/self/cwd/../.ssh/id_rsa",
    ]) {
      const d = await decide(gate, { kind: "shell", command }, ctx, deps);
      assert.equal(d.decision, "deny", command);
    }
    const read = await decide(gate, { kind: "file_read", path: "k" }, ctx, deps);
    assert.equal(read.decision, "deny");
    const loop = await decide(gate, { kind: "shell", command: "cat loop" }, ctx, deps);
    assert.notEqual(loop.decision, "allow");
  });

  it("a glob search reads the directory its pattern starts in", () => {
    assert.deepEqual(
      searchReads(undefined, "~/.ssh/*", "/w").map((c) => (c.kind === "file_read" ? c.path : "")),
      ["/w", "~/.ssh"],
    );
    assert.deepEqual(
      searchReads("/w", "../other/**/*.ts", "/w").map((c) => (c.kind === "file_read" ? c.path : "")),
      ["/w", "/w/../other"],
    );
    assert.equal(searchReads("/w", "src/**/*.ts", "/w").length, 2);
    assert.equal(searchReads("/w", "*.ts", "/w").length, 1);
  });
});
