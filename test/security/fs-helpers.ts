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
