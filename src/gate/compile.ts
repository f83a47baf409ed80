// A validated gate config → compiled rules, once per policy generation.
import type { ToolCall } from "./call.ts";
import { type CompiledRule, compileRule } from "./match.ts";
import type { ClassifierConfig, ContainConfig, ExampleCall, GateConfig } from "./schema.ts";
import { DEFAULT_INERT_ENV } from "./shell/grammar.ts";

export interface CompiledHardStop extends CompiledRule {
  decision: "deny" | "ask";
}

export interface CompiledGate {
  config: GateConfig;
  hardStops: CompiledHardStop[];
  allow: CompiledRule[];
  contain: CompiledRule[];
  containConfig: ContainConfig | undefined;
  classifier: ClassifierConfig | undefined;
  /** Text of the classifier's instruction files, read by the shell that loaded the file. */
  instructions: string;
  default: "ask" | "deny";
  /** Variables a `NAME=literal` command prefix may set at tier 0. */
  inertEnv: ReadonlySet<string>;
}

export function compileGate(config: GateConfig, instructions = ""): CompiledGate {
  return {
    config,
    hardStops: config.hard_stops.map((r, i) => ({
      ...compileRule(r, r.id ?? `hard_stops[${i}]`),
      decision: r.decision,
    })),
    allow: config.allow.map((r, i) => compileRule(r, r.id ?? `allow[${i}]`)),
    contain: (config.contain?.rules ?? []).map((r, i) => compileRule(r, r.id ?? `contain.rules[${i}]`)),
    containConfig: config.contain,
    classifier: config.classifier,
    instructions,
    default: config.default,
    inertEnv: new Set([...DEFAULT_INERT_ENV, ...config.inert_env]),
  };
}

/** An inline example as a call; bare strings take the kind of the rule they illustrate. */
export function exampleToCall(example: ExampleCall, ruleKind: CompiledRule["kind"]): ToolCall {
  if (typeof example === "string") {
    switch (ruleKind) {
      case "shell":
        return { kind: "shell", command: example };
      case "fetch": {
        const m = /^([A-Za-z]+)\s+(\S+)$/.exec(example.trim());
        return m
          ? { kind: "fetch", method: m[1] as string, url: m[2] as string }
          : { kind: "fetch", method: "GET", url: example.trim() };
      }
      case "file":
        return { kind: "file_write", path: example };
      case "mcp": {
        const [server = "", tool = ""] = example.split("/", 2);
        return { kind: "mcp", server, tool, arguments: {} };
      }
      case "tool":
        return { kind: "tool", name: example, input: {} };
    }
  }
  if ("shell" in example) return { kind: "shell", command: example.shell };
  if ("mcp" in example) return { kind: "mcp", ...example.mcp };
  if ("fetch" in example) return exampleToCall(example.fetch, "fetch");
  if ("file_read" in example) return { kind: "file_read", path: example.file_read };
  if ("file_write" in example) return { kind: "file_write", path: example.file_write };
  return { kind: "tool", name: example.tool, input: {} };
}
