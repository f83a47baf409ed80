import { loadShellAnalyzer } from "../src/gate/shell/parser.ts";
import { loadGateFile } from "../src/gate/file.ts";
import { decide } from "../src/gate/cascade.ts";
import { gatherFacts } from "../src/gate/path-facts.ts";
import { CORPUS } from "../test/gate/oracle-lines.ts";
const a = await loadShellAnalyzer();
const l = loadGateFile("examples/policies/gate.yaml", a); if (!l.ok) throw 1;
const ctx = { cwd: "/tmp/gs/proj", workdir: "/tmp/gs/proj", home: "/root", canAsk: true, canContain: false, canRewrite: true };
for (const line of CORPUS) { const d = await decide(l.gate, {kind:"shell", command: line}, ctx, {analyze: a, facts: gatherFacts}); console.log(d.tier === 0 ? "T0 " : "   ", JSON.stringify(line), d.tier === 0 ? "" : d.reason.slice(0,90)); }
