// Reads the audit log back (GET /v1/denials, `airlock logs`): the newest lines newest first,
// across daily files, reading each file from its end so a large log costs only what is returned;
// and what was appended to a file since an offset (`airlock logs --follow`).
import { closeSync, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { redactQueryIn, truncateUtf8 } from "./redact.ts";

const LOG_FILES = {
  shorthand: /^airlock\.(\d{4}-\d{2}-\d{2})\.log$/,
  ocsf: /^airlock-ocsf\.(\d{4}-\d{2}-\d{2})\.jsonl$/,
} as const;
const BLOCK = 64 * 1024;

/** The two daily files of a log directory: shorthand lines or OCSF JSONL events. */
export type LogKind = keyof typeof LOG_FILES;

export interface RecentLines {
  lines: string[];
  /** False when the directory does not exist or holds no shorthand file yet. */
  logAvailable: boolean;
}

/** The daily files of one kind in the directory, newest day first. */
export function logFiles(dir: string, kind: LogKind): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => LOG_FILES[kind].test(n))
    .sort()
    .reverse()
    .map((n) => join(dir, n));
}

/**
 * The newest `count` lines (newest first) for which `keep` holds (default: every line).
 * `keep` lets a caller ask for denials only (`line.includes(" DENIED ")`).
 */
export function readRecentShorthand(
  dir: string,
  count: number,
  keep: (line: string) => boolean = () => true,
): RecentLines {
  return readRecentLines(dir, "shorthand", count, keep);
}

/** `readRecentShorthand` for either kind of daily file. */
export function readRecentLines(
  dir: string,
  kind: LogKind,
  count: number,
  keep: (line: string) => boolean = () => true,
): RecentLines {
  const files = logFiles(dir, kind);
  const out: string[] = [];
  for (const file of files) {
    if (out.length >= count) break;
    for (const line of tailLines(file)) {
      if (keep(line)) out.push(line);
      if (out.length >= count) break;
    }
  }
  return { lines: out, logAvailable: files.length > 0 };
}

/** The longest line GET /v1/denials returns (docs/design.md §5). */
export const DENIAL_LINE_MAX_BYTES = 4096;

/**
 * The newest `count` denial lines, newest first, for GET /v1/denials and `airlock denials`:
 * query strings redacted (again: lines of any origin), then cut to 4096 bytes on a UTF-8 boundary.
 */
export function readRecentDenials(dir: string, count: number): RecentLines {
  const recent = readRecentShorthand(dir, count, (line) => line.includes(" DENIED "));
  return {
    ...recent,
    lines: recent.lines.map((line) => truncateUtf8(redactQueryIn(line), DENIAL_LINE_MAX_BYTES)),
  };
}

/** Lines of one file from its end backwards, read block by block. */
function* tailLines(file: string): Generator<string> {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return;
  }
  try {
    let pos = fstatSync(fd).size;
    let carry = Buffer.alloc(0);
    while (pos > 0) {
      const size = Math.min(BLOCK, pos);
      pos -= size;
      const block = Buffer.alloc(size);
      readSync(fd, block, 0, size, pos);
      let buf = Buffer.concat([block, carry]);
      let end = buf.length;
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) continue;
        if (i + 1 < end) yield buf.subarray(i + 1, end).toString("utf8");
        end = i;
      }
      carry = buf.subarray(0, end);
      buf = carry;
    }
    if (carry.length > 0) yield carry.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Whole lines appended to `file` after byte `offset`, and the offset just past the last one. */
export interface Appended {
  lines: string[];
  /** Where the next read starts: after the last complete line (a partial line is read again later). */
  offset: number;
  /** The file's size now; smaller than the offset asked for means it was truncated or replaced. */
  size: number;
}

/** The most one call reads; a caller drains a larger backlog by calling again from the new offset. */
const APPENDED_MAX = 1024 * 1024;

/** Reads what was appended since `offset` (whole lines only); a missing file reads as empty. */
export function readAppended(file: string, offset: number): Appended {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return { lines: [], offset, size: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { lines: [], offset, size };
    const buf = Buffer.alloc(Math.min(size - offset, APPENDED_MAX));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const end = buf.subarray(0, got).lastIndexOf(0x0a);
    if (end < 0) return { lines: [], offset, size };
    const lines = buf
      .subarray(0, end)
      .toString("utf8")
      .split("\n")
      .filter((line) => line !== "");
    return { lines, offset: offset + end + 1, size };
  } finally {
    closeSync(fd);
  }
}
