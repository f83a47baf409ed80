import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decideCommit } from "../../src/gate/contain/changeset.ts";
import { ContainSchema } from "../../src/gate/schema.ts";

const root = mkdtempSync(join(tmpdir(), "airlock-contain-"));
after(() => rmSync(root, { recursive: true, force: true }));
const policy = join(root, "gate.yaml");
writeFileSync(policy, "gate:\n  contain:\n    commit:\n      protected: [.git/**, '**/.env']\n");

function project(name: string): string {
  const wd = join(root, name);
  mkdirSync(join(wd, "sub"), { recursive: true });
  mkdirSync(join(wd, "gone"), { recursive: true });
  mkdirSync(join(wd, ".git"), { recursive: true });
  writeFileSync(join(wd, "a.txt"), "a\n");
  writeFileSync(join(wd, "keep.txt"), "keep\n");
  writeFileSync(join(wd, "sub", "old.txt"), "old\n");
  writeFileSync(join(wd, "gone", "x"), "x\n");
  writeFileSync(join(wd, ".git", "config"), "[core]\n");
  return wd;
}

interface Report {
  exit_code: number;
  committed: boolean;
  reasons: string[];
  notes: string[];
  changes: Array<{ path: string; kind: string }>;
}

function contain(
  wd: string,
  script: string,
): Promise<{ status: number | null; stderr: string; report: Report }> {
  const report = join(root, `report-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        join(process.cwd(), "bin/airlock.js"),
        "gate",
        "contain",
        "--policy",
        policy,
        "--workdir",
        wd,
        "--report",
        report,
        "--",
        "bash",
        "-c",
        script,
      ],
      {
        cwd: wd,
        env: { ...process.env, AIRLOCK_HOME: join(root, "home") },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.stdout.resume();
    const kill = setTimeout(() => child.kill("SIGKILL"), 60000);
    child.on("close", (status) => {
      clearTimeout(kill);
      resolve({
        status,
        stderr,
        report: existsSync(report) ? JSON.parse(readFileSync(report, "utf8")) : null,
      });
    });
  });
}

describe("contained run (real overlay, real bubblewrap)", { timeout: 120000 }, () => {
  it("commits changes inside the workdir: additions, edits, deletions and directory replacements exactly", async () => {
    const wd = project("commit");
    const r = await contain(
      wd,
      "echo new > n.txt && echo more >> keep.txt && rm a.txt && rm -r sub && mkdir sub && echo c > sub/c.txt && rm -r gone && echo f > gone && ln -s keep.txt link && mkdir -p d/e",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.report.committed, true);
    assert.equal(readFileSync(join(wd, "n.txt"), "utf8"), "new\n");
    assert.equal(readFileSync(join(wd, "keep.txt"), "utf8"), "keep\nmore\n");
    assert.equal(existsSync(join(wd, "a.txt")), false);
    assert.equal(
      existsSync(join(wd, "sub", "old.txt")),
      false,
      "the replaced directory does not keep old entries",
    );
    assert.equal(readFileSync(join(wd, "sub", "c.txt"), "utf8"), "c\n");
    assert.equal(readFileSync(join(wd, "gone"), "utf8"), "f\n", "a directory replaced by a file");
    assert.equal(readlinkSync(join(wd, "link")), "keep.txt");
    assert.ok(existsSync(join(wd, "d", "e")));
    const kinds = Object.fromEntries(
      r.report.changes.map((c: { path: string; kind: string }) => [c.path, c.kind]),
    );
    assert.equal(kinds["a.txt"], "deleted");
    assert.equal(kinds["keep.txt"], "modified");
    assert.equal(kinds["n.txt"], "added");
    assert.equal(kinds["gone"], "replaced");
    assert.equal(kinds["sub/old.txt"], "deleted");
  });

  it("discards everything when a change touches a protected file, and says why", async () => {
    const wd = project("discard");
    const r = await contain(wd, "echo new > n.txt && echo evil >> .git/config");
    assert.equal(r.status, 1);
    assert.equal(r.report.committed, false);
    assert.match(r.report.reasons.join(" "), /\.git\/config: protected/);
    assert.equal(existsSync(join(wd, "n.txt")), false);
    assert.equal(readFileSync(join(wd, ".git", "config"), "utf8"), "[core]\n");
    assert.match(r.stderr, /discarded 2 changes/);
  });

  it("runs without network, without Airlock's variables, and cannot write outside the workdir", async () => {
    const wd = project("isolated");
    const outside = join(root, "outside.txt");
    const r = await contain(
      wd,
      `echo x > ${outside}; echo x > /usr/airlock-contain-test; echo $? > rc-outside; env > env.txt; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ' > net`,
    );
    assert.equal(r.report.committed, true, r.stderr);
    assert.equal(existsSync(outside), false, "/tmp is private to the run");
    assert.equal(existsSync("/usr/airlock-contain-test"), false);
    assert.notEqual(readFileSync(join(wd, "rc-outside"), "utf8").trim(), "0");
    // Only the loopback interface exists in the sandbox's network namespace.
    assert.equal(readFileSync(join(wd, "net"), "utf8").trim(), "lo");
    const env = readFileSync(join(wd, "env.txt"), "utf8");
    assert.doesNotMatch(env, /^AIRLOCK_HOME=/m, "Airlock's own variables stay outside");
    assert.match(env, /^AIRLOCK_CONTAINED=1$/m);
  });

  it("passes the command's exit code through", async () => {
    const wd = project("exit");
    const r = await contain(wd, "exit 7");
    assert.equal(r.status, 7);
  });
});

