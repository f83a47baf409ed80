// Shared plumbing for the filesystem attack suites: real repositories made with real git, shell
// checks that print `name:ok` / `name:FAIL` from inside a real `airlock run`, and host-side
// probes (a host `git status` that would run a planted core.fsmonitor).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verdicts } from "../sandbox/helpers.ts";

/** `sh` lines: run CMD; "ok" if it fails (exit ≠ 0), as every attack should. */
export function mustFail(name: string, cmd: string): string {
  return `if ( ${cmd} ) >/dev/null 2>&1; then echo "${name}:FAIL succeeded"; else echo "${name}:ok"; fi`;
}

export function mustPass(name: string, cmd: string): string {
  return `if ( ${cmd} ) >/dev/null 2>&1; then echo "${name}:ok"; else echo "${name}:FAIL failed"; fi`;
}

export function assertAllOk(stdout: string, names: readonly string[], stderr = ""): void {
  const v = verdicts(stdout);
  for (const name of names)
    assert.equal(v.get(name), "ok", `${name}: ${v.get(name) ?? "no verdict"}\n${stdout}\n${stderr}`);
}

/** The names of the checks in a script built from mustFail/mustPass lines. */
export function checkNames(lines: readonly string[]): string[] {
  return lines.map((l) => /echo "([\w.-]+):ok"/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "protocol.file.allow=always", ...args], {
    cwd,
    env: GIT_ENV,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A repository with one commit. */
export function makeRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, "init", "-q", "-b", "main");
  writeFileSync(join(dir, "README"), "hello\n");
  git(dir, "add", "README");
  git(dir, "commit", "-q", "-m", "init");
}

/**
 * A host `git status` in `dir`, as the developer would run it after the run; true when it ran a
 * planted fsmonitor or hook (the payloads touch `marker`).
 */
export function hostGitRanPayload(dir: string, marker: string): boolean {
  spawnSync("git", ["status", "--short"], { cwd: dir, env: GIT_ENV, stdio: "ignore", timeout: 20_000 });
  return existsSync(marker);
}

/** A git config body that runs `touch marker` on the next `git status`. */
export function fsmonitorConfig(marker: string): string {
  return `[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch ${marker}; false"\n\thooksPath = /nonexistent\n`;
}

/** husky 9's hook runner (`.husky/_/h`): each stub in `.husky/_` runs `.husky/<hook>`. */
const HUSKY_H = `#!/usr/bin/env sh
n=$(basename "$0")
s=$(dirname "$(dirname "$0")")/$n
[ ! -f "$s" ] && exit 0
[ "\${HUSKY-}" = "0" ] && exit 0
export PATH="node_modules/.bin:$PATH"
sh -e "$s" "$@"
`;

/** A repository with husky 9's layout: core.hooksPath is `.husky/_`, its pre-commit stub committed. */
export function huskyRepo(dir: string): void {
  makeRepo(dir);
  mkdirSync(join(dir, ".husky", "_"), { recursive: true });
  writeFileSync(join(dir, ".husky", "_", "h"), HUSKY_H, { mode: 0o755 });
  writeFileSync(join(dir, ".husky", "_", "pre-commit"), '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n', {
    mode: 0o755,
  });
  git(dir, "config", "core.hooksPath", ".husky/_");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "husky");
}

/** The developer's next `git commit` in `dir`; true when it ran a payload (which touches `marker`). */
export function hostCommitRanPayload(dir: string, marker: string): boolean {
  spawnSync("git", ["commit", "--allow-empty", "-qm", "next"], {
    cwd: dir,
    env: GIT_ENV,
    stdio: "ignore",
    timeout: 20_000,
  });
  return existsSync(marker);
}
