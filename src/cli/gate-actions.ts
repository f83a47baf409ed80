// `airlock gate check|verify` (loaded when the command runs).

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { callsFromValue, worstDecision } from "../gate/adapters/hook-input.ts";
import type { ToolCall } from "../gate/call.ts";
import { loadVerifyKey } from "../gate/receipt-store.ts";
import { verifyReceipts } from "../gate/receipts.ts";
import { GateLoadError, openGate } from "../gate/runtime.ts";
import { tuneForOneShot } from "../gate/shell/parser.ts";
import { CliError, decisionExitCode, EXIT_FAILURE, printJson, UsageError } from "./common.ts";

export interface CheckOptions {
  policy?: string;
  shell?: string;
  input?: string;
  json?: boolean;
  cwd?: string;
  workdir?: string;
  receipts?: string;
  ask?: boolean;
  exitCode?: boolean;
}

function callsFromInput(text: string, cwd: string): { calls: ToolCall[]; session?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(
      '--input: not JSON (give a call such as {"kind":"shell","command":"ls"} or a hook payload)',
    );
  }
  const parsed = callsFromValue(value, cwd);
  if ("error" in parsed) throw new CliError(`--input: ${parsed.error}`);
  return parsed;
}

export async function check(opts: CheckOptions): Promise<void> {
  if ((opts.shell === undefined) === (opts.input === undefined)) {
    throw new UsageError('give exactly one of --shell "CMD" or --input FILE|-');
  }
  const cwd = resolve(opts.cwd ?? process.cwd());
  const parsed =
    opts.shell !== undefined
      ? { calls: [{ kind: "shell", command: opts.shell } as ToolCall] }
      : callsFromInput(readFileSync(opts.input === "-" ? 0 : (opts.input as string), "utf8"), cwd);
  let runtime: Awaited<ReturnType<typeof openGate>>;
  try {
    tuneForOneShot();
    runtime = await openGate(opts.policy, { receipts: opts.receipts ?? false });
  } catch (error) {
    if (error instanceof GateLoadError) throw new CliError(error.message);
    throw error;
  }
  const ctx = {
    cwd,
    workdir: opts.workdir ? resolve(opts.workdir) : cwd,
    home: homedir(),
    canAsk: opts.ask !== false,
    canContain: parsed.calls.length === 1 && parsed.calls[0]?.kind === "shell",
  };
  const decisions = await Promise.all(parsed.calls.map((c) => runtime.decide(c, ctx, parsed.session)));
  const d = worstDecision(decisions);
  const out = {
    decision: d.decision,
    tier: d.tier,
    rule: d.rule,
    reason: d.reason,
    step: d.step,
    ...(d.hint ? { hint: d.hint } : {}),
    capabilities: d.capabilities,
    latency_ms: d.latency_ms,
  };
  if (opts.json) printJson(out);
  else
    process.stdout.write(
      `${d.decision} (tier ${d.tier}, ${d.step}${d.rule ? ` ${d.rule}` : ""}): ${d.reason}\n`,
    );
  if (opts.exitCode) process.exitCode = decisionExitCode(d.decision);
}

export function verify(file: string, opts: { key?: string; json?: boolean; head?: string }): void {
  let expectHead: { seq: number; hash: string } | undefined;
  if (opts.head !== undefined) {
    const m = /^(\d+):(sha256:[0-9a-f]{64})$/.exec(opts.head);
    if (!m) throw new UsageError(`--head must be SEQ:sha256:HEX (as printed by verify), got "${opts.head}"`);
    expectHead = { seq: Number(m[1]), hash: m[2] as string };
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const result = verifyReceipts(text.split("\n"), loadVerifyKey(opts.key), expectHead);
  if (opts.json) printJson(result);
  else if (result.ok) {
    process.stdout.write(
      `${file}: ok, ${result.count} receipt${result.count === 1 ? "" : "s"}${result.head ? `, head ${result.head.seq}:${result.head.hash}` : ""}\n`,
    );
  } else process.stdout.write(`${result.problems.map((p) => `${file}: ${p}`).join("\n")}\n${file}: FAILED\n`);
  if (!result.ok) process.exitCode = EXIT_FAILURE;
}
