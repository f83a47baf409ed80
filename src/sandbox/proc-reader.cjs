// The reader thread of proc-reader.ts: whenever the shared slot is queued, reads the one file it
// names, or takes its share of a scan for the holders of a socket (proc-holders.cjs, the
// lookup's own code), and hands the result back in shared memory. It decides nothing: the text
// goes to the same parsers as a read on the main thread. Blocking reads are the point (one thread,
// one file at a time, no event loop in between).
"use strict";
const { closeSync, openSync, readlinkSync, readSync } = require("node:fs");
const { setPriority } = require("node:os");
const { workerData } = require("node:worker_threads");
const { holdersAmong } = require("./proc-holders.cjs");

// Slot layout, shared with proc-reader.ts.
const STATE = 0;
const LENGTH = 1;
const ARGUMENT_LENGTH = 2;
const OP = 3;
const NEXT = 4;
const HOLDERS = 1;
const QUEUED = 1;
const RUNNING = 2;
const DONE = 3;
const UNREADABLE = -1;
const TOO_LARGE = -2;

const control = new Int32Array(workerData.control);
const argument = Buffer.from(workerData.argument);
const data = Buffer.from(workerData.data);

/** The whole file into `data`: its length, UNREADABLE, or TOO_LARGE when it does not fit. */
function readInto(name) {
  let fd;
  try {
    fd = openSync(name, "r");
  } catch {
    return UNREADABLE;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === data.length) {
        // Full: only a read of nothing more says the file ended there.
        const probe = Buffer.allocUnsafe(1);
        return readSync(fd, probe, 0, 1, null) === 0 ? length : TOO_LARGE;
      }
      const n = readSync(fd, data, length, data.length - length, null);
      if (n === 0) return length;
      length += n;
    }
  } catch {
    return UNREADABLE;
  } finally {
    closeSync(fd);
  }
}

/**
 * A share of a scan for a socket's holders, as JSON into `data` (its length, or TOO_LARGE): the
 * next process not yet taken, until none is left (the main thread takes them too).
 */
function scanInto(text) {
  const { proc, pids, link } = JSON.parse(text);
  const found = [];
  for (;;) {
    const i = Atomics.add(control, NEXT, 1);
    if (i >= pids.length) break;
    const holders = holdersAmong(proc, [pids[i]], link);
    if (typeof holders === "string" || holders.length > 0) found.push([i, holders]);
  }
  const result = Buffer.from(JSON.stringify(found));
  if (result.length > data.length) return TOO_LARGE;
  return result.copy(data, 0);
}

// The lowest priority for this thread alone (Linux: a thread id names one thread): it runs on a
// core nobody else wants, and never takes the main thread's core away from it when woken.
try {
  setPriority(Number(readlinkSync("/proc/thread-self").split("/").pop()), 19);
} catch {
  // the main thread reads whatever this one has not begun
}

for (;;) {
  const state = Atomics.load(control, STATE);
  if (state !== QUEUED) {
    // The timeout only bounds how long a missed wake-up could delay a queued read.
    Atomics.wait(control, STATE, state, 1000);
    continue;
  }
  // The main thread may take a queued read back to do it itself: only one of us does it.
  if (Atomics.compareExchange(control, STATE, QUEUED, RUNNING) !== QUEUED) continue;
  const text = argument.toString("utf8", 0, Atomics.load(control, ARGUMENT_LENGTH));
  let length;
  try {
    length = Atomics.load(control, OP) === HOLDERS ? scanInto(text) : readInto(text);
  } catch {
    length = UNREADABLE;
  }
  Atomics.store(control, LENGTH, length);
  Atomics.store(control, STATE, DONE);
  Atomics.notify(control, STATE);
}
