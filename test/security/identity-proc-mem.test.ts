// Borrowing a binary's identity by writing into its memory: python (no rule lists it) starts the
// listed curl, finds curl's URL in its memory through /proc/<pid>/mem and overwrites it, so curl
// sends python's request. The sandbox's /proc is read-only, so the open for writing fails with
// EROFS: the recording upstream shows curl's own request and none of the attacker's bytes. Then
// every way to undo that from inside is tried (another procfs, a remount, descriptors, other
// paths to the same file, every writable file of another process), what must keep working is
// checked, and no sandbox process is found holding a host secret given to `airlock run`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, runSandboxed, scratchDir } from "../sandbox/helpers.ts";
import { type RecordingUpstream, recordingUpstream, recPolicy, runIn } from "./identity-helpers.ts";

// Curl is paused reading its body from stdin, its URL already parsed; python rewrites every copy
// of the URL in curl's writable memory (same length), then lets it go.
const HIJACK = `
import errno, os, subprocess, time
INNOCENT = b"curl-own-request-" + b"i" * 16
EVIL = b"attacker-mem-mark-" + b"e" * 15
curl = subprocess.Popen(["/usr/bin/curl", "-sS", "-o", "/dev/null", "http://rec.test/" + INNOCENT.decode(), "-d", "@-"], stdin=subprocess.PIPE)
pid = curl.pid
def copies():
    found = []
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for line in open("/proc/%d/maps" % pid):
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            name = f[5] if len(f) > 5 else ""
            if not f[1].startswith("rw") or name in ("[vvar]", "[vsyscall]"):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            at = data.find(INNOCENT)
            while at != -1:
                found.append((lo + at, name))
                at = data.find(INNOCENT, at + 1)
    return found
def state():
    return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
for _ in range(400):
    found = copies()
    if state() == "S" and any(name != "[stack]" for _, name in found):
        break
    time.sleep(0.05)
print("hijack-found", len(found), flush=True)
try:
    mem = open("/proc/%d/mem" % pid, "r+b", buffering=0)
except OSError as e:
    print("hijack-open", errno.errorcode[e.errno], flush=True)
else:
    for address, _ in found:
        mem.seek(address)
        mem.write(EVIL)
    mem.close()
    print("hijack-open patched", len(found), flush=True)
curl.stdin.close()
print("hijack-curl-exit", curl.wait(), flush=True)
`;

// Each way back to a writable /proc: "<label> refused <errno>" or "<label> OPENED".
const UNDO = `
import ctypes, errno, os, stat, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
name = lambda e: errno.errorcode.get(e, str(e))
def attempt(label, path, flags=os.O_RDWR, dir_fd=None):
    try:
        os.close(os.open(path, flags, dir_fd=dir_fd))
        print(label, "OPENED", flush=True)
    except OSError as e:
        print(label, "refused", name(e.errno), flush=True)
def call(label, result):
    print(label, "refused" if result == -1 else "DONE", name(ctypes.get_errno()), flush=True)
# A child holding descriptors onto /proc (its own mem, and the directory) across exec.
child = subprocess.Popen(["/bin/bash", "-c", "exec 8</proc/self/mem 9</proc; exec /bin/sleep 30"])
while os.readlink("/proc/%d/exe" % child.pid) != "/usr/bin/sleep":
    time.sleep(0.02)
c = child.pid
for who, pid in [("child", c), ("parent", os.getppid()), ("init", 2), ("reaper", 1), ("self", os.getpid())]:
    attempt("mem-of-" + who, "/proc/%d/mem" % pid)
attempt("thread-self", "/proc/thread-self/mem")
attempt("task", "/proc/%d/task/%d/mem" % (c, c))
attempt("root-proc", "/proc/%d/root/proc/%d/mem" % (os.getppid(), c))
attempt("reaper-root-proc", "/proc/1/root/proc/%d/mem" % c)
proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY)
attempt("self-fd-of-proc", "/proc/self/fd/%d/%d/mem" % (proc, c))
attempt("openat-proc-fd", "%d/mem" % c, dir_fd=proc)
attempt("reopen-held-mem", "/proc/%d/fd/8" % c)
attempt("via-held-proc-dir", "/proc/%d/fd/9/%d/mem" % (c, c))
opened, refused = [], set()
for base in ["/proc/%d" % c, "/proc/%d/task/%d" % (c, c), "/proc/%d/attr" % c]:
    for entry in os.listdir(base):
        st = os.lstat(base + "/" + entry)
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o222:
            continue
        try:
            os.close(os.open(base + "/" + entry, os.O_WRONLY))
            opened.append(entry)
        except OSError as e:
            refused.add(name(e.errno))
print("writable-files opened", sorted(opened), "refused", sorted(refused), flush=True)
# The sandbox's own network namespace: its root (uid 0 inside) could set its sysctls.
attempt("net-sysctl", "/proc/sys/net/ipv4/tcp_fin_timeout", os.O_WRONLY)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
MS_REMOUNT, MS_BIND = 32, 4096
call("remount-rw", libc.mount(None, b"/proc", None, MS_REMOUNT | MS_BIND, None))
os.makedirs("/tmp/newproc", exist_ok=True)
call("mount-new-procfs", libc.mount(b"proc", b"/tmp/newproc", b"proc", 0, None))
call("fsopen-procfs", libc.syscall(430, b"proc", 0))
call("open-tree-clone", libc.syscall(428, -100, b"/proc", 1))
call("mount-setattr", libc.syscall(442, -100, b"/proc", 0, None, 0))
call("unshare-mount-ns", libc.unshare(0x00020000))
call("unshare-user-ns", libc.unshare(0x10000000))
pidfd = libc.syscall(434, c, 0)
call("pidfd-getfd-of-sibling", libc.syscall(438, pidfd, 9, 0))
child.kill()
`;

