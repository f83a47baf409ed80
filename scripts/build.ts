// `npm run build` (run by `npm install` as `prepare`, and before `npm test`): bundles the CLI into
// dist/ so `airlock` starts without compiling TypeScript. Dependencies stay external (node_modules);
// dynamic imports become their own chunks, so a command still loads only what it uses.
// dist/build.json lists the source files the bundle was made from; bin/airlock.js falls back to
// the sources whenever one of them is newer than the bundle, so an edit is never run stale.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

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
  packages: "external",
  outdir,
  // Chunks must sit directly in dist/: src/package-root.ts finds the package one level up.
  chunkNames: "chunk-[hash]",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
const inputs = Object.keys(result.metafile.inputs)
  .map((file) => relative(root, join(root, file)))
  .sort();
writeFileSync(join(outdir, "build.json"), `${JSON.stringify({ builtAt, inputs }, null, 2)}\n`);
process.stdout.write(`airlock: built dist/ from ${inputs.length} source files\n`);
