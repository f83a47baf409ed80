// The sandbox's seccomp filter: every call it refuses is refused inside a real `airlock run`
// (python's ctypes making the raw call), the filter is what refuses it (a classic-BPF reference
// interpreter runs the generated program for both architectures), and ordinary work (git, node
// workers, python subprocesses) still runs under it. The e2e suites run under it as well: every
// sandbox has it.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  AUDIT_ARCH,
  BLOCKED_CALLS,
  CLONE_NEWUSER,
  type SeccompArch,
  SYSCALLS,
  seccompFilter,
  TIOCLINUX,
  TIOCSTI,
} from "../../src/sandbox/seccomp.ts";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const EPERM = 1;
const ENOSYS = 38;
const ARCH: SeccompArch = process.arch === "arm64" ? "aarch64" : "x86_64";

/** Runs the filter as the kernel would on one call; returns the action word. */
function runFilter(arch: SeccompArch | number, nr: number, args: number[] = []): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(typeof arch === "number" ? arch : AUDIT_ARCH[arch], 4);
  for (const [i, a] of args.entries()) data.writeBigUInt64LE(BigInt(a), 16 + 8 * i);
  const prog = seccompFilter();
  let acc = 0;
  for (let pc = 0; pc * 8 < prog.length; pc++) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    if (code === 0x20) acc = data.readUInt32LE(k);
    else if (code === 0x05) pc += k;
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x35) pc += acc >= k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected BPF opcode ${code}`);
  }
  throw new Error("the program ran off its end");
}
const ERRNO = (e: number) => (0x00050000 | e) >>> 0;
const ALLOW = 0x7fff0000;

// Arguments that make each call harmless, and in most cases not EPERM without the filter.
const ARGS: Partial<Record<(typeof BLOCKED_CALLS)[number], string>> = {
  process_vm_readv: "os.getpid(), 0, 0, 0, 0, 0",
  process_vm_writev: "os.getpid(), 0, 0, 0, 0, 0",
  kcmp: "os.getpid(), os.getpid(), 0, 0, 0",
  keyctl: "0, -3, 0",
  pidfd_getfd: "-1, 0, 0",
  process_madvise: "-1, 0, 0, 0, 0",
  perf_event_open: "0, 0, -1, -1, 0",
  userfaultfd: "1",
  setns: "-1, 0",
  quotactl_fd: "-1, 0, 0, 0",
  open_tree: "-1, 0, 0",
  open_tree_attr: "-1, 0, 0, 0, 0",
  fsconfig: "-1, 0, 0, 0, 0",
  fsmount: "-1, 0, 0",
  fspick: "-1, 0, 0",
  mount_setattr: "-1, 0, 0, 0, 0",
  move_mount: "-1, 0, -1, 0, 0",
  finit_module: "-1, 0, 0",
};

function probeScript(): string {
  const nr = SYSCALLS[ARCH];
  const calls = BLOCKED_CALLS.flatMap((c) =>
    nr[c] === undefined ? [] : [`probe(${JSON.stringify(c)}, ${nr[c]}, ${ARGS[c] ?? ""})`],
  );
  return `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def probe(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == 0 and name.startswith("clone"):
        os._exit(0)  # a child, had the filter let it through
    print(name, r, ctypes.get_errno() if r == -1 else 0, flush=True)
${calls.join("\n")}
probe("clone+newuser", ${nr.clone}, ${CLONE_NEWUSER | 17}, 0, 0, 0, 0)
probe("unshare+newuser", ${nr.unshare}, ${CLONE_NEWUSER})
probe("clone3", ${nr.clone3}, 0, 0)
probe("ioctl+TIOCSTI", ${nr.ioctl}, 0, ${TIOCSTI}, 0)
probe("ioctl+TIOCLINUX", ${nr.ioctl}, 0, ${TIOCLINUX}, 0)
probe("ioctl+FIONREAD", ${nr.ioctl}, 0, 0x541B, 0)
probe("unshare+none", ${nr.unshare}, 0)
`;
}

// Ordinary work under the filter: git, node child processes and workers, python subprocesses.
const WORK = [
  "grep -E '^Seccomp(_filters)?:' /proc/self/status",
  "git init -q repo && cd repo && git -c user.email=a@b -c user.name=n commit -q --allow-empty -m one && echo git-log $(git log --oneline | wc -l) && cd ..",
  `node -e "require('child_process').execSync('true'); const { Worker } = require('worker_threads'); new Worker('0', { eval: true }).on('exit', (c) => console.log('node-worker', c))"`,
  `/usr/bin/python3 -c "import subprocess, multiprocessing as m; print('python-sub', subprocess.run(['true']).returncode, m.Pool(2).map(abs, [-1, -2]))"`,
].join(" && ");

describe("the seccomp filter", () => {
  let dir: string;
  const results = new Map<string, { r: number; errno: number }>();
  let work = "";
  before(async () => {
    dir = scratchDir("sec-seccomp");
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "probe.py"), probeScript());
    const run = await runCli(
      ["run", "--workdir", wd, "--", "/bin/sh", "-c", `/usr/bin/python3 probe.py && ${WORK}`],
      { airlockHome: join(dir, "h"), timeoutMs: 120_000 },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    for (const line of run.stdout.split("\n")) {
      const [name, r, errno] = line.split(" ");
      if (name && r !== undefined && errno !== undefined && /^-?\d+$/.test(r))
        results.set(name, { r: Number(r), errno: Number(errno) });
    }
    work = run.stdout;
  });
  after(() => removeDir(dir));

  for (const call of BLOCKED_CALLS) {
    test(`${call}: EPERM inside the sandbox, by the filter on both architectures`, (t) => {
      for (const arch of ["x86_64", "aarch64"] as const) {
        const nr = SYSCALLS[arch][call];
        if (nr !== undefined) assert.equal(runFilter(arch, nr), ERRNO(EPERM), `${arch} ${call}`);
      }
      if (SYSCALLS[ARCH][call] === undefined) return t.skip(`${ARCH} has no ${call}`);
      assert.deepEqual(results.get(call), { r: -1, errno: EPERM });
    });
  }

  test("new user namespaces: clone and unshare with CLONE_NEWUSER get EPERM; without it they work", () => {
    assert.deepEqual(results.get("clone+newuser"), { r: -1, errno: EPERM });
    assert.deepEqual(results.get("unshare+newuser"), { r: -1, errno: EPERM });
    assert.deepEqual(results.get("unshare+none"), { r: 0, errno: 0 });
    for (const arch of ["x86_64", "aarch64"] as const) {
      const { clone, unshare } = SYSCALLS[arch] as { clone: number; unshare: number };
      assert.equal(runFilter(arch, clone, [CLONE_NEWUSER | 17]), ERRNO(EPERM));
      assert.equal(runFilter(arch, clone, [0x01200011]), ALLOW, "fork's flags pass");
      assert.equal(runFilter(arch, unshare, [CLONE_NEWUSER]), ERRNO(EPERM));
    }
  });

  test("clone3 answers ENOSYS, so libc falls back to clone (whose flags the filter sees)", () => {
    assert.deepEqual(results.get("clone3"), { r: -1, errno: ENOSYS });
    assert.equal(runFilter("aarch64", 435), ERRNO(ENOSYS));
  });

  test("TIOCSTI and TIOCLINUX are refused, other ioctls are not (high bits cannot hide the request)", () => {
    assert.deepEqual(results.get("ioctl+TIOCSTI"), { r: -1, errno: EPERM });
    assert.deepEqual(results.get("ioctl+TIOCLINUX"), { r: -1, errno: EPERM });
    assert.notEqual(results.get("ioctl+FIONREAD")?.errno, EPERM);
    const ioctl = SYSCALLS.x86_64.ioctl as number;
    assert.equal(runFilter("x86_64", ioctl, [0, 2 ** 32 + TIOCSTI]), ERRNO(EPERM));
  });

  test("other architectures' entry points (i386, arm32, x32) kill: their numbers mean other calls", () => {
    const KILL_PROCESS = 0x80000000;
    const AUDIT_ARCH_I386 = 0x40000003;
    const AUDIT_ARCH_ARM = 0x40000028;
    assert.equal(runFilter(AUDIT_ARCH_I386, 26), KILL_PROCESS, "i386 ptrace");
    assert.equal(runFilter(AUDIT_ARCH_ARM, 1), KILL_PROCESS, "arm32 exit");
    assert.equal(runFilter("x86_64", 0x40000000 + 101), KILL_PROCESS, "x32 ptrace");
    assert.equal(runFilter("x86_64", 0), ALLOW, "x86-64 read");
  });

  test("ordinary work runs under the filter: git, node workers, python subprocesses", () => {
    assert.match(work, /^Seccomp:\s+2$/m);
    assert.match(work, /^Seccomp_filters:\s+[1-9]/m);
    assert.match(work, /^git-log 1$/m);
    assert.match(work, /^node-worker 0$/m);
    assert.match(work, /^python-sub 0 \[1, 2\]$/m);
  });
});
