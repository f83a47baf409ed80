// `airlock logs --follow`: hands over each whole line appended to a sandbox's newest daily log
// file, moving on to the next day's file when it appears. Woken by fs.watch on the directory;
// where that is unavailable (no inotify, directory not created yet) it checks once a second.
import { type FSWatcher, statSync, watch } from "node:fs";
import { type LogKind, logFiles, readAppended } from "./reader.ts";

export interface Follower {
  stop(): void;
}

export interface FollowOptions {
  /** The fallback check interval when fs.watch cannot be used. */
  pollMs?: number;
}

/**
 * Follows the log from now on: lines already in the newest file are skipped (the caller printed
 * what it wanted of them); a file that appears later is read from its start.
 */
export function followLog(
  dir: string,
  kind: LogKind,
  onLine: (line: string) => void,
  options: FollowOptions = {},
): Follower {
  let current = logFiles(dir, kind)[0];
  let offset = current ? (statSync(current, { throwIfNoEntry: false })?.size ?? 0) : 0;
  let stopped = false;
  let scheduled = false;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;

  const drain = (file: string): void => {
    for (;;) {
      const got = readAppended(file, offset);
      if (got.size < offset) {
        offset = 0; // truncated or replaced: start over
        continue;
      }
      for (const line of got.lines) onLine(line);
      if (got.offset === offset) return;
      offset = got.offset;
    }
  };

  const check = (): void => {
    scheduled = false;
    if (stopped) return;
    if (current) drain(current);
    const newest = logFiles(dir, kind)[0];
    if (newest && newest !== current) {
      // A new day's file (or the first one): the old file is finished, the new one read whole.
      current = newest;
      offset = 0;
      drain(current);
    }
  };

  const poll = (): void => {
    watcher?.close();
    watcher = undefined;
    timer ??= setInterval(check, options.pollMs ?? 1000);
  };

  try {
    watcher = watch(dir, () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(check);
    });
    watcher.on("error", poll);
  } catch {
    poll();
  }
  return {
    stop(): void {
      stopped = true;
      watcher?.close();
      if (timer) clearInterval(timer);
    },
  };
}
