// The hook runner behind `airlock hook claude-code|codex` (loaded lazily: hooks start once per tool call).

import { homedir } from "node:os";
import { resolve } from "node:path";
import { callsFromHook, parseHookPayload, worstDecision } from "../gate/adapters/hook-input.ts";
import { askDraft } from "../gate/ask-summary.ts";
import { defaultReceiptsFile } from "../gate/receipt-store.ts";
import { openGate } from "../gate/runtime.ts";
import { tuneForOneShot } from "../gate/shell/parser.ts";
import { type AgentFlavor, agentAnswer, describeDecision, type HookVerdict } from "../protocol/hook-wire.ts";
import { shellQuote } from "../sandbox/shell-quote.ts";
import { askThroughGateway, recordOutcome } from "./ask-gateway.ts";

export type Flavor = AgentFlavor;

export interface HookOptions {
  policy?: string;
  timeoutMs: string;
  askWaitMs: string;
  receipts?: string;
  workdir?: string;
}

const MAX_STDIN = 4 * 1024 * 1024;

function readStdin(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    process.stdin.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_STDIN) reject(new Error("stdin larger than 4 MiB"));
      else chunks.push(chunk);
    });
    process.stdin.on("end", () => resolvePromise(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

export async function runHook(flavor: Flavor, opts: HookOptions): Promise<void> {
  let done = false;
  const emit = (verdict: HookVerdict, reason: string, updatedInput?: Record<string, unknown>) => {
    if (done) return;
    done = true;
    process.stdout.write(agentAnswer(flavor, verdict, reason, updatedInput));
  };
  const given = Number(opts.timeoutMs);
  const limit = Number.isFinite(given) && given > 0 ? given : 55000;
  const deadline = Date.now() + limit;
  const timer = setTimeout(() => {
    // Out of time is a refusal, never silence (which both agents read as "go ahead").
    emit("deny", `airlock gate: no decision within ${limit} ms; denied`);
    process.exit(0);
  }, limit);
  try {
    const payload = parseHookPayload(await readStdin());
    if ("error" in payload) {
      emit("ask", `airlock gate: ${payload.error}; asking instead`);
      return;
    }
    const cwd = payload.cwd ?? process.cwd();
    const workdir = opts.workdir ? resolve(opts.workdir) : cwd;
    tuneForOneShot();
    const runtime = await openGate(opts.policy, opts.receipts ? { receipts: opts.receipts } : {});
    const calls = callsFromHook(payload, cwd);
    if ("error" in calls) {
      emit("ask", `airlock gate: ${calls.error}; asking instead`);
      return;
    }
    const single = calls.length === 1 && calls[0]?.kind === "shell";
    const ctx = {
      cwd,
      workdir,
      home: homedir(),
      canAsk: true,
      canContain: single && flavor === "claude-code",
      canRewrite: single && flavor === "claude-code",
    };
    const decisions = await Promise.all(calls.map((c) => runtime.decide(c, ctx, payload.session_id)));
    const d = worstDecision(decisions);
    if (d.decision === "contain" && calls[0]?.kind === "shell") {
      // Run it through `airlock gate contain`: same command, inside the sandbox, with the overlay.
      const airlock = [process.execPath, resolve(process.argv[1] ?? "bin/airlock.js")];
      const wrapped = [
        ...airlock,
        "gate",
        "contain",
        "--policy",
        resolve(runtime.policyFile),
        "--workdir",
        workdir,
        "--",
        "bash",
        "-c",
        calls[0].command,
      ]
        .map(shellQuote)
        .join(" ");
      emit("allow", describeDecision(d), { ...payload.tool_input, command: wrapped });
      return;
    }
    if (d.decision === "ask") {
      // The developer decides on the gateway (CLI or inbox) while this hook waits, within its
      // own limit; no gateway, no answer in time, or trouble: Claude Code's own prompt.
      const wanted = Number(opts.askWaitMs);
      const budget = Math.min(
        Number.isFinite(wanted) && wanted >= 0 ? wanted : 50000,
        deadline - Date.now() - 2500,
      );
      const req = {
        ...askDraft(calls),
        decision: d,
        ...(payload.session_id ? { session: payload.session_id } : {}),
      };
      const started = performance.now();
      let outcome = await askThroughGateway(req, budget);
      if (outcome.ask_id)
        outcome = recordOutcome(
          opts.receipts ?? defaultReceiptsFile(),
          req,
          outcome,
          performance.now() - started,
        );
      emit(
        outcome.verdict,
        outcome.verdict === "ask"
          ? `${describeDecision(d)} (${outcome.reason}; asking here instead)`
          : outcome.reason,
      );
      return;
    }
    if (d.decision === "allow" && d.rewrite?.kind === "shell") {
      // Allowed as rewritten only (git with its exec-capable settings disarmed).
      emit("allow", describeDecision(d), { ...payload.tool_input, command: d.rewrite.command });
      return;
    }
    emit(d.decision === "contain" ? "ask" : d.decision, describeDecision(d));
  } catch (error) {
    emit(
      "ask",
      `airlock gate error: ${error instanceof Error ? error.message : String(error)}; asking instead`,
    );
  } finally {
    clearTimeout(timer);
  }
}
