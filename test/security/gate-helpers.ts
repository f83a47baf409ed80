// Shared by the shell gate attack suites: a line run as the agent's shell runs it, and the one
// check each attack makes (it works unguarded; through the gate, what is allowed does not work).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { CallContext } from "../../src/gate/call.ts";
import type { GateRuntime } from "../../src/gate/runtime.ts";

const run = promisify(execFile);

/** Runs a line as the agent's shell would: bash, in `cwd`, with `home` as HOME; its stdout. */
export async function agentBash(
  line: string,
  cwd: string,
  home: string,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await run("bash", ["-c", line], {
      cwd,
      env: { PATH: "/usr/bin:/bin", HOME: home, LANG: "C", ...env },
      timeout: 60000, // generous: a loaded machine is slow, and this is a limit, not a measure
    });
    return stdout;
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? "");
  }
}

export interface ShellAttack {
  name: string;
  line: string;
  setup?: () => void;
  /** More of the agent's environment (a token it was started with, say). */
  env?: Record<string, string>;
  /** Did the attack work? Given what bash printed. */
  worked: (stdout: string) => boolean;
}

/**
 * The attack, from a fresh scratch tree each time: proven unguarded in real bash; then decided
 * by the gate, and whatever it allows (as rewritten) run the same way, which must not work.
 */
export async function assertGateStops(
  gate: GateRuntime,
  ctx: CallContext,
  attack: ShellAttack,
  fresh: () => void,
): Promise<void> {
  const bash = (line: string) => agentBash(line, ctx.cwd, ctx.home, attack.env);
  fresh();
  attack.setup?.();
  assert.ok(
    attack.worked(await bash(attack.line)),
    `the attack must work unguarded: ${JSON.stringify(attack.line)}`,
  );
  fresh();
  attack.setup?.();
  const d = await gate.decide({ kind: "shell", command: attack.line }, ctx);
  if (d.decision !== "allow") return;
  const allowed = d.rewrite?.kind === "shell" ? d.rewrite.command : attack.line;
  assert.equal(
    attack.worked(await bash(allowed)),
    false,
    `allowed and it worked: ${JSON.stringify(allowed)}`,
  );
}
