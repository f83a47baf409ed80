import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
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

  it("runs without network and cannot write outside the workdir", async () => {
    const wd = project("isolated");
    const outside = join(root, "outside.txt");
    const r = await contain(
      wd,
      `echo x > ${outside}; echo x > /usr/airlock-contain-test; echo $? > rc-outside; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ' > net`,
    );
    assert.equal(r.report.committed, true, r.stderr);
    assert.equal(existsSync(outside), false, "/tmp is private to the run");
    assert.equal(existsSync("/usr/airlock-contain-test"), false);
    assert.notEqual(readFileSync(join(wd, "rc-outside"), "utf8").trim(), "0");
    // Only the loopback interface exists in the sandbox's network namespace.
    assert.equal(readFileSync(join(wd, "net"), "utf8").trim(), "lo");
  });

  it("passes the command's exit code through", async () => {
    const wd = project("exit");
    const r = await contain(wd, "exit 7");
    assert.equal(r.status, 7);
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
    assert.equal(
      decideCommit([{ path: "../x", kind: "added", type: "file", size: 0 }], config, paths).commit,
      false,
    );
  });
});
