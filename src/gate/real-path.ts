// Where a path really leads on this machine: the longest existing prefix through realpath
// (symlinks, `..` after them, `/proc/self/root|cwd|fd/...`), the rest appended as written. The
// imperative edge behind CallContext.realPath; the matchers see both the written and the real
// path.
import { realpathSync } from "node:fs";
import { posix } from "node:path";

/** At most this many trailing components are taken off looking for an existing prefix. */
const MAX_MISSING = 64;

export function realPathOnDisk(absolute: string): string {
  let head = posix.normalize(absolute);
  const missing: string[] = [];
  while (missing.length <= MAX_MISSING) {
    try {
      return posix.join(realpathSync(head), ...missing.reverse());
    } catch {
      if (head === "/" || head === ".") return absolute;
      missing.push(posix.basename(head));
      head = posix.dirname(head);
    }
  }
  return absolute;
}
