// A holder that hides from /proc/<pid>/fd: a process whose main thread has exited (its other
// threads run on) shows no descriptors of its own. It gives its socket to a listed curl as well
// (inherited, curl never touches it), then its surviving thread sends the request. The holder
// scan reads such a process through a live thread, so the holders disagree and nothing reaches
// the recording upstream.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  PYTHON,
  RAW_CLIENT,
  type RecordingUpstream,
  recordingUpstream,
  recPolicy,
  runIn,
} from "./identity-helpers.ts";

const ATTACKER = `${RAW_CLIENT}
import ctypes, os, subprocess, threading, time
s = socket.create_connection(("127.0.0.1", 3128))
# A listed binary holds the socket too, without ever using it (curl reads a pipe meanwhile).
subprocess.Popen(["/usr/bin/curl", "-s", "-o", "/dev/null", "file:///dev/stdin"],
                 stdin=subprocess.PIPE, pass_fds=(s.fileno(),))
def later():
    time.sleep(1)
    with open("leader-gone", "w") as f:
        f.write(open("/proc/%d/status" % os.getpid()).read())
    request(s, "hidden-holder-marker")
    os._exit(0)
threading.Thread(target=later).start()
ctypes.CDLL(None).pthread_exit(None)
`;

describe("identity when a holder's main thread has exited", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  before(async () => {
    dir = scratchDir("sec-hidden");
    upstream = await recordingUpstream();
  });
  after(async () => {
    await upstream.close();
    removeDir(dir);
  });

  test("the hidden holder is found through its live thread: holders disagree, nothing goes through", async () => {
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "attacker.py"), ATTACKER);
    copyFileSync(PYTHON, join(wd, "evilpy"));
    const policy = recPolicy(dir, "[{ path: /usr/bin/curl }]");
    const run = await runIn(upstream, policy, wd, join(dir, "h"), "./evilpy attacker.py; sleep 2");
    assert.equal(run.code, 0, run.stderr);
    assert.match(readFileSync(join(wd, "leader-gone"), "utf8"), /^State:\s+Z/m, "the main thread had exited");
    assert.doesNotMatch(upstream.received(), /hidden-holder-marker/);
    assert.match(
      run.stdout,
      /hidden-holder-marker HTTP\/1\.1 403 .*different binaries share the connection \(\S*evilpy, \/usr\/bin\/curl\)/,
    );
  });
});
