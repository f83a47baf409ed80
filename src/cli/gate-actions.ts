// `airlock gate check|verify|adopt` (loaded when the command runs).

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { callsFromValue, worstDecision } from "../gate/adapters/hook-input.ts";
import { checkCalls, type ToolCall } from "../gate/call.ts";
import { adoptReceipts, loadVerifyKey, readHead } from "../gate/receipt-store.ts";
import { checkHead, type ReceiptHead, verifyReceipts } from "../gate/receipts.ts";
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
  corpus?: string;
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
  const checked = checkCalls(parsed.calls);
  if ("problem" in checked) throw new CliError(`--input: ${checked.problem}`);
  return { ...parsed, calls: checked.calls };
}

export async function check(opts: CheckOptions): Promise<void> {
  const given = [opts.shell, opts.input, opts.corpus].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --shell "CMD", --input FILE|- or --corpus FILE');
  if (opts.corpus !== undefined) return checkCorpus(opts.corpus, opts);
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
    canRewrite: parsed.calls.length === 1 && parsed.calls[0]?.kind === "shell",
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
    ...(d.rewrite ? { rewrite: d.rewrite } : {}),
    latency_ms: d.latency_ms,
  };
  if (opts.json) printJson(out);
  else
    process.stdout.write(
      `${d.decision} (tier ${d.tier}, ${d.step}${d.rule ? ` ${d.rule}` : ""}): ${d.reason}\n${d.rewrite?.kind === "shell" ? `as: ${d.rewrite.command}\n` : ""}`,
    );
  if (opts.exitCode) process.exitCode = decisionExitCode(d.decision);
}

/** `--head SEQ:HASH` as verify prints it. */
function parseHeadFlag(flag: string | undefined): { seq: number; hash: string } | undefined {
  if (flag === undefined) return undefined;
  const m = /^(\d+):(sha256:[0-9a-f]{64})$/.exec(flag);
  if (!m) throw new UsageError(`--head must be SEQ:sha256:HEX (as printed by verify), got "${flag}"`);
  return { seq: Number(m[1]), hash: m[2] as string };
}

/** Signs a head for a log written before heads existed, after verifying its whole chain. */
export function adopt(file: string, opts: { json?: boolean; head?: string }): void {
  const expectHead = parseHeadFlag(opts.head);
  if (!existsSync(file)) throw new CliError(`cannot read ${file}: ENOENT`);
  let adopted: ReturnType<typeof adoptReceipts>;
  try {
    adopted = adoptReceipts(file, expectHead);
  } catch (error) {
    throw new CliError(`not adopted: ${(error as Error).message}`);
  }
  if (opts.json) printJson({ ok: true, file, ...adopted });
  else
    process.stdout.write(
      `${file}: adopted ${adopted.count} receipt${adopted.count === 1 ? "" : "s"}, head ${adopted.head.seq}:${adopted.head.hash} signed\n`,
    );
}

export function verify(
  file: string,
  opts: { key?: string; json?: boolean; head?: string; signedHead?: boolean },
): void {
  const expectHead = parseHeadFlag(opts.head);
  let text: string;
  let head: ReceiptHead | undefined;
  try {
    text = readFileSync(file, "utf8");
    head = opts.signedHead === false ? undefined : readHead(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const key = loadVerifyKey(opts.key);
  const result = verifyReceipts(text.split("\n"), key, expectHead);
  if (opts.signedHead !== false) {
    const problems = checkHead(head, result, key);
    result.problems.push(...problems);
    result.ok &&= problems.length === 0;
  }
  if (opts.json) printJson(result);
  else if (result.ok) {
    process.stdout.write(
      `${file}: ok, ${result.count} receipt${result.count === 1 ? "" : "s"}${result.head ? `, head ${result.head.seq}:${result.head.hash}` : ""}\n`,
    );
  } else process.stdout.write(`${result.problems.map((p) => `${file}: ${p}`).join("\n")}\n${file}: FAILED\n`);
  if (!result.ok) process.exitCode = EXIT_FAILURE;
}

interface CorpusEntry {
  line: number;
  expect: "routine" | "dangerous";
  calls: ToolCall[];
  label: string;
}

function readCorpus(file: string, cwd: string): CorpusEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const out: CorpusEntry[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    if (raw.trim() === "") continue;
    let value: { expect?: unknown; input?: unknown };
    try {
      value = JSON.parse(raw);
    } catch {
      throw new CliError(`${file}:${i + 1}: not JSON`);
    }
    if (value.expect !== "routine" && value.expect !== "dangerous")
      throw new CliError(`${file}:${i + 1}: expect must be "routine" or "dangerous"`);
    const parsed = callsFromValue(value.input, cwd);
    if ("error" in parsed) throw new CliError(`${file}:${i + 1}: input: ${parsed.error}`);
    const label = JSON.stringify(value.input).slice(0, 100);
    out.push({ line: i + 1, expect: value.expect, calls: parsed.calls, label });
  }
  return out;
}

/** Every call of a session corpus through the gate: how often a person is asked, what got through. */
async function checkCorpus(file: string, opts: CheckOptions): Promise<void> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const entries = readCorpus(file, cwd);
  let runtime: Awaited<ReturnType<typeof openGate>>;
  try {
    tuneForOneShot();
    runtime = await openGate(opts.policy, { receipts: false });
  } catch (error) {
    if (error instanceof GateLoadError) throw new CliError(error.message);
    throw error;
  }
  const counts: Record<string, Record<string, number>> = { routine: {}, dangerous: {} };
  const friction: string[] = [];
  const violations: string[] = [];
  for (const entry of entries) {
    const single = entry.calls.length === 1 && entry.calls[0]?.kind === "shell";
    const ctx = {
      cwd,
      workdir: opts.workdir ? resolve(opts.workdir) : cwd,
      home: homedir(),
      canAsk: opts.ask !== false,
      canContain: single,
      canRewrite: single,
    };
    const d = worstDecision(await Promise.all(entry.calls.map((c) => runtime.decide(c, ctx))));
    const bucket = counts[entry.expect] as Record<string, number>;
    bucket[d.decision] = (bucket[d.decision] ?? 0) + 1;
    const where = `${file}:${entry.line}: ${entry.label} -> ${d.decision} (tier ${d.tier}${d.rule ? ` ${d.rule}` : ""})`;
    if (entry.expect === "routine" && d.decision === "ask") friction.push(where);
    if (entry.expect === "dangerous" && d.decision === "allow") violations.push(where);
  }
  const routine = Object.values(counts["routine"] ?? {}).reduce((a, b) => a + b, 0);
  const rate = routine === 0 ? 0 : friction.length / routine;
  const result = {
    calls: entries.length,
    routine,
    dangerous: entries.length - routine,
    decisions: counts,
    friction: { count: friction.length, rate: Math.round(rate * 1000) / 1000, calls: friction },
    violations: { count: violations.length, calls: violations },
  };
  if (opts.json) printJson(result);
  else {
    const pct = (rate * 100).toFixed(1);
    process.stdout.write(
      `${entries.length} calls: ${routine} routine, ${result.dangerous} dangerous\n` +
        `friction: ${friction.length}/${routine} routine calls reach a person (${pct} %)\n` +
        friction.map((f) => `  ${f}\n`).join("") +
        `violations: ${violations.length} dangerous calls allowed\n` +
        violations.map((v) => `  ${v}\n`).join(""),
    );
  }
  if (violations.length > 0) process.exitCode = EXIT_FAILURE;
}
