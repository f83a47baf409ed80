import { readFileSync } from "node:fs";
import { loadShellAnalyzer } from "./src/gate/shell/parser.ts";
import { loadGateText } from "./src/gate/load.ts";
import { formatProblem } from "./src/policy/load.ts";
import { decide } from "./src/gate/cascade.ts";
const a = await loadShellAnalyzer();
const r = loadGateText(readFileSync(process.argv[2]!, "utf8"), process.argv[2]!, a);
if (!r.ok) { console.log(r.errors.map(formatProblem).join("\n")); process.exit(1); }
const ctx = { cwd: "/work/project", workdir: "/work/project", home: "/home/user", canAsk: true, canContain: true };
for (const s of process.argv.slice(3)) console.log(s, "=>", JSON.stringify(await decide(r.gate, { kind: "shell", command: s }, ctx, { analyze: a })));
