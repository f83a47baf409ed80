// Scenario files for the fake model servers: turn N of the conversation → what the model says.
// A turn is a tool call (`tool` + `input`), a freeform tool call (`custom_tool` + `input` text:
// Codex's apply_patch), or plain text. Past the last turn the model says `final` (default "done").
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";

const TurnSchema = z.union([
  z.strictObject({ tool: z.string().min(1), input: z.record(z.string(), z.unknown()) }),
  z.strictObject({ custom_tool: z.string().min(1), input: z.string() }),
  z.strictObject({ text: z.string() }),
]);

export const ScenarioSchema = z.strictObject({
  turns: z.array(TurnSchema),
  final: z.string().default("done"),
});

export type Turn = z.infer<typeof TurnSchema>;
export type Scenario = z.infer<typeof ScenarioSchema>;

export function parseScenario(value: unknown, where = "scenario"): Scenario {
  const parsed = ScenarioSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(
      `${where}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`,
    );
  return parsed.data;
}

/** A scenario file, JSON or YAML (YAML is a superset). */
export function loadScenario(file: string): Scenario {
  return parseScenario(parse(readFileSync(file, "utf8")), file);
}

/** The turn for a request that already holds `done` model turns; past the end: the final text. */
export function turnAt(scenario: Scenario, done: number): Turn {
  return scenario.turns[done] ?? { text: scenario.final };
}
