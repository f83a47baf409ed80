// The audit log's shell: each event goes to `airlock.YYYY-MM-DD.log` (shorthand) and
// `airlock-ocsf.YYYY-MM-DD.jsonl` (OCSF JSON) in one directory; the day comes from the event's
// own time (UTC), so an injected clock decides the file. Writes are synchronous appends on open
// descriptors: a line is readable (by /v1/denials) as soon as write() returns.
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
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class AuditLog implements AuditSink {
  private day = "";
  private shorthandFd = -1;
  private jsonFd = -1;
  private failed = false;

  /** `onError` hears about a write failure once (a full disk must not take the proxy down). */
  constructor(
    readonly dir: string,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  write(event: OcsfEvent): void {
    try {
      this.open(utcDay(event.time));
      writeSync(this.shorthandFd, `${shorthandLine(event)}\n`);
      writeSync(this.jsonFd, `${JSON.stringify(event)}\n`);
    } catch (err) {
      if (!this.failed) this.onError(err as Error);
      this.failed = true;
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
    for (const fd of [this.shorthandFd, this.jsonFd]) if (fd !== -1) closeSync(fd);
    this.shorthandFd = -1;
    this.jsonFd = -1;
    this.day = "";
  }
}

/** Fans one event out to several sinks (e.g. the file log and a live tail). */
export function teeSink(...sinks: AuditSink[]): AuditSink {
  return {
    write: (event) => {
      for (const sink of sinks) sink.write(event);
    },
  };
}
