// `npm run build` (run by `npm install` as `prepare`, and before `npm test`): bundles the CLI into
// dist/ so `airlock` starts without compiling TypeScript. Pure-JS dependencies are bundled too;
// dynamic imports become their own chunks, so a command still loads only what it uses.
// dist/build.json lists the source files the bundle was made from; bin/airlock.js falls back to
// the sources whenever one of them is newer than the bundle, so an edit is never run stale.
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
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Dependencies are bundled too (one file to read instead of hundreds: @peculiar/x509 alone is
  // 214 modules), except those that locate files next to themselves or are native.
  external: UNBUNDLED,
  mainFields: ["module", "main"],
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
  banner: {
    js: 'import { createRequire as __airlockRequire } from "node:module"; const require = __airlockRequire(import.meta.url);',
  },
  outdir,
  // Chunks must sit directly in dist/: src/package-root.ts finds the package one level up.
  chunkNames: "chunk-[hash]",
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
process.stdout.write(`airlock: built dist/ from ${inputs.length} source files\n`);
