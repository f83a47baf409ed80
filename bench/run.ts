// `npm run bench`: runs every bench/<name>.ts (except this file) one after another, each alone.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, "")))
  .sort();
let failed = 0;
for (const file of benches) {
  process.stdout.write(`\n== bench/${file}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", `${dir}${file}`], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
