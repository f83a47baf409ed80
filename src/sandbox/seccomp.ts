// The sandbox's seccomp filter (classic BPF, handed to bubblewrap's `--seccomp FD`). Pure.
// What it refuses are calls that reach into another process (ptrace, process_vm_*, pidfd_getfd,
// kcmp, process_madvise), that use a file without a descriptor (io_uring's registered files
// would let a process send on a socket no /proc/<pid>/fd shows it holding, hiding it from
// binary identity; libuv and others fall back to plain calls), into the terminal the sandbox was started from (TIOCSTI, TIOCLINUX),
// into the kernel's own state (keyrings, bpf, perf, modules, kexec, swap, reboot, quotas,
// accounting, handle-based opens), or that would let it rebuild its own view of the system (new
// user namespaces, setns, every mount-family call). Refused calls fail with EPERM, so programs
// that probe for them (a build tool checking for user namespaces) fall back instead of dying;
// clone3 fails with ENOSYS because its flags sit in memory the filter cannot read, and libc then
// falls back to clone, whose flags it can. Other architectures' calls (the i386 or x32 entry
// points on x86-64) kill the process: their numbers mean different calls.

/** Architectures the filter knows, as `AUDIT_ARCH_*` values. */
export const AUDIT_ARCH = { x86_64: 0xc000003e, aarch64: 0xc00000b7 } as const;
export type SeccompArch = keyof typeof AUDIT_ARCH;

/** The calls refused outright, by name (the numbers are per architecture). */
export const BLOCKED_CALLS = [
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "pidfd_getfd",
  "process_madvise",
  "kcmp",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "perf_event_open",
  "userfaultfd",
  "mount",
  "umount2",
  "pivot_root",
  "move_mount",
  "open_tree",
  "open_tree_attr",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "setns",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "swapon",
  "swapoff",
  "reboot",
  "acct",
  "quotactl",
  "quotactl_fd",
  "lookup_dcookie",
  "open_by_handle_at",
  "nfsservctl",
  "uselib",
  "iopl",
  "ioperm",
] as const;
type BlockedCall = (typeof BLOCKED_CALLS)[number];
type Call = BlockedCall | "clone" | "clone3" | "unshare" | "ioctl";

/** Calls added since Linux 5.1 have one number on every architecture. */
const UNIFIED: Partial<Record<Call, number>> = {
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  pidfd_getfd: 438,
  process_madvise: 440,
  mount_setattr: 442,
  quotactl_fd: 443,
  open_tree_attr: 467,
};

/** System call numbers (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
 * A call the architecture does not have is absent. */
export const SYSCALLS: Record<SeccompArch, Partial<Record<Call, number>>> = {
  x86_64: {
    ...UNIFIED,
    ioctl: 16,
    clone: 56,
    ptrace: 101,
    uselib: 134,
    pivot_root: 155,
    acct: 163,
    mount: 165,
    umount2: 166,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    iopl: 172,
    ioperm: 173,
    init_module: 175,
    delete_module: 176,
    quotactl: 179,
    nfsservctl: 180,
    lookup_dcookie: 212,
    kexec_load: 246,
    add_key: 248,
    request_key: 249,
    keyctl: 250,
    unshare: 272,
    perf_event_open: 298,
    open_by_handle_at: 304,
    setns: 308,
    process_vm_readv: 310,
    process_vm_writev: 311,
    kcmp: 312,
    finit_module: 313,
    kexec_file_load: 320,
    bpf: 321,
    userfaultfd: 323,
  },
  aarch64: {
    ...UNIFIED,
    lookup_dcookie: 18,
    ioctl: 29,
    umount2: 39,
    mount: 40,
    pivot_root: 41,
    nfsservctl: 42,
    quotactl: 60,
    acct: 89,
    unshare: 97,
    kexec_load: 104,
    init_module: 105,
    delete_module: 106,
    ptrace: 117,
    reboot: 142,
    add_key: 217,
    request_key: 218,
    keyctl: 219,
    clone: 220,
    swapon: 224,
    swapoff: 225,
    perf_event_open: 241,
    open_by_handle_at: 265,
    setns: 268,
    process_vm_readv: 270,
    process_vm_writev: 271,
    kcmp: 272,
    finit_module: 273,
    bpf: 280,
    userfaultfd: 282,
    kexec_file_load: 294,
  },
};

