// In a sandbox of four processes or more, the identity lookup scans half of them for the
// connection's holders on a reader thread while it scans the others. Attacked from inside a real
// `airlock run`: holders split across the two halves must all be judged (one clean, one with
// foreign code: denied), a holder only the thread found must be judged, and a clean holder still
// gets through. The recording upstream shows what got through.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  LIBZ,
  PYTHON,
  RAW_CLIENT,
  type RecordingUpstream,
  recordingUpstream,
  recPolicy,
  runIn,
} from "./identity-helpers.ts";

const CLIENT = `${RAW_CLIENT}
import ctypes, os, subprocess
how = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 3128))
# Idle processes started after this one and before any other holder: the pids of the sandbox are
# then the shell, this one, the idle ones, and (for "forked") a child that shares the socket:
# this one is in the half scanned by the lookup, the child in the thread's. For "newest-loads"
# the shell started the idle ones first: this one is in the thread's half.
idle = [] if how == "newest-loads" else [subprocess.Popen(["/bin/sleep", "30"]) for _ in range(4)]
if how == "clean":
    request(s, how + "-marker")
elif how == "newest-loads":
    ctypes.CDLL(os.path.abspath("libcopy.so"))
    request(s, how + "-marker")
elif how == "forked":
    child = os.fork()
    if child == 0:
        ctypes.CDLL(os.path.abspath("libcopy.so"))
        request(s, how + "-marker")
        os._exit(0)
    os.waitpid(child, 0)
for p in idle:
    p.kill()
`;

describe("identity in a crowded sandbox (the holder scan split with the reader thread)", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let received = "";
  const line = (marker: string) => stdout.split("\n").find((l) => l.startsWith(`${marker} `)) ?? "";
  before(async () => {
    dir = scratchDir("sec-crowd");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(wd, { recursive: true });
    copyFileSync(LIBZ, join(wd, "libcopy.so"));
    writeFileSync(join(wd, "client.py"), CLIENT);
    const policy = recPolicy(dir, `[{ path: ${PYTHON} }]`);
    const script = [
      "/usr/bin/python3 client.py clean",
      'for i in 1 2 3 4; do /bin/sleep 30 & idle="$idle $!"; done; /usr/bin/python3 client.py newest-loads; kill $idle',
      "/usr/bin/python3 client.py forked",
    ];
    const run = await runIn(upstream, policy, wd, join(dir, "h"), script.join("; "));
    assert.equal(run.code, 0, run.stderr);
    stdout = run.stdout;
    received = upstream.received();
  });
  after(async () => {
    await upstream.close();
    removeDir(dir);
  });

  test("control: a clean holder among idle processes gets through", () => {
    assert.match(received, /GET \/clean-marker/);
    assert.match(line("clean-marker"), /HTTP\/1\.1 200/);
  });

  test("a holder with foreign code that only the thread's half holds is judged", () => {
    assert.doesNotMatch(received, /newest-loads-marker/);
    assert.match(line("newest-loads-marker"), /403 .*runs code from \S*\/libcopy\.so, which is neither/);
  });

  test("holders in both halves are all judged: the clean parent does not cover the child", () => {
    assert.doesNotMatch(received, /forked-marker/);
    assert.match(line("forked-marker"), /403 .*runs code from \S*\/libcopy\.so, which is neither/);
  });
});
