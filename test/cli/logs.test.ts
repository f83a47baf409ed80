// `airlock logs`: a real sandbox's log read back, --json, clear errors, and --follow seeing a
// line a second real run appends (and the reader/follower across a daily file change).
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { followLog } from "../../src/audit/follow.ts";
import { readAppended } from "../../src/audit/reader.ts";
import { runCli, startCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

let dir: string;
let home: string;
let policyFile: string;

function curlIn(name: string, url: string) {
  return runCli(["run", "--name", name, "--policy", policyFile, "--workdir", dir, "--", "curl", "-s", url], {
    airlockHome: home,
  });
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("airlock logs", () => {
  before(() => {
    dir = scratchDir("cli-logs");
    home = join(dir, "home");
    policyFile = join(dir, "policy.yaml");
    writeFileSync(policyFile, "version: 1\nnetwork_policies: {}\n");
  });
  after(() => removeDir(dir));

  test("no sandbox yet → says to run `airlock run`", async () => {
    const r = await runCli(["logs"], { airlockHome: home });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no sandbox yet .*airlock run/);
  });

  test("prints the sandbox's DENIED line, --json the OCSF events; unknown sandbox lists the known ones", async () => {
    const ran = await curlIn("logs-one", "https://blocked.example/x?token=sekrit");
    assert.notEqual(ran.code, 0, "curl must have been denied");
    const r = await runCli(["logs"], { airlockHome: home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[MED\] DENIED CONNECT blocked\.example:443 \[policy:- engine:l4\]/);
    assert.ok(!r.stdout.includes("sekrit"));
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines[0]?.includes("LOADED policy"), "oldest first");

    const json = await runCli(["logs", "logs-one", "--json", "--last", "3"], { airlockHome: home });
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(events.length, 3);
    assert.ok(events.some((e) => e.class_uid === 4001 && e.action === "Denied"));

    const unknown = await runCli(["logs", "nope"], { airlockHome: home });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown sandbox "nope".*known sandboxes: logs-one/);
    const bad = await runCli(["logs", "--last", "x"], { airlockHome: home });
    assert.equal(bad.code, 2, "a usage error");
    assert.match(bad.stderr, /--last/);
  });

  test("--follow prints a line appended later by another run, and stops on SIGINT", async () => {
    await curlIn("logs-two", "https://first.example/");
    // Two sandboxes, neither running: unnamed, the command would refuse to guess.
    const unnamed = await runCli(["logs"], { airlockHome: home });
    assert.equal(unnamed.code, 1);
    assert.match(unnamed.stderr, /no sandbox is running; name the one you mean/);
    assert.match(unnamed.stderr, /logs-one {2}not running/);
    const following = startCli(["logs", "logs-two", "--follow", "--last", "1"], {
      airlockHome: home,
      timeoutMs: 60_000,
    });
    let out = "";
    following.child.stdout?.on("data", (d) => (out += d));
    await until("the last line printed", () => out.includes("TERMINATE"));
    assert.ok(!out.includes("second.example"));
    await curlIn("logs-two", "https://second.example/");
    await until("the appended DENIED line", () => /DENIED CONNECT second\.example:443/.test(out));
    following.child.kill("SIGINT");
    const done = await following.done;
    assert.equal(done.code, 0, done.stderr);
  });
});

describe("log reader and follower", () => {
  let logs: string;
  before(() => {
    logs = join(scratchDir("log-follow"), "logs");
    mkdirSync(logs, { recursive: true });
  });
  after(() => removeDir(join(logs, "..")));

  test("readAppended returns whole lines only and where to read next", () => {
    const file = join(logs, "partial.log");
    writeFileSync(file, "one\ntwo\nthr");
    const first = readAppended(file, 0);
    assert.deepEqual(first.lines, ["one", "two"]);
    assert.equal(first.offset, 8);
    appendFileSync(file, "ee\n");
    assert.deepEqual(readAppended(file, first.offset).lines, ["three"]);
    assert.deepEqual(readAppended(join(logs, "missing.log"), 0).lines, []);
  });

  test("followLog skips what is there, sees appends, and moves on to the next day's file", async () => {
    const day1 = join(logs, "airlock.2026-01-01.log");
    writeFileSync(day1, "old line\n");
    const seen: string[] = [];
    const follower = followLog(logs, "shorthand", (line) => seen.push(line));
    try {
      appendFileSync(day1, "new on day 1\n");
      await until("the day-1 append", () => seen.includes("new on day 1"), 10_000);
      writeFileSync(join(logs, "airlock.2026-01-02.log"), "first of day 2\n");
      await until("the day-2 file", () => seen.includes("first of day 2"), 10_000);
      appendFileSync(join(logs, "airlock.2026-01-02.log"), "second of day 2\n");
      await until("the day-2 append", () => seen.includes("second of day 2"), 10_000);
      assert.deepEqual(seen, ["new on day 1", "first of day 2", "second of day 2"]);
    } finally {
      follower.stop();
    }
  });
});
