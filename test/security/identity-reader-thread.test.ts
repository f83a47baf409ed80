// The identity lookup hands work to a reader thread before it knows the holders: the likely
// holder's maps (the connection's previous holder, else the newest process), or, in a sandbox of
// four processes or more, half of the holder scan. Attacked from inside a real `airlock run`: a
// wrong guess must not lend its clean maps to the real holder, a right guess must read the
// holder as it is at this request, and holders split across the two halves of a scan must all
// be judged. The recording upstream shows what got through.
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
def foreign():
    ctypes.CDLL(os.path.abspath("libcopy.so"))
def idle():
    return [subprocess.Popen(["/bin/sleep", "30"]) for _ in range(4)]
if how == "newer-clean-process":
    # Foreign code in the holder, then a newer process (it does not inherit the socket) that
    # runs nothing foreign: the newest process is not the holder.
    foreign()
    newer = subprocess.Popen(["/bin/sleep", "5"])
    request(s, how + "-marker")
    newer.kill()
elif how == "loads-between-requests":
    # Clean at the first request on the connection, foreign code before the second.
    request(s, how + "-first-marker")
    foreign()
    request(s, how + "-second-marker")
elif how == "crowded-clean":
    # The sandbox's pids: the shell, this one, four idle ones.
    others = idle()
    request(s, how + "-marker")
    for p in others: p.kill()
elif how == "crowded-newest":
    # The shell started four idle ones first: this one is in the thread's half of the scan.
    foreign()
    request(s, how + "-marker")
elif how == "crowded-forked":
    # This one (the lookup's half), four idle ones, then a child sharing the socket (the thread's).
    others = idle()
    child = os.fork()
    if child == 0:
        foreign()
        request(s, how + "-marker")
        os._exit(0)
    os.waitpid(child, 0)
    for p in others: p.kill()
`;

describe("identity with work handed to the reader thread", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let received = "";
  const line = (marker: string) => stdout.split("\n").find((l) => l.startsWith(`${marker} `)) ?? "";
  const FOREIGN = /403 .*runs code from \S*\/libcopy\.so, which is neither/;
  before(async () => {
    dir = scratchDir("sec-reader");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(wd, { recursive: true });
    copyFileSync(LIBZ, join(wd, "libcopy.so"));
    writeFileSync(join(wd, "client.py"), CLIENT);
    const policy = recPolicy(dir, `[{ path: ${PYTHON} }]`);
    const script = [
      "/usr/bin/python3 client.py newer-clean-process",
      "/usr/bin/python3 client.py loads-between-requests",
      "/usr/bin/python3 client.py crowded-clean",
      'for i in 1 2 3 4; do /bin/sleep 30 & idle="$idle $!"; done; /usr/bin/python3 client.py crowded-newest; kill $idle',
      "/usr/bin/python3 client.py crowded-forked",
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

  test("a newer, clean process does not lend its maps to the holder with foreign code", () => {
    assert.doesNotMatch(received, /newer-clean-process-marker/);
    assert.match(line("newer-clean-process-marker"), FOREIGN);
  });

  test("the previous holder is read afresh: code it loaded since its last request voids it", () => {
    assert.match(received, /GET \/loads-between-requests-first-marker/, "the clean first request");
    assert.match(line("loads-between-requests-first-marker"), /HTTP\/1\.1 200/);
    assert.doesNotMatch(received, /loads-between-requests-second-marker/);
    assert.match(line("loads-between-requests-second-marker"), FOREIGN);
  });

  test("control: a clean holder among idle processes gets through", () => {
    assert.match(received, /GET \/crowded-clean-marker/);
    assert.match(line("crowded-clean-marker"), /HTTP\/1\.1 200/);
  });

  test("a holder with foreign code that only the thread's half of the scan holds is judged", () => {
    assert.doesNotMatch(received, /crowded-newest-marker/);
    assert.match(line("crowded-newest-marker"), FOREIGN);
  });

  test("holders in both halves of the scan are all judged: the clean parent does not cover the child", () => {
    assert.doesNotMatch(received, /crowded-forked-marker/);
    assert.match(line("crowded-forked-marker"), FOREIGN);
  });
});
