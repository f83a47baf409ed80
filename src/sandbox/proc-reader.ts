// Reads a /proc file on a second, low-priority thread while this one works (docs/performance.md,
// "A new connection"): the sandbox's TCP table from the moment a connection is accepted, the
// likely holder's maps while every process's descriptors are scanned. The text is the same one
// read of the file as on this thread, parsed by the same code. A read the thread has not begun
// is taken back and done here; one it is doing is waited for at most as long as doing it here
// would take. On a busy machine the thread rarely gets a core in time, and changes little.
// One slot, one file at a time.
import { closeSync, openSync, readSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { packagePath } from "../package-root.ts";

// Slot layout, shared with proc-reader.cjs.
const STATE = 0;
const LENGTH = 1;
const PATH_LENGTH = 2;
const IDLE = 0;
const QUEUED = 1;
const RUNNING = 2;
const DONE = 3;
const TOO_LARGE = -2;

/** Enough for a sandbox's TCP table and the maps of all but the largest programs (those are read here). */
const DATA_BYTES = 256 * 1024;
const PATH_BYTES = 4096;
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

class ProcReader {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  private readonly path = Buffer.from(new SharedArrayBuffer(PATH_BYTES));
  private readonly data = Buffer.from(new SharedArrayBuffer(DATA_BYTES));
  private worker: Worker | undefined;
  private failed = false;
  /** The read the slot holds (queued, running or done); 0 when none. */
  private current = 0;
  private seq = 0;

  /** Queues a read of `path` on the thread when its slot is free; read() gives the text. */
  start(path: string): PendingRead {
    if (!this.ensureWorker()) return { path, seq: 0 };
    // A read that nobody came for (its connection closed first) or that the thread has not begun
    // gives the slot to this one; whoever asked for that one reads it here.
    const state = Atomics.load(this.control, STATE);
    const free =
      state === IDLE ||
      state === DONE ||
      (state === QUEUED && Atomics.compareExchange(this.control, STATE, QUEUED, IDLE) === QUEUED);
    if (!free) return { path, seq: 0 };
    const length = this.path.write(path, "utf8");
    if (length >= PATH_BYTES) return { path, seq: 0 };
    this.current = ++this.seq;
    Atomics.store(this.control, PATH_LENGTH, length);
    Atomics.store(this.control, STATE, QUEUED);
    Atomics.notify(this.control, STATE);
    return { path, seq: this.current };
  }

  /**
   * The file's text (null: unreadable): the thread's, when it has finished the read (or finishes
   * it within about the time of a read here); otherwise read here and now.
   */
  read(pending: PendingRead): string | null {
    if (pending.seq === 0 || pending.seq !== this.current) return readProcText(pending.path);
    this.current = 0;
    // Not begun: taken back, so that the thread does not read it for nothing.
    if (Atomics.compareExchange(this.control, STATE, QUEUED, IDLE) === QUEUED)
      return readProcText(pending.path);
    // Begun: the thread has a core and is nearly done. Waited for as long as a read of its own
    // takes here at most; still not done (the thread lost its core), read here after all, and
    // the next start() frees the slot once the thread is done.
    if (Atomics.load(this.control, STATE) === RUNNING)
      Atomics.wait(this.control, STATE, RUNNING, RUNNING_WAIT_MS);
    if (Atomics.load(this.control, STATE) !== DONE) return readProcText(pending.path);
    const length = Atomics.load(this.control, LENGTH);
    const text = length >= 0 ? this.data.toString("utf8", 0, length) : null;
    Atomics.store(this.control, STATE, IDLE);
    return length === TOO_LARGE ? readProcText(pending.path) : text;
  }

  /** Whether the thread has finished this read (its text is then the thread's). */
  finished(pending: PendingRead): boolean {
    return pending.seq !== 0 && pending.seq === this.current && Atomics.load(this.control, STATE) === DONE;
  }

  private ensureWorker(): boolean {
    if (this.worker) return true;
    if (this.failed) return false;
    try {
      const worker = new Worker(packagePath("src", "sandbox", "proc-reader.cjs"), {
        workerData: { control: this.control.buffer, path: this.path.buffer, data: this.data.buffer },
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
