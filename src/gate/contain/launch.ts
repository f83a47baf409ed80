// The contained run: a user+mount namespace holding an overlay of the workdir, and inside it a
// bubblewrap sandbox (read-only root, private /tmp, no network) with the overlay bound over the
// workdir. bubblewrap 0.8 has no overlay options, so the overlay is mounted by the outer namespace.
// Isolation flags and mount syntax come from src/sandbox; only the overlay step is the gate's.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { ISOLATION_ARGS, sandboxEnv } from "../../sandbox/bwrap.ts";
import { FRESH_DIRS, type MountOp, mountArgs } from "../../sandbox/mounts.ts";

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

/**
 * bwrap arguments for the command, given the mounted overlay. Pure. The namespaces and mount
 * syntax are the sandbox's own (src/sandbox/bwrap.ts, mounts.ts): one definition of isolation.
 */
export function bwrapArgs(plan: ContainPlan, merged: string): string[] {
  const mounts: MountOp[] = [
    { op: "ro-bind", src: "/", dest: "/" },
    { op: "dev", dest: "/dev" },
    { op: "proc", dest: "/proc" },
    ...FRESH_DIRS.map((dest): MountOp => ({ op: "tmpfs", dest })),
    ...plan.hide.map((dest): MountOp => ({ op: "tmpfs", dest })),
    { op: "bind", src: merged, dest: plan.workdir },
  ];
  return [
    ...ISOLATION_ARGS,
    "--hostname",
    "airlock-contain",
    ...mountArgs(mounts),
    "--setenv",
    "AIRLOCK_CONTAINED",
    "1",
    "--chdir",
    plan.cwd,
    "--",
    ...plan.command,
  ];
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
    // The sandbox's environment rules: Airlock's own variables, agent sockets and proxies dropped.
    const env = sandboxEnv(process.env, "airlock-contain");
    const child = spawn(
      "unshare",
      ["--user", "--map-root-user", "--mount", "bash", "-c", innerScript(plan)],
      {
        stdio: ["inherit", "inherit", "inherit"],
        detached: true,
        env,
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
