// The gate as the gateway runs it for POST /v1/gate/decide: input → calls → cascade (receipts
// written under the gateway's $AIRLOCK_HOME) → verdict plus what an ask records. Gate policies
// are opened once per file and reopened when the file changes.
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { nestsDeeperThan } from "../policy/json-depth.ts";
import type { GateDecider, GateVerdict } from "../protocol/gate-decider.ts";
import { callsFromValue, worstDecision } from "./adapters/hook-input.ts";
import { askDraft } from "./ask-summary.ts";
import { checkCalls } from "./call.ts";
import { type GateRuntime, openGate, resolveGatePolicy } from "./runtime.ts";

export interface GateDeciderOptions {
  /** Default policy file (else $AIRLOCK_GATE_POLICY, else $AIRLOCK_HOME/gate.yaml, resolved per call). */
  policy?: string;
  /** Receipt file; default $AIRLOCK_HOME/gate/receipts.jsonl. */
  receipts?: string;
}

export function createGateDecider(options: GateDeciderOptions = {}): GateDecider {
  const open = new Map<string, { mtimeMs: number; runtime: Promise<GateRuntime> }>();
  const runtimeFor = (file: string): Promise<GateRuntime> => {
    const mtimeMs = statSync(file).mtimeMs;
    const cached = open.get(file);
    if (cached && cached.mtimeMs === mtimeMs) return cached.runtime;
    const runtime = openGate(file, options.receipts ? { receipts: options.receipts } : {});
    open.set(file, { mtimeMs, runtime });
    runtime.catch(() => open.delete(file));
    return runtime;
  };
  return {
    async decide(
      input: Record<string, unknown>,
      opts: { policy?: string; cwd?: string; workdir?: string },
    ): Promise<GateVerdict> {
      if (opts.policy !== undefined && !isAbsolute(opts.policy))
        return { ok: false, status: 400, code: "invalid_request", detail: "policy must be an absolute path" };
      if (opts.cwd !== undefined && !isAbsolute(opts.cwd))
        return { ok: false, status: 400, code: "invalid_request", detail: "cwd must be an absolute path" };
      const payloadCwd = typeof input["cwd"] === "string" ? (input["cwd"] as string) : undefined;
      if (payloadCwd !== undefined && !isAbsolute(payloadCwd))
        return { ok: false, status: 400, code: "invalid_input", detail: "cwd must be an absolute path" };
      const cwd = opts.cwd ?? payloadCwd ?? homedir();
      if (nestsDeeperThan(input))
        return { ok: false, status: 400, code: "invalid_input", detail: "the input nests too deeply" };
      const parsed = callsFromValue(input, cwd);
      if ("error" in parsed) return { ok: false, status: 400, code: "invalid_input", detail: parsed.error };
      const checked = checkCalls(parsed.calls);
      if ("problem" in checked)
        return { ok: false, status: 400, code: "invalid_input", detail: checked.problem };
      const calls = checked.calls;
      let runtime: GateRuntime;
      try {
        runtime = await runtimeFor(resolveGatePolicy(opts.policy ?? options.policy));
      } catch (error) {
        return { ok: false, status: 503, code: "gate_policy", detail: (error as Error).message };
      }
      // The gateway can ask (that is what asks are); it cannot rewrite a command into a contained run.
      const ctx = {
        cwd,
        workdir: opts.workdir ? resolve(cwd, opts.workdir) : cwd,
        home: homedir(),
        canAsk: true,
        canContain: false,
      };
      const decisions = await Promise.all(calls.map((c) => runtime.decide(c, ctx, parsed.session)));
      const d = worstDecision(decisions);
      return {
        ok: true,
        decision: d.decision,
        tier: d.tier,
        step: d.step,
        rule: d.rule,
        reason: d.reason,
        ...(d.hint ? { hint: d.hint } : {}),
        capabilities: d.capabilities,
        latency_ms: d.latency_ms,
        ...askDraft(calls),
        ...(parsed.session ? { session: parsed.session } : {}),
      };
    },
  };
}
