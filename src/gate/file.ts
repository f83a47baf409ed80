// Reads a gate file and its classifier instruction files (the imperative edge of load.ts).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type GateLoaded, type InstructionReader, loadGateText } from "./load.ts";
import type { AnalyzeShell } from "./shell/parser.ts";

export function loadGateFile(file: string, analyze: AnalyzeShell): GateLoaded {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const message = `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
    return { ok: false, errors: [{ file, line: 1, col: 1, path: "", message }] };
  }
  return loadGateText(text, file, analyze, instructionFiles(file));
}

/** Instruction files are named relative to the gate file; their text is joined under headings. */
function instructionFiles(file: string): InstructionReader {
  return (names) => {
    let text = "";
    for (const name of names) {
      const path = resolve(dirname(file), name);
      try {
        text += `\n## ${name}\n${readFileSync(path, "utf8")}`;
      } catch (error) {
        const message = `cannot read instruction file ${path}: ${(error as NodeJS.ErrnoException).code}`;
        return { problem: { file, line: 1, col: 1, path: "gate.classifier.instructions", message } };
      }
    }
    return { text: text.trim() };
  };
}
