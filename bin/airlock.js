#!/usr/bin/env node
// The `airlock` command. Runs the bundle in dist/ (made by `npm run build`, which `npm install`
// runs) when every source file it was built from is unchanged; otherwise it loads the TypeScript
// sources through tsx, so an edited tree never runs stale code.
import { readFileSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

function bundleIsCurrent() {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(new URL("dist/build.json", root), "utf8"));
    return inputs.every((file) => statSync(new URL(file, root)).mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

let cli;
if (process.env.AIRLOCK_FROM_SOURCE !== "1" && bundleIsCurrent()) {
  cli = await import("../dist/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../src/cli/main.ts");
}
cli.exitQuietlyOnBrokenPipe();
await cli.main(process.argv);
