// The cascade (docs/design.md §10): hard stops → allowlist → contained run → classifier → ask.
// Pure: the classifier is a function handed in; every failure of it becomes ask (or deny).

import { posix } from "node:path";
import { type CallContext, describeCall, type ToolCall } from "./call.ts";
import type { CompiledGate } from "./compile.ts";
import { type GitRepoFacts, gitTier0 } from "./git.ts";
import { coverCall, hardStopMatches, namedPathKeys, type Target } from "./match.ts";
import { baseDirs, pathsOf, type RealPath, specialPathProblem } from "./paths.ts";
import type { Capability } from "./schema.ts";
import type { AnalyzeShell } from "./shell/parser.ts";
import type { ShellAnalysis } from "./shell/types.ts";

export type Verdict = "allow" | "deny" | "ask" | "contain";
export type Step = "hard_stop" | "allowlist" | "contain" | "classifier" | "default" | "error";

export interface GateDecision {
  decision: Verdict;
  /** 0 allowlist, 1 contained run, 2 classifier, 3 operator (hard stops, asks, denials). */
  tier: 0 | 1 | 2 | 3;
  step: Step;
  rule: string | null;
  reason: string;
  /** The classifier's suggestion when it answers retry. */
  hint?: string;
  capabilities: Capability[];
  /**
   * The call to carry out instead of the one asked for (an allow only): the same command with
   * settings that would run other programs disarmed. An adapter that cannot substitute it
   * must not allow the call (`CallContext.canRewrite`).
   */
  rewrite?: ToolCall;
}

export interface ClassifierQuestion {
  call: ToolCall;
  summary: string;
  analysis?: ShellAnalysis;
  instructions: string;
  /** Why the deterministic tiers did not decide. */
  why: string;
}

export type ClassifierAnswer =
  | { ok: true; decision: "allow" | "retry" | "ask"; reason: string; hint?: string }
  | { ok: false; error: string };

export type Classify = (question: ClassifierQuestion) => Promise<ClassifierAnswer>;

/** Deterministic tiers only: either a decision, or the question to put to the classifier. */
export type Deterministic = { done: GateDecision } | { ask: ClassifierQuestion };

function finish(d: GateDecision, ctx: CallContext): GateDecision {
  if (d.decision === "ask" && !ctx.canAsk) {
    return { ...d, decision: "deny", reason: `needs approval, and no one can be asked here: ${d.reason}` };
  }
  return d;
}

export function decideDeterministic(
  gate: CompiledGate,
  call: ToolCall,
  ctx: CallContext,
  analysis?: ShellAnalysis,
  facts?: CallFacts,
): Deterministic {
  const target: Target = {
    call,
    paths: { ...pathsOf(ctx), ...(facts?.real ? { real: facts.real } : {}) },
    inertEnv: gate.inertEnv,
    ...(analysis ? { analysis } : {}),
  };
  if (call.kind === "shell" && analysis?.parseError) {
    return {
      done: finish(
        {
          decision: "ask",
          tier: 3,
          step: "error",
          rule: null,
          reason: `cannot be analysed: ${analysis.parseError}`,
          capabilities: [],
        },
        ctx,
      ),
    };
  }
  // 1. Hard stops: the most severe hit wins (deny over ask; a certain hit over a possible one).
  let possible: GateDecision | undefined;
  let askHit: GateDecision | undefined;
  for (const stop of gate.hardStops) {
    const hit = hardStopMatches(stop, target);
    if (hit === "no") continue;
    const base = {
      tier: 3 as const,
      step: "hard_stop" as const,
      rule: stop.id,
      capabilities: stop.capabilities,
    };
    if (hit === "yes" && stop.decision === "deny") {
      return { done: finish({ ...base, decision: "deny", reason: stop.reason ?? "hard stop" }, ctx) };
    }
    if (hit === "yes") askHit ??= { ...base, decision: "ask", reason: stop.reason ?? "hard stop" };
    else
      possible ??= {
        ...base,
        decision: "ask",
        reason: `may be: ${stop.reason ?? "hard stop"} (depends on run-time values)`,
      };
  }
  const stopped = askHit ?? possible;
  if (stopped) return { done: finish(stopped, ctx) };
  // 2. Allowlist (git only rewritten with its exec-capable settings disarmed).
  let allowed = coverCall(gate.allow, target, "allow");
  let rewrite: ToolCall | undefined;
  if (allowed.covered && call.kind === "shell" && analysis) {
    const git = gitTier0(
      analysis,
      target.paths,
      baseDirs(target.paths, analysis),
      facts?.git,
      ctx.canRewrite === true || facts?.git === undefined,
    );
    if (!git.ok) allowed = { covered: false, reason: git.reason };
    else if (git.command !== undefined) rewrite = { kind: "shell", command: git.command };
  }
  if (allowed.covered) {
    const rules = gate.allow.filter((r) => allowed.rules.includes(r.id));
    return {
      done: {
        decision: "allow",
        tier: 0,
        step: "allowlist",
        rule: allowed.rules.join(",") || null,
        reason: rules.map((r) => r.reason).find(Boolean) ?? "matches the allowlist",
        capabilities: [...new Set(rules.flatMap((r) => r.capabilities))],
        ...(rewrite ? { rewrite } : {}),
      },
    };
  }
  // 3. Contained run (shell commands, where the adapter can run them contained).
  if (ctx.canContain && gate.contain.length > 0) {
    const contained = coverCall(gate.contain, target, "contain", gate.allow);
    if (contained.covered) {
      return {
        done: {
          decision: "contain",
          tier: 1,
          step: "contain",
          rule: contained.rules.join(","),
          reason: "runs in a sandbox with the workdir on an overlay; changes are committed by rule",
          capabilities: [],
        },
      };
    }
  }
  // 4. Classifier, if configured; otherwise 5. the default.
  if (!gate.classifier) return { done: defaultDecision(gate, ctx, allowed.reason) };
  return {
    ask: {
      call,
      summary: describeCall(call),
      ...(analysis ? { analysis } : {}),
      instructions: gate.instructions,
      why: allowed.reason,
    },
  };
}

