// Runs every benchmark under bench/ (or the ones named: `npm run bench -- proxy gate`), one after another.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
let failed = 0;
for (const name of benches) {
  process.stdout.write(`\n## bench/${name}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.ts`)], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`bench/${name} failed (exit ${r.status})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
