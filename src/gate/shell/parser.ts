// Loads tree-sitter-bash (offline WASM) once per process.
import { createRequire } from "node:module";
import { Language, Parser } from "web-tree-sitter";
import { analyzeShell } from "./analyze.ts";
import type { ShellAnalysis } from "./types.ts";

export type AnalyzeShell = (source: string) => ShellAnalysis;

let loading: Promise<AnalyzeShell> | undefined;

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
