// The audit log's shell: each event goes to `airlock.YYYY-MM-DD.log` (shorthand) and
// `airlock-ocsf.YYYY-MM-DD.jsonl` (OCSF JSON) in one directory; the day comes from the event's
// own time (UTC), so an injected clock decides the file. Lines are batched and appended at the
// end of the current event-loop turn (one write per file per turn, not two per event: the proxy
// logs every request); flush() forces it, close() flushes too.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type OcsfEvent, shorthandLine } from "./ocsf.ts";

/** Where the proxy and the supervisor send events. */
export interface AuditSink {
  write(event: OcsfEvent): void;
}

export function shorthandFileName(day: string): string {
  return `airlock.${day}.log`;
}
export function ocsfFileName(day: string): string {
  return `airlock-ocsf.${day}.jsonl`;
}
const DAY_MS = 86_400_000;
let cachedDayStart = Number.NaN;
let cachedDay = "";

/** `YYYY-MM-DD` (UTC) of a time; the current day's answer is cached (called once per event). */
export function utcDay(ms: number): string {
  if (ms >= cachedDayStart && ms < cachedDayStart + DAY_MS) return cachedDay;
  cachedDay = new Date(ms).toISOString().slice(0, 10);
  cachedDayStart = Math.floor(ms / DAY_MS) * DAY_MS;
  return cachedDay;
}

export class AuditLog implements AuditSink {
  private day = "";
  private shorthandFd = -1;
  private jsonFd = -1;
  private failed = false;
  private pending: { day: string; events: OcsfEvent[] }[] = [];
  private scheduled = false;

  /** `onError` hears about a write failure once (a full disk must not take the proxy down). */
  constructor(
    readonly dir: string,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  write(event: OcsfEvent): void {
    const day = utcDay(event.time);
    let batch = this.pending.at(-1);
    if (batch?.day !== day) {
      batch = { day, events: [] };
      this.pending.push(batch);
    }
    // Formatting waits for the flush too, off the request's critical path (events are never mutated).
    batch.events.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Appends every pending line now. */
  flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = [];
    for (const batch of batches) {
      try {
        this.open(batch.day);
        let shorthand = "";
        let json = "";
        for (const event of batch.events) {
          shorthand += `${shorthandLine(event)}\n`;
          json += `${JSON.stringify(event)}\n`;
        }
        writeSync(this.shorthandFd, shorthand);
        writeSync(this.jsonFd, json);
      } catch (err) {
        if (!this.failed) this.onError(err as Error);
        this.failed = true;
      }
    }
  }

  private open(day: string): void {
    if (day === this.day && this.shorthandFd !== -1) return;
    this.close();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.shorthandFd = openSync(join(this.dir, shorthandFileName(day)), "a", 0o600);
    this.jsonFd = openSync(join(this.dir, ocsfFileName(day)), "a", 0o600);
    this.day = day;
  }

  close(): void {
    this.flush();
    for (const fd of [this.shorthandFd, this.jsonFd]) if (fd !== -1) closeSync(fd);
    this.shorthandFd = -1;
    this.jsonFd = -1;
    this.day = "";
  }
}
