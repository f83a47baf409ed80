// The identity lookup starts reading the likely holder's maps (the connection's previous holder,
// else the newest process) on a reader thread before it knows the holders. Attacked here from
// inside a real `airlock run`: a guess that names the wrong process must not lend its clean maps
// to the real holder, and a right guess must read the holder as it is at this request, not as it
// was at the last one. The recording upstream shows what got through.
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
if how == "newer-clean-process":
    # Foreign code in the holder, then a newer process (it does not inherit the socket) that
    # runs nothing foreign: the newest process is not the holder.
    ctypes.CDLL(os.path.abspath("libcopy.so"))
    newer = subprocess.Popen(["/bin/sleep", "5"])
    request(s, how + "-marker")
    newer.kill()
elif how == "loads-between-requests":
    # Clean at the first request on the connection, foreign code before the second.
    request(s, how + "-first-marker")
    ctypes.CDLL(os.path.abspath("libcopy.so"))
    request(s, how + "-second-marker")
`;

describe("identity when the likely holder is guessed", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let received = "";
  const line = (marker: string) => stdout.split("\n").find((l) => l.startsWith(`${marker} `)) ?? "";
  before(async () => {
    dir = scratchDir("sec-guess");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(wd, { recursive: true });
    copyFileSync(LIBZ, join(wd, "libcopy.so"));
    writeFileSync(join(wd, "client.py"), CLIENT);
    const policy = recPolicy(dir, `[{ path: ${PYTHON} }]`);
    const script = [
      "/usr/bin/python3 client.py newer-clean-process",
      "/usr/bin/python3 client.py loads-between-requests",
    ].join("; ");
    const run = await runIn(upstream, policy, wd, join(dir, "h"), script);
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
    assert.match(
      line("newer-clean-process-marker"),
      /403 .*runs code from \S*\/libcopy\.so, which is neither/,
    );
  });

  test("the previous holder is read afresh: code it loaded since its last request voids it", () => {
    assert.match(
      received,
      /GET \/loads-between-requests-first-marker/,
      "the clean first request went through",
    );
    assert.match(line("loads-between-requests-first-marker"), /HTTP\/1\.1 200/);
    assert.doesNotMatch(received, /loads-between-requests-second-marker/);
    assert.match(
      line("loads-between-requests-second-marker"),
      /403 .*runs code from \S*\/libcopy\.so, which is neither/,
    );
  });
});
