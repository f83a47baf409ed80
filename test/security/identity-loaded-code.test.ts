// Borrowing a binary's identity by loading code into it: a loader variable (LD_PRELOAD,
// LD_LIBRARY_PATH), a library from a writable place, a library from memory (memfd). Each is tried
// from inside a real `airlock run` by a listed binary; the recording upstream shows what got
// through, and the 403 says why. A tracer is the other way in: ptrace is refused by the seccomp
// filter (seccomp.test.ts), so here it is shown refused on a real curl.
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

const LOADER = `${RAW_CLIENT}
import ctypes, os
how = sys.argv[1]
if how == "workdir-library":
    ctypes.CDLL(os.path.abspath("libcopy.so"))
elif how == "memfd-library":
    fd = os.memfd_create("payload")
    os.write(fd, open("libcopy.so", "rb").read())
    ctypes.CDLL("/proc/self/fd/%d" % fd)
elif how == "system-library":
    ctypes.CDLL("${LIBZ}")
elif how == "ptrace-self":
    libc = ctypes.CDLL(None, use_errno=True)
    print("ptrace-self", libc.ptrace(0, 0, 0, 0), ctypes.get_errno(), flush=True)
s = socket.create_connection(("127.0.0.1", 3128))
request(s, how + "-marker")
`;

const SCRIPT = [
  'echo "curl-plain $(/usr/bin/curl -s http://rec.test/curl-plain-marker)"',
  'echo "ld-preload $(LD_PRELOAD=$PWD/libcopy.so /usr/bin/curl -s http://rec.test/ld-preload-marker)"',
  'echo "ld-library-path $(LD_LIBRARY_PATH=$PWD/libs /usr/bin/curl -s http://rec.test/ld-library-path-marker)"',
  "/usr/bin/python3 loader.py system-library",
  "/usr/bin/python3 loader.py workdir-library",
  "/usr/bin/python3 loader.py memfd-library",
  "/usr/bin/python3 loader.py ptrace-self",
].join("; ");

describe("identity of a binary with code loaded into it", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let received = "";
  const line = (prefix: string) => stdout.split("\n").find((l) => l.startsWith(`${prefix} `)) ?? "";
  before(async () => {
    dir = scratchDir("sec-load");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(join(wd, "libs"), { recursive: true });
    copyFileSync(LIBZ, join(wd, "libcopy.so"));
    writeFileSync(join(wd, "loader.py"), LOADER);
    const policy = recPolicy(dir, `[{ path: /usr/bin/curl }, { path: ${PYTHON} }]`);
    const run = await runIn(upstream, policy, wd, join(dir, "h"), SCRIPT);
    assert.equal(run.code, 0, run.stderr);
    stdout = run.stdout;
    received = upstream.received();
  });
  after(async () => {
    await upstream.close();
    removeDir(dir);
  });

  test("controls: plain curl, and python loading a system library, are let through", () => {
    assert.match(received, /GET \/curl-plain-marker/);
    assert.match(received, /GET \/system-library-marker/);
    assert.match(line("system-library-marker"), /HTTP\/1\.1 200/);
  });

  test("LD_PRELOAD into curl: denied, and the reason names the variable", () => {
    assert.doesNotMatch(received, /ld-preload-marker/);
    assert.match(line("ld-preload"), /was started with LD_PRELOAD set/);
  });

  test("LD_LIBRARY_PATH alone voids the identity", () => {
    assert.doesNotMatch(received, /ld-library-path-marker/);
    assert.match(line("ld-library-path"), /was started with LD_LIBRARY_PATH set/);
  });

  test("a library loaded from the writable workdir: denied, naming the file", () => {
    assert.doesNotMatch(received, /workdir-library-marker/);
    assert.match(line("workdir-library-marker"), /403 .*runs code from \S*\/libcopy\.so, which is neither/);
  });

  test("a library loaded from memory (memfd): denied", () => {
    assert.doesNotMatch(received, /memfd-library-marker/);
    assert.match(line("memfd-library-marker"), /403 .*runs code from \/memfd:payload \(deleted\)/);
  });

  test("ptrace is refused inside the sandbox (EPERM), so no tracer can rewrite a listed binary", () => {
    assert.match(line("ptrace-self"), /^ptrace-self -1 1$/);
  });
});
