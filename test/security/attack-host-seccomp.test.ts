// The seccomp filter against the kernel's other entry points, from a real program in a real
// `airlock run` (seccomp.test.ts runs the filter's program for each number; this runs the calls):
// the i386 ABI through `int $0x80` and the x32 ABI (call number | 0x40000000), whose numbers name
// other calls, must kill; a 32-bit personality changes no call number; namespaces other than a
// user namespace need capabilities the sandbox does not have. Each probe is shown to work on the
// host first where the host allows it.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const PROBE_C = `#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>
static long i386_call(long nr, long a) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(0), "d"(0) : "memory");
  return ret;
}
int main(int argc, char **argv) {
  const char *w = argc > 1 ? argv[1] : "";
  long r = -2;
  errno = 0;
  if (!strcmp(w, "i386-getpid")) r = i386_call(20, 0);
  else if (!strcmp(w, "i386-ptrace")) r = i386_call(26, 0); /* PTRACE_TRACEME */
  else if (!strcmp(w, "i386-unshare")) r = i386_call(310, CLONE_NEWUSER);
  else if (!strcmp(w, "x32-getpid")) r = syscall(0x40000000 | SYS_getpid);
  else if (!strcmp(w, "x32-unshare")) r = syscall(0x40000000 | SYS_unshare, CLONE_NEWUSER);
  else if (!strcmp(w, "linux32-unshare")) { personality(PER_LINUX32); r = syscall(SYS_unshare, CLONE_NEWUSER); }
  else if (!strcmp(w, "unshare-mount")) r = syscall(SYS_unshare, CLONE_NEWNS);
  else if (!strcmp(w, "unshare-net")) r = syscall(SYS_unshare, CLONE_NEWNET);
  else if (!strcmp(w, "newuser-high-bits")) r = syscall(SYS_unshare, 0x100000000UL | CLONE_NEWUSER);
  printf("%s %ld %d\\n", w, r, r < 0 ? errno : 0);
  return 0;
}
`;

const KILLED = ["i386-getpid", "i386-ptrace", "i386-unshare", "x32-getpid", "x32-unshare"];
const REFUSED = ["linux32-unshare", "unshare-mount", "unshare-net", "newuser-high-bits"];

describe("seccomp: other ABIs and namespace calls from a real program inside", () => {
  let dir: string;
  let probe: string;
  before(() => {
    dir = scratchDir("attack-host-seccomp");
    writeFileSync(join(dir, "probe.c"), PROBE_C);
    probe = join(dir, "probe");
    // The CI image has a C compiler (Rust's toolchain needs it); a missing one is a failure.
    execFileSync("cc", ["-O0", "-o", probe, join(dir, "probe.c")], { stdio: "pipe" });
  });
  after(() => removeDir(dir));

  test("the probes work on the host: i386 calls run there", () => {
    const out = spawnSync(probe, ["i386-getpid"], { encoding: "utf8" });
    assert.equal(out.status, 0);
    assert.match(out.stdout, /^i386-getpid [1-9]\d* 0$/m, "int $0x80 reaches the kernel outside");
  });

  test("inside: every other-ABI call kills the process; namespace calls fail with EPERM", async () => {
    const script = [...KILLED, ...REFUSED].map((w) => `${probe} ${w}; echo "rc ${w} $?"`).join("\n");
    const run = await runCli(["run", "--workdir", dir, "--", "/bin/sh", "-c", script], {
      airlockHome: join(dir, "airlock"),
    });
    assert.equal(run.code, 0, run.stderr);
    const rc = (w: string) => new RegExp(`^rc ${w} (\\d+)$`, "m").exec(run.stdout)?.[1];
    for (const w of KILLED) {
      assert.equal(rc(w), "159", `${w} must die of SIGSYS (128+31)\n${run.stdout}`);
      assert.doesNotMatch(run.stdout, new RegExp(`^${w} `, "m"), `${w} printed: it ran on`);
    }
    for (const w of REFUSED) assert.match(run.stdout, new RegExp(`^${w} -1 1$`, "m"), `${w}\n${run.stdout}`);
  });
});
