import { loadShellAnalyzer } from "./src/gate/shell/parser.ts";
const a = await loadShellAnalyzer();
for (const s of process.argv.slice(2)) { const r = a(s); console.log(s, "=>", JSON.stringify({cmds: r.commands.map(c => [c.via.join(">"), c.name.value+(c.name.dynamic?"?":""), ...c.args.map(w=>w.value+(w.dynamic?"?":"")), c.transparent?"T":""]), redir: r.redirects.map(x=>x.op+":"+x.path.value), unk: r.unknowns, err: r.parseError})); }
