// Reads the newest shorthand lines back (GET /v1/denials, `airlock denials`): newest first,
// across daily files, reading each file from its end so a large log costs only what is returned.
import { closeSync, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { redactQueryIn, truncateUtf8 } from "./redact.ts";

const SHORTHAND_FILE = /^airlock\.(\d{4}-\d{2}-\d{2})\.log$/;
const BLOCK = 64 * 1024;

export interface RecentLines {
  lines: string[];
  /** False when the directory does not exist or holds no shorthand file yet. */
  logAvailable: boolean;
}

/** Shorthand files in the directory, newest day first. */
export function shorthandFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => SHORTHAND_FILE.test(n))
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
  const files = shorthandFiles(dir);
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

/** The longest line GET /v1/denials returns (DESIGN.md §5). */
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
