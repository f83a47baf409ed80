// Shared by the hook tests: the hook run as Claude Code or Codex runs it (a process, JSON on
// stdin, bounded by a kill timer), and the decision it printed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

export interface HookRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface HookDecision {
  permissionDecision: string;
  permissionDecisionReason: string;
  updatedInput?: { command: string };
}

/** `airlock hook FLAVOR ARGS` with `stdin`, in this process's environment plus `env`. */
export function spawnHook(
  flavor: string,
  stdin: string,
  args: string[],
  env: Record<string, string>,
): Promise<HookRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/airlock.js", "hook", flavor, ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (status) => {
      clearTimeout(kill);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** The decision of a hook that exited 0, as Claude Code reads it. */
export function decisionOf(run: HookRun): HookDecision {
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.equal(out.hookSpecificOutput.hookEventName, "PreToolUse");
  return out.hookSpecificOutput;
}

/** Codex's allow: an empty answer with exit 0 (Codex rejects permissionDecision "allow"). */
export function assertCodexAllowed(run: HookRun): void {
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "", "codex allow is an empty answer");
}
