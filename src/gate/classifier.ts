// Tier 2: a model behind an OpenAI-compatible /v1/chat/completions endpoint.
// Any failure (down, slow, garbage, breaker open) is an answer of {ok: false}: the cascade asks.
import { z } from "zod";
import type { ClassifierAnswer, ClassifierQuestion, Classify } from "./cascade.ts";
import type { ClassifierConfig } from "./schema.ts";

const AnswerSchema = z.object({
  decision: z.enum(["allow", "retry", "ask"]),
  reason: z.string().min(1).max(2000),
  hint: z.string().max(2000).optional(),
});

export interface BreakerState {
  failures: number;
  openUntil: number;
}

/** Where the breaker keeps its state: in memory, or a file for one-process-per-call hooks. */
export interface BreakerStore {
  load(): BreakerState;
  save(state: BreakerState): void;
}

export function memoryBreaker(): BreakerStore {
  let state: BreakerState = { failures: 0, openUntil: 0 };
  return { load: () => state, save: (s) => (state = s) };
}

const SYSTEM_PROMPT = `You are the soft classifier of Airlock's tool-call gate. A coding agent wants to make the
tool call below. Deterministic rules have already refused to allow it outright and found no hard stop.
Judge whether it is a safe, reversible, in-scope action for this project, following the project
instructions. Answer with ONE JSON object and nothing else:
{"decision": "allow" | "retry" | "ask", "reason": "<one sentence>", "hint": "<optional: how to do it safely>"}
- allow: clearly safe and in scope.
- retry: the goal is fine but this way is not; give a hint for a safer call.
- ask: anything else, or when unsure. A person will decide.`;

export function buildMessages(q: ClassifierQuestion): Array<{ role: string; content: string }> {
  const call: Record<string, unknown> = { call: q.call, why_not_decided: q.why };
  if (q.analysis) {
    call["commands"] = q.analysis.commands.map((c) => c.text);
    call["unknowns"] = q.analysis.unknowns;
  }
  const system = q.instructions
    ? `${SYSTEM_PROMPT}\n\nProject instructions:\n${q.instructions}`
    : SYSTEM_PROMPT;
  return [
    { role: "system", content: system },
    { role: "user", content: JSON.stringify(call) },
  ];
}

/** Extracts the JSON answer from a chat-completions body; null when malformed. */
export function parseAnswer(body: unknown): z.infer<typeof AnswerSchema> | null {
  const content = (body as { choices?: Array<{ message?: { content?: unknown } }> })?.choices?.[0]?.message
    ?.content;
  if (typeof content !== "string") return null;
  const text = content
    .trim()
    .replace(/^```(?:json)?\s*/i, "")
    .replace(/```$/, "")
    .trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = AnswerSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

export function completionsUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, "");
  return base.endsWith("/chat/completions") ? base : `${base}/chat/completions`;
}

export interface ClassifierOptions {
  breaker?: BreakerStore;
  now?: () => number;
  env?: Record<string, string | undefined>;
}

export function createClassifier(config: ClassifierConfig, options: ClassifierOptions = {}): Classify {
  const breaker = options.breaker ?? memoryBreaker();
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const url = completionsUrl(config.endpoint);

  const record = (ok: boolean): void => {
    const state = breaker.load();
    if (ok) breaker.save({ failures: 0, openUntil: 0 });
    else {
      const failures = state.failures + 1;
      breaker.save({
        failures,
        openUntil: failures >= config.failure_threshold ? now() + config.cooldown_ms : state.openUntil,
      });
    }
  };

  return async (question): Promise<ClassifierAnswer> => {
    const state = breaker.load();
    if (state.failures >= config.failure_threshold && now() < state.openUntil) {
      return { ok: false, error: `circuit open after ${state.failures} failures` };
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    const key = config.api_key_env ? env[config.api_key_env] : undefined;
    if (key) headers["authorization"] = `Bearer ${key}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.timeout_ms);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers,
        signal: controller.signal,
        body: JSON.stringify({
          model: config.model,
          messages: buildMessages(question),
          temperature: 0,
          response_format: { type: "json_object" },
        }),
      });
      if (!response.ok) {
        record(false);
        return { ok: false, error: `classifier answered HTTP ${response.status}` };
      }
      const answer = parseAnswer(await response.json().catch(() => null));
      if (!answer) {
        record(false);
        return { ok: false, error: "malformed classifier answer" };
      }
      record(true);
      return { ok: true, ...answer };
    } catch (error) {
      record(false);
      const message = controller.signal.aborted
        ? `no answer within ${config.timeout_ms} ms`
        : `classifier unreachable (${(error as Error).cause ?? (error as Error).message})`;
      return { ok: false, error: message };
    } finally {
      clearTimeout(timer);
    }
  };
}
