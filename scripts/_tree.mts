import { createRequire } from "node:module";
import { Language, Parser } from "web-tree-sitter";
const require = createRequire(import.meta.url);
await Parser.init();
const lang = await Language.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
const p = new Parser(); p.setLanguage(lang);
for (const line of process.argv.slice(2)) {
  const t = p.parse(line)!;
  console.log(line, "=>", t.rootNode.toString());
}
const t2 = p.parse("ls é; git  status")!;
for (const c of t2.rootNode.namedChildren) console.log(c!.type, c!.startIndex, c!.endIndex, JSON.stringify(c!.text));
