// The shell around the pure mount plan: what the host filesystem holds, read once at start.
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseMountInfo } from "./loaded-code.ts";
import { type EtcEntry, type PathKind, type Probe, within } from "./mounts.ts";

export const hostProbe: Probe = (path: string): PathKind => {
  try {
    return statSync(path).isDirectory() ? "dir" : "file";
  } catch {
    return "missing";
  }
};

export function etcEntries(): EtcEntry[] {
  return readdirSync("/etc", { withFileTypes: true }).map((d) =>
    d.isSymbolicLink() ? { name: d.name, symlinkTarget: readlinkSync(`/etc/${d.name}`) } : { name: d.name },
  );
}

/** Filesystems that are the kernel's interfaces rather than storage: writing their files
 * changes the kernel's settings or other processes. */
const KERNEL_FILESYSTEMS = new Set([
  "sysfs",
  "cgroup",
  "cgroup2",
  "debugfs",
  "tracefs",
  "securityfs",
  "bpf",
  "configfs",
  "efivarfs",
  "pstore",
  "fusectl",
  "binfmt_misc",
  "selinuxfs",
  "mqueue",
  "nfsd",
  "rpc_pipefs",
  "devpts",
  "devtmpfs",
]);

/**
 * The host's kernel interfaces a sandbox would reach as the host's, from a mount table: every
 * procfs but /proc (a chroot's or build root's: it shows the host's processes, their argv, the
 * host's sockets, and in a writable bind lets the sandbox write to them), and every other kernel
 * filesystem inside a path the sandbox may write (the bind makes it writable there; elsewhere the
 * read-only root shows it read-only, as the host's /sys). They are hidden like deny paths.
 */
export function hostKernelMounts(mountinfo: string, writable: readonly string[]): string[] {
  const points = parseMountInfo(mountinfo)
    .filter((m) =>
      m.type === "proc"
        ? !within(m.point, "/proc")
        : KERNEL_FILESYSTEMS.has(m.type) && writable.some((w) => within(m.point, w)),
    )
    .map((m) => m.point);
  return [...new Set(points)];
}

/** `~` and `~/x` against the invoking user's home. */
export function expandHome(path: string, home = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return path;
}

/** A user or group given by name in the policy → its number, from /etc/passwd or /etc/group. */
export function resolveId(value: number | string, file: "/etc/passwd" | "/etc/group"): number | null {
  if (typeof value === "number") return value;
  if (/^\d+$/.test(value)) return Number(value);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === value && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return null;
}

/** The primary group of a uid, from /etc/passwd. */
export function primaryGroup(uid: number): number | null {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields[2] === String(uid) && fields[3] !== undefined) return Number(fields[3]);
    }
  } catch {
    // no passwd file
  }
  return null;
}

/**
 * Policy binaries that are symbolic links. Identity is the executable the kernel runs (the link's
 * target), so such an entry never matches; the supervisor says so at start.
 */
export function symlinkedBinaries(paths: readonly string[]): Array<{ path: string; target: string }> {
  const out: Array<{ path: string; target: string }> = [];
  for (const path of new Set(paths)) {
    if (/[*?]/.test(path)) continue;
    try {
      if (!lstatSync(path).isSymbolicLink()) continue;
      out.push({ path, target: realpathSync(path) });
    } catch {
      // absent or dangling: nothing to say here
    }
  }
  return out;
}

/** Is a process with this pid alive (EPERM: alive, but not ours)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