export const CLONE_NEWUSER = 0x10000000;
/** Terminal ioctls that act on the terminal's owner: inject input, or the console's selection. */
export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;
const EPERM = 1;
const ENOSYS = 38;
/** x32 calls on x86-64 carry this bit: the same numbers, another ABI. */
const X32_SYSCALL_BIT = 0x40000000;

// Classic BPF, as <linux/filter.h> and <linux/seccomp.h> define it.
const BPF_LD_W_ABS = 0x20;
const BPF_JA = 0x05;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
/** struct seccomp_data: nr, arch, instruction_pointer, args[6] (little-endian: low word first). */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const load = (offset: number): Insn => ({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: offset });
const ret = (k: number): Insn => ({ code: BPF_RET_K, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): Insn => ({ code, jt, jf, k });
const errno = (e: number) => SECCOMP_RET_ERRNO | e;

/** The filter for one architecture, entered with the call number loaded; ends in its own returns. */
function archProgram(arch: SeccompArch): Insn[] {
  const nr = SYSCALLS[arch];
  const out: Insn[] = [];
  if (arch === "x86_64") out.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1), ret(SECCOMP_RET_KILL_PROCESS));
  const blocked = BLOCKED_CALLS.flatMap((c) => (nr[c] === undefined ? [] : [nr[c]]));
  // A match jumps over the remaining checks and the skip to the EPERM return after them.
  for (const [i, n] of blocked.entries()) out.push(jump(BPF_JEQ_K, n, blocked.length - i, 0));
  out.push({ code: BPF_JA, jt: 0, jf: 0, k: 1 }, ret(errno(EPERM)));
  out.push(jump(BPF_JEQ_K, nr.clone3 as number, 0, 1), ret(errno(ENOSYS)));
  // clone and unshare: refused only with CLONE_NEWUSER (flags are their first argument on both).
  for (const call of ["clone", "unshare"] as const) {
    out.push(
      jump(BPF_JEQ_K, nr[call] as number, 0, 4),
      load(argLow(0)),
      jump(BPF_JSET_K, CLONE_NEWUSER, 0, 1),
      ret(errno(EPERM)),
      ret(SECCOMP_RET_ALLOW),
    );
  }
  // ioctl: the request is an unsigned int, so its low word is the whole of it.
  out.push(
    jump(BPF_JEQ_K, nr.ioctl as number, 0, 5),
    load(argLow(1)),
    jump(BPF_JEQ_K, TIOCSTI, 2, 0),
    jump(BPF_JEQ_K, TIOCLINUX, 1, 0),
    ret(SECCOMP_RET_ALLOW),
    ret(errno(EPERM)),
  );
  out.push(ret(SECCOMP_RET_ALLOW));
  return out;
}

/** The whole program: dispatch on the architecture, then that architecture's checks. */
export function seccompProgram(): Insn[] {
  const x86 = archProgram("x86_64");
  const arm = archProgram("aarch64");
  return [
    load(OFFSET_ARCH),
    jump(BPF_JEQ_K, AUDIT_ARCH.x86_64, 2, 0),
    jump(BPF_JEQ_K, AUDIT_ARCH.aarch64, 2 + x86.length, 0),
    ret(SECCOMP_RET_KILL_PROCESS),
    load(OFFSET_NR),
    ...x86,
    load(OFFSET_NR),
    ...arm,
  ];
}

/** The program as bubblewrap reads it from `--seccomp FD`: struct sock_filter[], host byte order. */
export function seccompFilter(): Buffer {
  const program = seccompProgram();
  const buf = Buffer.alloc(program.length * 8);
  for (const [i, insn] of program.entries()) {
    if (insn.jt > 255 || insn.jf > 255) throw new Error("seccomp program: jump out of range");
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  }
  return buf;
}