// Every procfs mount is read-only and no process holds a descriptor onto a writable one (one
// passed in from the host would undo it; the control sibling holds one onto ours); the host secret is in no other process's environment,
// argv or memory, while a control marker given to a sibling is found there.
const AUDIT = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PROC_SUPER_MAGIC, ST_RDONLY = 0x9FA0, 1
class StatFs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("f_bsize", ctypes.c_long), ("f_blocks", ctypes.c_ulong),
                ("f_bfree", ctypes.c_ulong), ("f_bavail", ctypes.c_ulong), ("f_files", ctypes.c_ulong),
                ("f_ffree", ctypes.c_ulong), ("f_fsid", ctypes.c_int * 2), ("f_namelen", ctypes.c_long),
                ("f_frsize", ctypes.c_long), ("f_flags", ctypes.c_long), ("f_spare", ctypes.c_long * 4)]
pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
mounts = [l.split() for l in open("/proc/self/mountinfo")]
procfs = [m for m in mounts if m[m.index("-") + 1] == "proc"]
print("proc-mounts", len(procfs), "writable", [m[4] for m in procfs if "ro" not in m[5].split(",")])
held, writable, unlisted = 0, [], 0
for pid in pids:
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        unlisted += 1
        continue
    for fd in fds:
        buf = StatFs()
        if libc.statfs(("/proc/%s/fd/%s" % (pid, fd)).encode(), ctypes.byref(buf)) == 0 and buf.f_type == PROC_SUPER_MAGIC:
            held += 1
            if not buf.f_flags & ST_RDONLY:
                writable.append("%s/%s" % (pid, fd))
print("proc-descriptors", held, "writable", writable, "unlisted", unlisted, flush=True)
def holds(pid, needle):
    if needle in open("/proc/%s/environ" % pid, "rb").read() + open("/proc/%s/cmdline" % pid, "rb").read():
        return True
    with open("/proc/%s/mem" % pid, "rb", buffering=0) as mem:
        for line in open("/proc/%s/maps" % pid):
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if not f[1].startswith("r") or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                if needle in mem.read(min(hi - lo, 1 << 26)):
                    return True
            except OSError:
                pass
    return False
for label, hexed in [("secret", sys.argv[1]), ("control", sys.argv[2])]:
    needle = bytes.fromhex(hexed)
    where = [open("/proc/%s/comm" % p).read().strip() for p in pids if holds(p, needle)]
    print(label + "-held-by", sorted(where), "of", len(pids), flush=True)
