import { loadShellAnalyzer } from "/work/wt/gate-shell/src/gate/shell/parser.ts";
const a = await loadShellAnalyzer();
for (const l of process.argv.slice(2)) console.log(JSON.stringify(l), a(l).unknowns, a(l).parseError ?? "");