function defaultDecision(gate: CompiledGate, ctx: CallContext, why: string): GateDecision {
  return finish(
    {
      decision: gate.default,
      tier: 3,
      step: "default",
      rule: null,
      reason: `no rule decides this call (${why})`,
      capabilities: [],
    },
    ctx,
  );
}

/** The classifier's answer (or failure) → the final decision. Every failure asks. */
export function afterClassifier(answer: ClassifierAnswer, ctx: CallContext): GateDecision {
  const base = { tier: 2 as const, step: "classifier" as const, rule: "classifier", capabilities: [] };
  if (!answer.ok) {
    return finish(
      { ...base, tier: 3, decision: "ask", reason: `classifier unavailable (${answer.error})` },
      ctx,
    );
  }
  if (answer.decision === "allow") return { ...base, decision: "allow", reason: answer.reason };
  if (answer.decision === "retry") {
    return {
      ...base,
      decision: "deny",
      reason: `retry differently: ${answer.reason}${answer.hint ? ` (hint: ${answer.hint})` : ""}`,
      ...(answer.hint ? { hint: answer.hint } : {}),
    };
  }
  return finish({ ...base, tier: 3, decision: "ask", reason: answer.reason }, ctx);
}

/** What the edge found out about a call before the pure cascade judges it. */
export interface CallFacts {
  /** Where each path the call names really leads (see `namedPathKeys`). */
  real?: ReadonlyMap<string, RealPath>;
  /** The git repository facts for each directory a git command runs in (see `gitDirs`). */
  git?: ReadonlyMap<string, GitRepoFacts>;
}

export interface DecideDeps {
  analyze: AnalyzeShell;
  classify?: Classify;
  /**
   * Gathers facts from the filesystem (the imperative edge, path-facts.ts); without it, paths
   * match as text, or as `CallContext.realPath` leads them.
   */
  facts?: (
    call: ToolCall,
    analysis: ShellAnalysis | undefined,
    ctx: CallContext,
    gate: CompiledGate,
  ) => CallFacts;
}

/** Path facts from a resolver standing in for the filesystem (`CallContext.realPath`). */
function resolverFacts(
  call: ToolCall,
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
): CallFacts | undefined {
  const resolve = ctx.realPath;
  if (!resolve) return undefined;
  const real = new Map<string, RealPath>();
  for (const key of namedPathKeys(call, analysis, pathsOf(ctx))) {
    const path = resolve(posix.resolve(key));
    real.set(key, { path, safe: !specialPathProblem(path) && !specialPathProblem(posix.resolve(key)) });
  }
  return { real };
}

/** The whole cascade for one call. Never throws: an internal error asks (or denies). */
export async function decide(
  gate: CompiledGate,
  call: ToolCall,
  ctx: CallContext,
  deps: DecideDeps,
): Promise<GateDecision> {
  try {
    const analysis = call.kind === "shell" ? deps.analyze(call.command) : undefined;
    const facts = deps.facts ? deps.facts(call, analysis, ctx, gate) : resolverFacts(call, analysis, ctx);
    const step = decideDeterministic(gate, call, ctx, analysis, facts);
    if ("done" in step) return step.done;
    if (!deps.classify) return afterClassifier({ ok: false, error: "no classifier client" }, ctx);
    let answer: ClassifierAnswer;
    try {
      answer = await deps.classify(step.ask);
    } catch (error) {
      answer = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    return afterClassifier(answer, ctx);
  } catch (error) {
    return finish(
      {
        decision: "ask",
        tier: 3,
        step: "error",
        rule: null,
        reason: `gate error: ${error instanceof Error ? error.message : String(error)}`,
        capabilities: [],
      },
      ctx,
    );
  }
}
