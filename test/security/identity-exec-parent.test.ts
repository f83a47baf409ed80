// Borrowing a binary's identity through an exec'd parent: `( sleep 1; /usr/bin/python3 client.py ) & exec
// curl ...` makes python a child of a process that now runs curl. An ancestor grants only where
// the rule says `children: true`; the recording upstream shows what got through.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  LIBZ,
  RAW_CLIENT,
  type RecordingUpstream,
  recordingUpstream,
  recPolicy,
  runIn,
} from "./identity-helpers.ts";

const ATTACK =
  "( sleep 1; /usr/bin/python3 client.py execd-child-marker ) & exec /usr/bin/curl -s http://rec.test/slow-curl-marker";

describe("identity through an exec'd parent", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  before(async () => {
    dir = scratchDir("sec-exec");
    upstream = await recordingUpstream(3000);
  });
  after(async () => {
    await upstream.close();
    removeDir(dir);
  });

  function workdir(name: string): string {
    const wd = join(dir, name);
    mkdirSync(wd);
    writeFileSync(
      join(wd, "client.py"),
      `${RAW_CLIENT}\ns = socket.create_connection(("127.0.0.1", 3128))\nrequest(s, sys.argv[1])\n`,
    );
    return wd;
  }

  test("python under an exec'd curl does not get curl's rule", async () => {
    const run = await runIn(
      upstream,
      recPolicy(dir, "[{ path: /usr/bin/curl }]"),
      workdir("a"),
      join(dir, "h"),
      ATTACK,
    );
    assert.equal(run.code, 0, run.stderr);
    const received = upstream.received();
    assert.match(received, /GET \/slow-curl-marker/, "curl itself is allowed (the control)");
    assert.doesNotMatch(received, /execd-child-marker/, "python's request never reached the upstream");
    assert.match(run.stdout, /execd-child-marker HTTP\/1\.1 403 .*binary not allowed/);
  });

  test("with children: true on curl, the same child is let through (the opt-in is what grants)", async () => {
    const policy = recPolicy(dir, "[{ path: /usr/bin/curl, children: true }]");
    const run = await runIn(upstream, policy, workdir("b"), join(dir, "h"), ATTACK);
    assert.equal(run.code, 0, run.stderr);
    assert.match(upstream.received(), /GET \/execd-child-marker/);
  });

  test("children: true grants nothing through a parent with code loaded into it", async () => {
    const wd = workdir("c");
    copyFileSync(LIBZ, join(wd, "libcopy.so"));
    const policy = recPolicy(dir, "[{ path: /usr/bin/curl, children: true }]");
    // curl stays busy reading a pipe (no network) while its child connects.
    const preloaded =
      "sleep 3 | ( ( sleep 1; /usr/bin/python3 client.py execd-child-preloaded-marker ) & " +
      "LD_PRELOAD=$PWD/libcopy.so exec /usr/bin/curl -s -o /dev/null file:///dev/stdin )";
    const run = await runIn(upstream, policy, wd, join(dir, "h"), preloaded);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(upstream.received(), /execd-child-preloaded-marker/);
    assert.match(run.stdout, /execd-child-preloaded-marker HTTP\/1\.1 403 .*binary not allowed/);
  });
});
