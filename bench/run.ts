// `npm run bench`: runs every bench/<name>.ts (this file excepted) one after another, each in
// its own process so they cannot disturb each other; extra arguments (e.g. --quick) pass through.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, "")))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n== bench/${file}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, file), ...flags], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${file} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