describe("what a contained run may never commit (real runs)", { timeout: 180000 }, () => {
  it("symlinks that lead out of the workdir, or to a protected file, discard the run, each with a reason", async () => {
    const wd = project("links-out");
    // A link already in the workdir: a new link through it leads out, though it reads as inside.
    symlinkSync("..", join(wd, "up"));
    const r = await contain(
      wd,
      [
        "ln -s ~/.ssh/id_rsa key",
        "ln -s ../outside.txt rel",
        "ln -s /etc/passwd abs",
        "ln -s up/outside.txt chain",
        "ln -s sub/../../x dots",
        "echo s > .env && ln -s .env env-link",
        "echo fine > n.txt",
      ].join(" && "),
    );
    assert.equal(r.report.committed, false, r.stderr);
    const reasons = r.report.reasons.join("\n");
    for (const link of ["key", "rel", "abs", "chain", "dots"])
      assert.match(reasons, new RegExp(`^${link}: a symlink to .* leads out of the workdir`, "m"));
    assert.match(reasons, /^env-link: a symlink to a protected file/m);
    for (const name of ["key", "rel", "abs", "chain", "dots", "env-link", "n.txt"])
      assert.equal(existsSync(join(wd, name)), false, `${name} was not committed`);
  });

  it("fifos and sockets discard the run; hard links to files outside the change set too", async () => {
    const wd = project("special");
    const fifo = await contain(wd, "mkfifo pipe && echo fine > n.txt");
    assert.equal(fifo.report.committed, false);
    assert.match(fifo.report.reasons.join("\n"), /^pipe: a fifo is never committed/m);
    const socket = await contain(
      wd,
      `${JSON.stringify(process.execPath)} -e 'require("net").createServer().listen("sock", () => process.exit(0))'`,
    );
    assert.equal(socket.report.committed, false, socket.stderr);
    assert.match(socket.report.reasons.join("\n"), /^sock: a socket is never committed/m);
    const linked = await contain(wd, "ln keep.txt hard");
    assert.equal(linked.report.committed, false, linked.stderr);
    assert.match(linked.report.reasons.join("\n"), /^hard: a hard link to a file outside the change set/m);
    for (const name of ["pipe", "sock", "hard", "n.txt"]) assert.equal(existsSync(join(wd, name)), false);
  });

  it("setuid, setgid and sticky bits are stripped on commit, with a note for each", async () => {
    const wd = project("setuid");
    const r = await contain(
      wd,
      "echo x > suid && chmod 4755 suid && echo y > sgid && chmod 2755 sgid && mkdir sticky && chmod 1777 sticky && chmod 4755 keep.txt",
    );
    assert.equal(r.report.committed, true, r.stderr + r.report.reasons.join("; "));
    assert.equal(statSync(join(wd, "suid")).mode & 0o7777, 0o755);
    assert.equal(statSync(join(wd, "sgid")).mode & 0o7777, 0o755);
    assert.equal(statSync(join(wd, "sticky")).mode & 0o7777, 0o777);
    assert.equal(statSync(join(wd, "keep.txt")).mode & 0o7000, 0);
    const notes = r.report.notes.join("\n");
    for (const name of ["suid", "sgid", "sticky", "keep.txt"])
      assert.match(notes, new RegExp(`^${name}: setuid/setgid/sticky bits stripped`, "m"));
    assert.match(r.stderr, /note: suid: setuid\/setgid\/sticky bits stripped \(mode 4755 → 755\)/);
  });
});

describe("commit rules", () => {
  const config = ContainSchema.parse({
    commit: { protected: ["**/.env", "secrets/**"], max_files: 2, max_bytes: 10 },
  });
  const paths = { cwd: "/w", workdir: "/w", home: "/h" };
  it("commits ordinary changes and refuses protected, too many or too large ones", () => {
    assert.equal(
      decideCommit([{ path: "a", kind: "added", type: "file", size: 1 }], config, paths).commit,
      true,
    );
    assert.equal(
      decideCommit([{ path: "x/.env", kind: "added", type: "file", size: 1 }], config, paths).commit,
      false,
    );
    assert.equal(
      decideCommit([{ path: "secrets/k", kind: "deleted", type: "file", size: 0 }], config, paths).commit,
      false,
    );
    assert.equal(
      decideCommit([{ path: "a", kind: "added", type: "file", size: 11 }], config, paths).commit,
      false,
    );
    const three = ["a", "b", "c"].map((p) => ({
      path: p,
      kind: "added" as const,
      type: "file" as const,
      size: 0,
    }));
    assert.equal(decideCommit(three, config, paths).commit, false);
    const device = {
      path: "d",
      kind: "added" as const,
      type: "special" as const,
      size: 0,
      special: "block device",
    };
    assert.deepEqual(decideCommit([device], config, paths).reasons, ["d: a block device is never committed"]);
    const dangling = { path: "l", kind: "added" as const, type: "symlink" as const, size: 0, target: "x" };
    assert.match(
      decideCommit([dangling], config, paths).reasons.join(),
      /where the symlink leads is not known/,
    );
    assert.equal(
      decideCommit([{ path: "../x", kind: "added", type: "file", size: 0 }], config, paths).commit,
      false,
    );
  });
});
