// `npm run build` (run by `npm install` as `prepare`, and before `npm test`): bundles the CLI into
// one CommonJS file, dist/main.cjs, so `airlock` starts without compiling TypeScript. Pure-JS
// dependencies are bundled too; a dynamically imported module is still evaluated only when a
// command imports it. CommonJS rather than ES modules because Node 20 can keep V8's compiled code
// between runs only for a script (bin/airlock.js loads the bundle with a code cache, which the
// build writes by running the bundle once).
// dist/build.json lists the source files the bundle was made from; bin/airlock.js falls back to
// the sources whenever one of them is newer than the bundle, so an edit is never run stale.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** Native addons, packages that load their own .wasm or optional peers, and dev-only tools. */
const UNBUNDLED = [
  "better-sqlite3",
  "pg",
  "web-tree-sitter",
  "tree-sitter-bash",
  "playwright-core",
  "esbuild",
  "tsx",
];

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist");
const builtAt = Date.now();

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: "src/cli/main.ts" },
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // Dependencies are bundled too (one file to read instead of hundreds: @peculiar/x509 alone is
  // 214 modules), except those that locate files next to themselves or are native.
  external: UNBUNDLED,
  mainFields: ["module", "main"],
  // Fully minified: a smaller file to read and a smaller code cache to load at every start.
  // Stack traces come out mangled; AIRLOCK_FROM_SOURCE=1 runs the sources for debugging, and
  // dist/main.cjs.map maps the bundle back to them.
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  // Our sources locate files from import.meta.url; in the bundle that is dist/main.cjs, one level
  // below the package root as src/ is (src/package-root.ts).
  define: { "import.meta.url": "__airlockBundleUrl" },
  banner: { js: 'const __airlockBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  outfile: join(outdir, "main.cjs"),
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
// Only our own sources are checked for freshness; dependencies change only through npm install,
// which rebuilds.
const inputs = Object.keys(result.metafile.inputs)
  .filter((file) => !file.includes("node_modules/"))
  .map((file) => relative(root, join(root, file)))
  .sort();
writeFileSync(join(outdir, "build.json"), `${JSON.stringify({ builtAt, inputs }, null, 2)}\n`);
// One run writes the code cache (dist/main.cjs.cache) while the package folder is writable.
const warm = spawnSync(process.execPath, [join(root, "bin", "airlock.js"), "--version"], {
  encoding: "utf8",
  env: { ...process.env, AIRLOCK_FROM_SOURCE: "" },
});
if (warm.status !== 0) {
  process.stderr.write(`airlock: the built bundle does not run:\n${warm.stderr}`);
  process.exit(1);
}
process.stdout.write(`airlock: built dist/ from ${inputs.length} source files\n`);
