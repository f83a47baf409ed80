// The imperative shell around the cascade: load the gate, decide, write the receipt.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatProblem } from "../policy/load.ts";
import { airlockHome, gatePolicyFile, homePaths } from "../protocol/home.ts";
import { type CallContext, callDigest, type ToolCall, toolLabel } from "./call.ts";
import { decide, type GateDecision } from "./cascade.ts";
import { type BreakerState, type BreakerStore, createClassifier } from "./classifier.ts";
import type { CompiledGate } from "./compile.ts";
import { loadGateFile } from "./file.ts";
import { gatherFacts } from "./path-facts.ts";
import { appendReceipt, defaultReceiptsFile } from "./receipt-store.ts";
import { type AnalyzeShell, loadShellAnalyzer } from "./shell/parser.ts";

export class GateLoadError extends Error {}

/** The gate policy in effect, which must exist. */
export function resolveGatePolicy(flag: string | undefined): string {
  const file = gatePolicyFile(flag);
  if (!existsSync(file)) {
    throw new GateLoadError(
      `no gate policy: ${file} does not exist (pass --policy FILE or set AIRLOCK_GATE_POLICY)`,
    );
  }
  return file;
}

/** The breaker's state in a file, so one-process-per-call hooks share it. */
export function fileBreaker(file = homePaths(airlockHome()).classifierBreaker): BreakerStore {
  return {
    load(): BreakerState {
      try {
        const s = JSON.parse(readFileSync(file, "utf8")) as BreakerState;
        return { failures: Number(s.failures) || 0, openUntil: Number(s.openUntil) || 0 };
      } catch {
        return { failures: 0, openUntil: 0 };
      }
    },
    save(state: BreakerState): void {
      try {
        mkdirSync(join(file, ".."), { recursive: true });
        writeFileSync(file, JSON.stringify(state));
      } catch {
        // Losing breaker state only means the classifier is tried again.
      }
    },
  };
}

export interface GateRuntime {
  gate: CompiledGate;
  analyze: AnalyzeShell;
  policyFile: string;
  /**
   * The cascade's decision, recorded in a receipt. `overrule` lets the edge replace it with what
   * it knows beyond the cascade (an MCP tool whose pin changed is asked about, not allowed)
   * before the receipt is written, so the receipt says what was decided.
   */
  decide(
    call: ToolCall,
    ctx: CallContext,
    session?: string,
    overrule?: (decision: GateDecision) => GateDecision,
  ): Promise<GateDecision & { latency_ms: number }>;
}

export interface RuntimeOptions {
  receipts?: string | false;
  breaker?: BreakerStore;
}

export async function openGate(
  policyFlag: string | undefined,
  options: RuntimeOptions = {},
): Promise<GateRuntime> {
  const policyFile = resolveGatePolicy(policyFlag);
  const analyze = await loadShellAnalyzer();
  const loaded = loadGateFile(policyFile, analyze);
  if (!loaded.ok) {
    throw new GateLoadError(
      `${loaded.errors.map(formatProblem).join("\n")}\ninvalid gate policy ${policyFile}`,
    );
  }
  const gate = loaded.gate;
  const classify = gate.classifier
    ? createClassifier(gate.classifier, { breaker: options.breaker ?? fileBreaker() })
    : undefined;
  const receipts = options.receipts === undefined ? defaultReceiptsFile() : options.receipts;
  const record = (
    call: ToolCall,
    decision: GateDecision,
    latency_ms: number,
    session: string | undefined,
  ) => {
    if (receipts === false) return;
    appendReceipt(receipts, {
      time: new Date().toISOString(),
      tool: toolLabel(call),
      input_digest: callDigest(call),
      decision: decision.decision,
      tier: decision.tier,
      step: decision.step,
      rule: decision.rule,
      reason: decision.reason,
      latency_ms,
      ...(session ? { session } : {}),
    });
  };
  return {
    gate,
    analyze,
    policyFile,
    async decide(call, ctx, session, overrule) {
      const started = performance.now();
      const where = { ...ctx, airlockHome: ctx.airlockHome ?? airlockHome() };
      const decided = await decide(gate, call, where, {
        analyze,
        facts: gatherFacts,
        ...(classify ? { classify } : {}),
      });
      const decision = overrule ? overrule(decided) : decided;
      const latency_ms = Math.round((performance.now() - started) * 1000) / 1000;
      try {
        record(call, decision, latency_ms, session);
      } catch (error) {
        // No receipt, no permission: an unrecorded allow would be invisible afterwards.
        if (decision.decision === "allow" || decision.decision === "contain") {
          return {
            ...decision,
            decision: ctx.canAsk ? "ask" : "deny",
            tier: 3,
            step: "error",
            reason: `could not write the receipt (${(error as Error).message}); ${decision.reason}`,
            latency_ms,
          };
        }
      }
      return { ...decision, latency_ms };
    },
  };
}
