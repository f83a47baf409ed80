// Checks before a sandbox starts, each failure a sentence that says what to do.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export class PreflightError extends Error {}

/** An executable on PATH, or null. */
export function findExecutable(name: string, path = process.env["PATH"] ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** bwrap on PATH, or a clear instruction to install it. */
export function findBwrap(path = process.env["PATH"] ?? ""): string {
  const found = findExecutable("bwrap", path);
  if (found) return found;
  throw new PreflightError(
    "bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap` " +
      "(Debian/Ubuntu) or `dnf install bubblewrap` (Fedora), then run again",
  );
}

function readNumber(file: string): number | null {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return null;
  }
}

/** User namespaces must be available to an unprivileged bubblewrap. */
export function checkUserNamespaces(uid = process.getuid?.() ?? 0): void {
  if (readNumber("/proc/sys/user/max_user_namespaces") === 0) {
    throw new PreflightError(
      "user namespaces are disabled (user.max_user_namespaces = 0); enable them with " +
        "`sysctl -w user.max_user_namespaces=15000`",
    );
  }
  if (uid !== 0 && readNumber("/proc/sys/kernel/unprivileged_userns_clone") === 0) {
    throw new PreflightError(
      "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); enable them " +
        "with `sysctl -w kernel.unprivileged_userns_clone=1`",
    );
  }
  if (uid !== 0 && readNumber("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === 1) {
    throw new PreflightError(
      "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1); " +
        "allow bwrap with an AppArmor profile or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`",
    );
  }
}

export function checkWorkdir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new PreflightError(`workdir ${dir} does not exist; create it or pass --workdir`);
  }
  if (!isDir) throw new PreflightError(`workdir ${dir} is not a directory`);
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new PreflightError(
      `sandbox name "${name}" must be lower-case letters, digits, _ . - (at most 63, starting with a letter or digit)`,
    );
  }
}
