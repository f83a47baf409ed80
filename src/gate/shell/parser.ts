// Loads tree-sitter-bash (offline WASM) once per process.
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { Language, Parser } from "web-tree-sitter";
import { analyzeShell } from "./analyze.ts";
import type { ShellAnalysis } from "./types.ts";

export type AnalyzeShell = (source: string) => ShellAnalysis;

let loading: Promise<AnalyzeShell> | undefined;

/**
 * For a process that decides a call or two and exits (hooks, `gate check`): V8 would otherwise
 * tier the parser's WASM up to optimised code in the background and hold the exit about half a
 * second to finish it. Baseline code is ample for a few parses. Call before the first load.
 */
export function tuneForOneShot(): void {
  setFlagsFromString("--liftoff-only");
}

export function loadShellAnalyzer(): Promise<AnalyzeShell> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const parser = new Parser();
    parser.setLanguage(language);
    return (source: string) => analyzeShell((text) => parser.parse(text), source);
  })();
  return loading;
}
