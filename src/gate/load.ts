// Gate YAML → compiled gate, with file:line:col errors and inline examples checked at load.
import { checkYaml, loadPolicySource, type Problem, readYaml } from "../policy/load.ts";
import type { ToolCall } from "./call.ts";
import { type CompiledGate, compileGate, exampleToCall } from "./compile.ts";
import { type CompiledRule, coverCall, hardStopMatches } from "./match.ts";
import type { Paths } from "./paths.ts";
import { GateDocumentSchema } from "./schema.ts";
import type { AnalyzeShell } from "./shell/parser.ts";

export type GateLoaded =
  | { ok: true; gate: CompiledGate; warnings: Problem[] }
  | { ok: false; errors: Problem[] };

/** Paths examples are judged with: a fixed, fictional layout so results do not depend on the machine. */
export const EXAMPLE_PATHS: Paths = { cwd: "/work/project", workdir: "/work/project", home: "/home/user" };

function ruleMatches(
  section: "hard_stops" | "allow" | "contain",
  rule: CompiledRule,
  call: ToolCall,
  analyze: AnalyzeShell,
): boolean {
  const target = {
    call,
    paths: EXAMPLE_PATHS,
    ...(call.kind === "shell" ? { analysis: analyze(call.command) } : {}),
  };
  if (section === "hard_stops") return hardStopMatches(rule, target) !== "no";
  return coverCall([rule], target, section).covered;
}

/** Reads the classifier's instruction files by name: their text, or the problem to report. */
export type InstructionReader = (names: string[]) => { text: string } | { problem: Problem };

/**
 * Loads a gate from YAML text: a policy file with a `gate:` key, or a file of its own
 * holding only `gate:`. The text is parsed once. Pure apart from the shell analyzer and the
 * instruction reader it is given.
 */
export function loadGateText(
  text: string,
  file: string,
  analyze: AnalyzeShell,
  readInstructions: InstructionReader = () => ({ text: "" }),
): GateLoaded {
  const read = readYaml(text, file);
  if (!read.ok) return { ok: false, errors: read.errors };
  const parsed = checkYaml(GateDocumentSchema, read.source);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  const warnings: Problem[] = [];
  const errors: Problem[] = [];
  // A full policy file is validated as a policy too, so one file never half-loads.
  if ("version" in parsed.value) {
    const policy = loadPolicySource(read.source);
    if (!policy.ok) return { ok: false, errors: policy.errors };
    warnings.push(...policy.warnings);
  }
  const instructions = readInstructions(parsed.value.gate.classifier?.instructions ?? []);
  if ("problem" in instructions) return { ok: false, errors: [instructions.problem] };
  const gate = compileGate(parsed.value.gate, instructions.text);
  const located = parsed.located;
  const at = (path: Array<string | number>): { line: number; col: number } => {
    const node = located?.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    return offset === undefined || !located ? { line: 1, col: 1 } : located.lines.linePos(offset);
  };
  const sections = [
    ["hard_stops", gate.config.hard_stops, gate.hardStops, ["gate", "hard_stops"]],
    ["allow", gate.config.allow, gate.allow, ["gate", "allow"]],
    ["contain", gate.config.contain?.rules ?? [], gate.contain, ["gate", "contain", "rules"]],
  ] as const;
  for (const [section, raw, compiled, base] of sections) {
    for (const [i, rule] of raw.entries()) {
      const c = compiled[i] as CompiledRule;
      for (const [field, expected] of [
        ["match", true],
        ["not_match", false],
      ] as const) {
        for (const [j, example] of rule[field].entries()) {
          const call = exampleToCall(example, c.kind);
          if (ruleMatches(section, c, call, analyze) === expected) continue;
          const path = [...base, i, field, j];
          errors.push({
            file,
            ...at(path),
            path: path.map((p, k) => (typeof p === "number" ? `[${p}]` : k === 0 ? p : `.${p}`)).join(""),
            message: `rule "${c.id}" ${expected ? "does not match" : "matches"} this example (${describe(call)})`,
          });
        }
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, gate, warnings };
}

function describe(call: ToolCall): string {
  return JSON.stringify(call.kind === "shell" ? call.command : call);
}
