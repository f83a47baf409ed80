// Borrowing a binary's identity by handing the socket around (SCM_RIGHTS over a unix socket):
// the holder is identified when each request head arrives, every holder must match, and a
// keep-alive connection is re-checked per request. The attacker is a copy of python (a binary no
// rule lists); the accomplice is the listed python. The recording upstream shows what got through.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  HAND_OVER,
  PYTHON,
  RAW_CLIENT,
  type RecordingUpstream,
  recordingUpstream,
  recPolicy,
  runIn,
} from "./identity-helpers.ts";

// The listed python: takes the socket, optionally uses it itself, holds it a second, hands it back.
const HOLDER = `${RAW_CLIENT}
import os, time
mode = sys.argv[1]
srv = socket.socket(socket.AF_UNIX)
srv.bind("h.sock")
srv.listen(1)
conn, _ = srv.accept()
_, fds, _, _ = socket.recv_fds(conn, 16, 1)
s = socket.socket(fileno=fds[0])
if mode == "keepalive":
    conn.recv(1)  # the attacker has closed its copy: this python is the only holder
    request(s, "holder-first-marker")
time.sleep(1)
try:
    socket.send_fds(conn, [b"x"], [s.fileno()])
except OSError:
    pass
s.close()
conn.recv(16)
`;

// The unlisted copy: connects, hands the socket over, and sends its request when told to.
const ATTACKER = `${RAW_CLIENT}${HAND_OVER}
import os, time
mode = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 3128))
u = hand_over(s)
if mode == "shared":
    time.sleep(0.3)
    request(s, "attacker-shared-marker")
else:
    s.close()
    u.send(b"c")
    _, fds, _, _ = socket.recv_fds(u, 16, 1)
    request(socket.socket(fileno=fds[0]), "attacker-" + mode + "-marker")
u.close()
`;

describe("identity when the socket changes hands (SCM_RIGHTS)", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let policy: string;
  before(async () => {
    dir = scratchDir("sec-scm");
    upstream = await recordingUpstream();
    policy = recPolicy(dir, `[{ path: ${PYTHON} }]`);
  });
  after(async () => {
    await upstream.close();
    removeDir(dir);
  });

  async function attack(mode: string) {
    const wd = join(dir, mode);
    mkdirSync(wd);
    writeFileSync(join(wd, "holder.py"), HOLDER);
    writeFileSync(join(wd, "attacker.py"), ATTACKER);
    copyFileSync(PYTHON, join(wd, "evilpy"));
    const script = `/usr/bin/python3 holder.py ${mode} & ./evilpy attacker.py ${mode}; wait`;
    const run = await runIn(upstream, policy, wd, join(dir, "h"), script);
    assert.equal(run.code, 0, run.stderr);
    return run;
  }

  test("handed to the listed python and taken back: the request is the attacker's", async () => {
    const run = await attack("handback");
    assert.doesNotMatch(upstream.received(), /attacker-handback-marker/);
    // Depending on when the proxy looks, the attacker holds the socket alone or beside python:
    // refused either way.
    assert.match(
      run.stdout,
      /attacker-handback-marker HTTP\/1\.1 403 .*(evilpy is not listed|different binaries share the connection)/,
    );
  });

  test("shared with the listed python while the attacker sends: holders disagree", async () => {
    const run = await attack("shared");
    assert.doesNotMatch(upstream.received(), /attacker-shared-marker/);
    assert.match(
      run.stdout,
      /attacker-shared-marker HTTP\/1\.1 403 .*different binaries share the connection/,
    );
  });

  test("keep-alive: the listed python's request goes through, the next one after the hand-back does not", async () => {
    const run = await attack("keepalive");
    const received = upstream.received();
    assert.match(received, /GET \/holder-first-marker/, "the listed holder's own request is allowed");
    assert.match(run.stdout, /holder-first-marker HTTP\/1\.1 200/);
    assert.doesNotMatch(received, /attacker-keepalive-marker/);
    // As in the hand-back: when the proxy looks, python may not have closed its copy yet.
    assert.match(
      run.stdout,
      /attacker-keepalive-marker HTTP\/1\.1 403 .*(evilpy is not listed|different binaries share the connection)/,
    );
  });
});
