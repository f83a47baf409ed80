// The contained run: a user+mount namespace holding an overlay of the workdir, and inside it a
// bubblewrap sandbox (read-only root, private /tmp, no network) with the overlay bound over the
// workdir. bubblewrap 0.8 has no overlay options, so the overlay is mounted by the outer namespace.
// Minimal launcher local to the gate; src/sandbox will own the general one (see docs/gate.md).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface ContainPlan {
  workdir: string;
  cwd: string;
  command: string[];
  /** Where the change set is staged (on the real filesystem). */
  stageDir: string;
  /** Paths hidden behind an empty tmpfs (secrets), if they exist. */
  hide: string[];
  /** argv of the collector run inside the namespace after the command. */
  collector: string[];
  tmpfsBytes: number;
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** bwrap arguments for the command, given the mounted overlay. Pure. */
export function bwrapArgs(plan: ContainPlan, merged: string): string[] {
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const path of plan.hide) args.push("--tmpfs", path);
  args.push("--bind", merged, plan.workdir);
  args.push(
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    "--new-session",
    "--setenv",
    "AIRLOCK_CONTAINED",
    "1",
    "--chdir",
    plan.cwd,
    "--",
    ...plan.command,
  );
  return args;
}

/** The script run inside `unshare --user --map-root-user --mount`. Pure. */
export function innerScript(plan: ContainPlan): string {
  const t = `${plan.stageDir}/ns`;
  return [
    "set -u",
    `T=${q(t)}`,
    'mkdir -p "$T"',
    `mount -t tmpfs -o size=${plan.tmpfsBytes} tmpfs "$T" || exit 120`,
    'mkdir "$T/upper" "$T/work" "$T/merged"',
    `mount -t overlay overlay -o lowerdir=${q(plan.workdir)},upperdir="$T/upper",workdir="$T/work",userxattr "$T/merged" || exit 121`,
    `bwrap ${bwrapArgs(plan, "$MERGED")
      .map((a) => (a === "$MERGED" ? '"$T/merged"' : q(a)))
      .join(" ")}`,
    "rc=$?",
    `echo "$rc" > ${q(`${plan.stageDir}/command-rc`)}`,
    `${plan.collector.map(q).join(" ")} "$T/upper" ${q(plan.workdir)} "$T/merged" ${q(plan.stageDir)} || exit 122`,
    'exit "$rc"',
  ].join("\n");
}

export interface ContainResult {
  exitCode: number;
  timedOut: boolean;
}

export function runContained(plan: ContainPlan, timeoutSeconds: number): Promise<ContainResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "unshare",
      ["--user", "--map-root-user", "--mount", "bash", "-c", innerScript(plan)],
      {
        stdio: ["inherit", "inherit", "inherit"],
        detached: true,
      },
    );
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, timeoutSeconds * 1000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? (signal ? 128 + 9 : 1), timedOut });
    });
  });
}

export function existingPaths(paths: string[]): string[] {
  return paths.filter((p) => existsSync(p));
}
