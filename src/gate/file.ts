// Reads a gate file and its classifier instruction files (the imperative edge of load.ts).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";
import type { Problem } from "../policy/load.ts";
import { type GateLoaded, loadGateText } from "./load.ts";
import { GateDocumentSchema } from "./schema.ts";
import type { AnalyzeShell } from "./shell/parser.ts";

function fail(file: string, message: string, path = ""): GateLoaded {
  const problem: Problem = { file, line: 1, col: 1, path, message };
  return { ok: false, errors: [problem] };
}

export function loadGateFile(file: string, analyze: AnalyzeShell): GateLoaded {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return fail(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  // Instruction files are read first so the compiled gate carries their text.
  let instructions = "";
  try {
    const raw = GateDocumentSchema.safeParse(parse(text));
    for (const name of raw.success ? (raw.data.gate.classifier?.instructions ?? []) : []) {
      const path = resolve(dirname(file), name);
      try {
        instructions += `\n## ${name}\n${readFileSync(path, "utf8")}`;
      } catch (error) {
        return fail(
          file,
          `cannot read instruction file ${path}: ${(error as NodeJS.ErrnoException).code}`,
          "gate.classifier.instructions",
        );
      }
    }
  } catch {
    // Syntax errors are reported, with positions, by loadGateText.
  }
  return loadGateText(text, file, analyze, instructions.trim());
}
