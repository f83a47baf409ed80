// Which processes hold a socket, read from a sandbox's /proc: each listed process's descriptors
// (through a live thread when its thread-group leader exited) and each holder's executable.
// Used by the identity lookup (identity.ts) and by its reader thread (proc-reader.cjs), which
// scans some of the processes while the lookup scans the others: plain CommonJS, so that the
// thread loads it as it is.
"use strict";
const { readdirSync, readlinkSync } = require("node:fs");

const DELETED = " (deleted)";

function listDir(path) {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/** The executable as the sandbox names it (the kernel reports paths relative to the reader's
 * view of the process's mounts, which for a sandbox bound from `/` is the sandbox's own path). */
function exePath(dir) {
  try {
    const path = readlinkSync(`${dir}/exe`);
    return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
  } catch {
    return null;
  }
}

/**
 * Where a process's descriptors can be read. A thread-group leader that exited while its other
 * threads run shows no descriptors (and no executable) of its own: read them through a live thread.
 */
function fdTable(proc, pid) {
  const dir = `${proc}/${pid}`;
  const fds = listDir(`${dir}/fd`);
  if (fds !== null && fds.length > 0) return { dir, fds };
  for (const tid of listDir(`${dir}/task`) ?? []) {
    if (tid === String(pid)) continue;
    const threadDir = `${dir}/task/${tid}`;
    const threadFds = listDir(`${threadDir}/fd`);
    if (threadFds !== null && threadFds.length > 0) return { dir: threadDir, fds: threadFds };
  }
  return null;
}

function holds({ dir, fds }, link) {
  for (const fd of fds) {
    try {
      if (readlinkSync(`${dir}/fd/${fd}`) === link) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Every one of `pids` (in the /proc at `proc`) with a descriptor on `link`, or why they cannot be known. */
function holdersAmong(proc, pids, link) {
  const out = [];
  for (const pid of pids) {
    const table = fdTable(proc, pid);
    if (table === null || !holds(table, link)) continue;
    const exe = exePath(table.dir);
    if (exe === null) return `cannot read the executable of pid ${pid}`;
    out.push({ pid, dir: table.dir, exe });
  }
  return out;
}

module.exports = { exePath, holdersAmong, listDir };
