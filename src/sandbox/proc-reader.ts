// Work on a second, low-priority thread while this one works (docs/performance.md, "A new
// connection"): a /proc file read (the sandbox's TCP table from the moment a connection is
// accepted, the likely holder's maps while the descriptors are scanned), or a share of a crowded
// sandbox's holder scan (proc-holders.cjs, the same code as here). The result is what the same
// job gives on this thread, and goes to the same code. A job the thread has not begun is taken
// back and done here; one it is doing is waited for at most about as long as doing it here
// would take. On a busy machine the thread rarely gets a core in time, and changes little.
// One slot, one job at a time.
import { closeSync, openSync, readSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { packagePath } from "../package-root.ts";
import { type Holder, holdersAmong } from "./proc-holders.cjs";

// Slot layout, shared with proc-reader.cjs.
const STATE = 0;
const LENGTH = 1;
const ARGUMENT_LENGTH = 2;
const OP = 3;
/** The next of a scan's processes not yet taken by either thread. */
const NEXT = 4;
const READ = 0;
const HOLDERS = 1;
const IDLE = 0;
const QUEUED = 1;
const RUNNING = 2;
const DONE = 3;
const UNREADABLE = -1;
const TOO_LARGE = -2;

/** Enough for a sandbox's TCP table and the maps of all but the largest programs (those are read here). */
const DATA_BYTES = 256 * 1024;
/** A path, or the pids of a scan (a larger scan is done here whole). */
const ARGUMENT_BYTES = 16 * 1024;
/** About one read of the TCP table or of a program's maps on this thread, cold. */
const RUNNING_WAIT_MS = 0.2;

/** A read asked for: `seq` names it in the slot (0: not queued, read it here). */
export interface PendingRead {
  path: string;
  seq: number;
}

/** One buffer for every read on this thread: these files report size 0 (readFileSync would grow one per call). */
let ownBuffer = Buffer.allocUnsafe(64 * 1024);

/** The whole text of a /proc file, read on this thread; null when it cannot be read. */
export function readProcText(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === ownBuffer.length) {
        const bigger = Buffer.allocUnsafe(ownBuffer.length * 2);
        ownBuffer.copy(bigger, 0, 0, length);
        ownBuffer = bigger;
      }
      const n = readSync(fd, ownBuffer, length, ownBuffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return ownBuffer.toString("utf8", 0, length);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** A scan of some processes' descriptors asked for: `seq` names it in the slot (0: not queued). */
export interface PendingHolders {
  proc: string;
  pids: readonly number[];
  link: string;
  seq: number;
}

class ProcReader {
  private readonly control = new Int32Array(new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT));
  private readonly argument = Buffer.from(new SharedArrayBuffer(ARGUMENT_BYTES));
  private readonly data = Buffer.from(new SharedArrayBuffer(DATA_BYTES));
  private worker: Worker | undefined;
  private failed = false;
  /** The job the slot holds (queued, running or done); 0 when none. */
  private current = 0;
  private seq = 0;

  /** Queues a read of `path` on the thread when its slot is free; read() gives the text. */
  start(path: string): PendingRead {
    return { path, seq: this.queue(READ, path) };
  }

  /** Queues a scan of `pids` for a descriptor on `link` on the thread; holders() joins it and gives them. */
  startHolders(proc: string, pids: readonly number[], link: string): PendingHolders {
    return { proc, pids, link, seq: this.queue(HOLDERS, JSON.stringify({ proc, pids, link })) };
  }

  /**
   * The file's text (null: unreadable): the thread's, when it has finished the read (or finishes
   * it within about the time of a read here); otherwise read here and now.
   */
  read(pending: PendingRead): string | null {
    const length = this.take(pending.seq, RUNNING_WAIT_MS);
    if (length === null || length === TOO_LARGE) return readProcText(pending.path);
    return length === UNREADABLE ? null : this.data.toString("utf8", 0, length);
  }

  /**
   * The holders among the pids, scanned by both threads: each takes the next process not yet
   * taken (the thread only once it has a core), so that this one never waits for the thread
   * longer than about one process's scan; past that, it scans the thread's share itself.
   */
  holders(pending: PendingHolders): Holder[] | string {
    const { proc, pids, link, seq } = pending;
    if (seq === 0 || seq !== this.current) return holdersAmong(proc, pids, link);
    const mine = new Map<number, Holder[] | string>();
    let longest = 0;
    for (;;) {
      const i = Atomics.add(this.control, NEXT, 1);
      if (i >= pids.length) break;
      const started = performance.now();
      mine.set(i, holdersAmong(proc, [pids[i] as number], link));
      longest = Math.max(longest, performance.now() - started);
    }
    // Left for the thread: at most the process it is scanning.
    const length = this.take(seq, longest + RUNNING_WAIT_MS);
    let theirs: Map<number, Holder[] | string> | null = null;
    if (length !== null && length >= 0) {
      try {
        theirs = new Map(JSON.parse(this.data.toString("utf8", 0, length)) as [number, Holder[] | string][]);
      } catch {
        // scanned here
      }
    }
    const out: Holder[] = [];
    for (let i = 0; i < pids.length; i++) {
      const found =
        mine.get(i) ?? (theirs ? (theirs.get(i) ?? []) : holdersAmong(proc, [pids[i] as number], link));
      if (typeof found === "string") return found;
      out.push(...found);
    }
    return out;
  }

  /** Whether the thread has finished this job (its result is then the thread's). */
  finished(pending: { seq: number }): boolean {
    return pending.seq !== 0 && pending.seq === this.current && Atomics.load(this.control, STATE) === DONE;
  }

  /** Puts a job in the slot when it is free; its seq, or 0 (not queued: the caller does it). */
  private queue(op: number, argument: string): number {
    if (!this.ensureWorker()) return 0;
    // A job that nobody came for (its connection closed first) or that the thread has not begun
    // gives the slot to this one; whoever asked for that one does it here.
    const state = Atomics.load(this.control, STATE);
    const free =
      state === IDLE ||
      state === DONE ||
      (state === QUEUED && Atomics.compareExchange(this.control, STATE, QUEUED, IDLE) === QUEUED);
    if (!free) return 0;
    const length = this.argument.write(argument, "utf8");
    if (length >= ARGUMENT_BYTES) return 0;
    this.current = ++this.seq;
    Atomics.store(this.control, OP, op);
    Atomics.store(this.control, NEXT, 0);
    Atomics.store(this.control, ARGUMENT_LENGTH, length);
    Atomics.store(this.control, STATE, QUEUED);
    Atomics.notify(this.control, STATE);
    return this.current;
  }

  /**
   * The length of the job's result in `data` (or UNREADABLE, TOO_LARGE), freeing the slot; null
   * when the caller is to do it: not queued, not begun (taken back, so that the thread does not
   * do it for nothing), or still running after `waitMs` (the thread lost its core; the next
   * queue() frees the slot once it is done).
   */
  private take(seq: number, waitMs: number): number | null {
    if (seq === 0 || seq !== this.current) return null;
    this.current = 0;
    if (Atomics.compareExchange(this.control, STATE, QUEUED, IDLE) === QUEUED) return null;
    if (Atomics.load(this.control, STATE) === RUNNING) Atomics.wait(this.control, STATE, RUNNING, waitMs);
    if (Atomics.load(this.control, STATE) !== DONE) return null;
    const length = Atomics.load(this.control, LENGTH);
    Atomics.store(this.control, STATE, IDLE);
    return length;
  }

  private ensureWorker(): boolean {
    if (this.worker) return true;
    if (this.failed) return false;
    try {
      const worker = new Worker(packagePath("src", "sandbox", "proc-reader.cjs"), {
        workerData: { control: this.control.buffer, argument: this.argument.buffer, data: this.data.buffer },
        // Nothing of the main thread's environment or stdio is needed there.
        env: {},
        stdout: true,
        stderr: true,
      });
      // Never keeps the process alive; if it stops, every read is done on this thread.
      worker.unref();
      worker.on("error", () => this.stop());
      worker.on("exit", () => this.stop());
      this.worker = worker;
      return true;
    } catch {
      this.failed = true;
      return false;
    }
  }

  private stop(): void {
    this.failed = true;
    this.worker = undefined;
    this.current = 0;
  }
}

/** One reader thread per process, shared by every sandbox it supervises (created on first use). */
let shared: ProcReader | undefined;

export function procReader(): ProcReader {
  shared ??= new ProcReader();
  return shared;
}