`;

const SECRET = `airlock-token-${randomBytes(12).toString("hex")}`;
const CONTROL = `control-${randomBytes(12).toString("hex")}`;
const hex = (s: string) => Buffer.from(s).toString("hex");

// What must keep working with /proc read-only.
const ORDINARY = `
sleep 30 & s=$!
echo "status-name $(grep '^Name:' /proc/self/status | cut -f2)"
echo "cmdline $(tr '\\0' ' ' < /proc/$s/cmdline)"
echo "ps $(ps -e -o comm= | grep -c '^sleep$')"
echo "process-substitution $(cat <(echo through-dev-fd))"
(echo to-dev-stdout > /dev/stdout) | cat
exec 7> written-through-proc-fd
echo "file-through-proc-fd $(echo ok > /proc/self/fd/7 && cat written-through-proc-fd)"
echo "node-child $("$NODE" -e 'process.stdout.write(require("node:child_process").execFileSync("/bin/sh", ["-c", "echo from-node"]).toString())')"
echo "python-child $(/usr/bin/python3 -c 'import subprocess; print(subprocess.check_output(["/bin/echo", "from-python"]).decode().strip())')"
git status --porcelain > /dev/null && echo "git-status ok"
CONTROL_MARK=${CONTROL} /bin/sleep 30 9</proc/self/status & c=$!
/usr/bin/python3 audit.py ${hex(SECRET)} ${hex(CONTROL)}
kill $s $c
`;

describe("identity of a binary whose memory another process writes (/proc/<pid>/mem)", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let received = "";
  let hostProc: number[] = [];
  const line = (label: string) => stdout.split("\n").find((l) => l.startsWith(`${label} `)) ?? "";
  const refused = (errno: string, labels: string[]) =>
    assert.deepEqual(
      labels.map(line),
      labels.map((label) => `${label} refused ${errno}`),
    );
  before(async () => {
    dir = scratchDir("sec-procmem");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "hijack.py"), HIJACK);
    writeFileSync(join(wd, "undo.py"), UNDO);
    writeFileSync(join(wd, "audit.py"), AUDIT);
    writeFileSync(join(wd, "ordinary.sh"), ORDINARY);
    execFileSync("git", ["init", "-q", wd]);
    const policy = recPolicy(dir, "[{ path: /usr/bin/curl }]");
    const script = "/usr/bin/python3 hijack.py; /usr/bin/python3 undo.py; /bin/bash ordinary.sh";
    // Left open by whoever starts `airlock run`: the host's procfs is writable, and the second
    // is this very process's memory.
    hostProc = [openSync("/proc", "r"), openSync("/proc/self/mem", "r+")];
    const env = { AIRLOCK_TOKEN: SECRET, NODE: process.execPath };
    const run = await runIn(upstream, policy, wd, join(dir, "h"), script, env, hostProc);
    assert.equal(run.code, 0, run.stderr);
    stdout = run.stdout;
    received = upstream.received();
  });
  after(async () => {
    for (const fd of hostProc) closeSync(fd);
    await upstream.close();
    removeDir(dir);
  });

  test("python cannot open listed curl's memory for writing; the upstream gets curl's own request only", () => {
    assert.doesNotMatch(received, /attacker-mem-mark/);
    assert.match(received, /POST \/curl-own-request-i{16} /);
    assert.match(line("hijack-found"), /^hijack-found [1-9]/, "python can still read curl's memory");
    assert.equal(line("hijack-open"), "hijack-open EROFS");
    assert.match(line("hijack-curl-exit"), /^hijack-curl-exit 0$/);
  });

  test("no other path to a process's memory opens for writing: children, parents, init, threads, roots, descriptors", () => {
    refused("EROFS", [
      "mem-of-child",
      "mem-of-parent",
      "mem-of-init",
      "mem-of-reaper",
      "mem-of-self",
      "thread-self",
      "task",
      "root-proc",
      "reaper-root-proc",
      "self-fd-of-proc",
      "openat-proc-fd",
      "reopen-held-mem",
      "via-held-proc-dir",
    ]);
  });

  test("no writable file of another process opens (attr/, comm, clear_refs, oom_score_adj...), nor a sysctl", () => {
    assert.equal(line("writable-files"), "writable-files opened [] refused ['EROFS']");
    // EACCES when the sandbox does not run as uid 0 (it does not own the sysctls then).
    assert.match(line("net-sysctl"), /^net-sysctl refused (EROFS|EACCES)$/);
  });

  test("no way to a writable procfs: remount, a new procfs, a cloned tree, a namespace, a sibling's descriptor", () => {
    refused("EPERM", [
      "remount-rw",
      "mount-new-procfs",
      "fsopen-procfs",
      "open-tree-clone",
      "mount-setattr",
      "unshare-mount-ns",
      "unshare-user-ns",
      "pidfd-getfd-of-sibling",
    ]);
  });

  test("every procfs mount inside is read-only; no process holds a descriptor onto a writable one, though the host's were left open", () => {
    assert.match(line("proc-mounts"), /^proc-mounts [1-9]\d* writable \[\]$/);
    assert.match(line("proc-descriptors"), /^proc-descriptors [1-9]\d* writable \[\] unlisted 0$/);
  });

  test("the host's token given to `airlock run` is in no sandbox process; a control marker is found", () => {
    assert.match(line("secret-held-by"), /^secret-held-by \[\] of [3-9]/);
    assert.match(line("control-held-by"), /'sleep'/);
  });

  test("ordinary work keeps going: /proc reads, ps, /dev/fd, node and python children, git", () => {
    assert.equal(line("status-name"), "status-name grep");
    assert.equal(line("cmdline"), "cmdline sleep 30 ");
    assert.match(line("ps"), /^ps [1-9]/);
    assert.equal(line("process-substitution"), "process-substitution through-dev-fd");
    assert.match(stdout, /^to-dev-stdout$/m);
    assert.equal(line("file-through-proc-fd"), "file-through-proc-fd ok");
    assert.equal(line("node-child"), "node-child from-node");
    assert.equal(line("python-child"), "python-child from-python");
    assert.equal(line("git-status"), "git-status ok");
  });
});

// A chroot's or build root's /proc is the host's procfs: through the read-only root or a bind it
// would show the host's processes (argv, sockets) and, inside the writable workdir, let the
// sandbox write to them; a chroot's /sys in the workdir would be the host's sysfs, writable.
// Made here in namespaces of the test's own (nothing on the host changes): a procfs under the
// read-only root, one under a read_only path, one in the workdir, and sysfs in two of them.
describe("the host's kernel interfaces mounted elsewhere (a chroot's /proc and /sys)", () => {
  const dir = scratchDir("sec-procmem-other");
  after(() => removeDir(dir));

  test("every other procfs is hidden; sysfs in the workdir is hidden, under the read-only root read-only", async () => {
    const workdir = join(dir, "wd");
    const root = "/mnt/airlock-chroot";
    const procs = [`${root}/proc`, join(dir, "ro", "proc"), join(workdir, "chroot", "proc")];
    const sysfs = [`${root}/sys`, join(workdir, "chroot", "sys")];
    for (const place of [...procs, ...sysfs])
      if (!place.startsWith(root)) mkdirSync(place, { recursive: true });
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, `version: 1\nfilesystem_policy:\n  read_only: [${join(dir, "ro")}]\n`);
    const setup = [
      `mount -t tmpfs tmpfs /mnt && mkdir -p ${root}/proc ${root}/sys`,
      ...procs.map((p) => `mount -t proc proc ${p}`),
      ...sysfs.map((p) => `mount --rbind /sys ${p}`),
      'exec "$@"',
    ].join(" && ");
    const probe = [...procs, ...sysfs]
      .map((p) => `echo "${p} $(ls -A ${p} | wc -l) $(touch ${p}/x 2>&1 | grep -o 'Read-only file system')"`)
      .join("; ");
    const namespaces = ["--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc"];
    const run = await runCli(
      ["run", "--policy", policy, "--workdir", workdir, "--", "/bin/sh", "-c", probe],
      {
        airlockHome: join(dir, "h"),
        wrap: ["unshare", ...namespaces, "sh", "-c", setup, "sh"],
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const seen = (place: string) => run.stdout.split("\n").find((l) => l.startsWith(`${place} `)) ?? "";
    for (const place of [...procs, join(workdir, "chroot", "sys")])
      assert.equal(seen(place), `${place} 0 Read-only file system`, "hidden");
    assert.match(seen(`${root}/sys`), /^\S+ [1-9]\d* Read-only file system$/, "shown, read-only");
  });
});

describe("/proc in a contained run (the workdir on an overlay)", () => {
  const dir = scratchDir("sec-procmem-overlay");
  after(() => removeDir(dir));

  test("another process's memory does not open for writing there either", async () => {
    const workdir = join(dir, "wd");
    const layers = join(dir, "layers");
    mkdirSync(workdir);
    mkdirSync(layers);
    const run = await runSandboxed(
      ["/bin/sh", "-c", 'sleep 30 & (echo x > /proc/$!/mem) 2>&1; echo "status $?"; kill $!'],
      {
        workdir,
        overlay: { dir: layers, sizeBytes: 1 << 20, statusFile: join(dir, "status"), after: ["/bin/true"] },
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\/proc\/\d+\/mem: Read-only file system\nstatus [1-9]/);
  });
});
