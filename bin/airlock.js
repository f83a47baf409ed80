#!/bin/sh
//bin/true; [ "$1" = run ] && [ -n "$NODE_EXTRA_CA_CERTS" ] && case "$AIRLOCK_GATEWAY" in [Hh][Tt][Tt][Pp][Ss]:*) ;; *) export AIRLOCK_HELD_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS ;; esac; exec node "$0" "$@"
// The `airlock` command. Runs the bundle in dist/ (made by `npm run build`, which `npm install`
// runs) when every source file it was built from is unchanged; otherwise it loads the TypeScript
// sources through tsx, so an edited tree never runs stale code. An installed package (npm pack
// ships `files` from package.json: the bundle, not the sources, and no tsx) always runs the bundle.
//
// The file is a shell script and a CommonJS module at once. The shell runs line 2 (`//bin/true`
// is /bin/true) and starts node on this file, for which line 2 is a comment. The shell is here
// for one reason: NODE_EXTRA_CA_CERTS makes node parse its whole root store before any code
// runs, 40 to 70 ms even for one extra certificate, and `airlock run` is the command whose start
// users wait for. Its TLS clients do not need the default store: the proxy builds its upstream
// trust from the file itself (src/proxy/upstream.ts), and its only fetch, to the gateway, is
// plain HTTP unless AIRLOCK_GATEWAY says https (then nothing is deferred). The variable is
// restored below, so every process the CLI starts sees the environment it was given.
//
// CommonJS (bin/package.json says so) because an ES module as the entry point has node set up
// its ESM loader first, 5 to 7 ms of every start, and the bundle needs none of it.
"use strict";
const { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const vm = require("node:vm");

const ROOT = join(__dirname, "..");
const BUNDLE = join(ROOT, "dist", "main.cjs");
const CODE_CACHE = `${BUNDLE}.cache`;

function bundleIsCurrent() {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(join(ROOT, "dist", "build.json"), "utf8"));
    statSync(BUNDLE); // a build record without its bundle runs the sources too
    // An installed package ships the bundle without its TypeScript sources (package.json's
    // `files`): there is nothing it could be stale against, and nothing else to run.
    if (!existsSync(join(ROOT, "src", "cli", "main.ts"))) return true;
    return inputs.every((file) => statSync(join(ROOT, file)).mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

/**
 * Node 20 keeps no compiled code between runs, and compiling the 2 MB bundle was a third of a
 * short command's time. So the bundle runs as a vm.Script with V8's code cache, kept next to it.
 * V8 rejects a cache made by another V8 or with other flags, but compares only the length of the
 * source: the cache is stamped with the bundle's size and mtime and used only for that very file.
 * A missing or rejected cache is made again at once, before a command can change V8's flags
 * (the gate's one-shot tuning does), which would make the next run reject it. `airlock run`
 * replaces a cache it did not make with one made as it exits, which also holds the code it
 * loaded on the way (the CA library, the proxy): that start is the wait users feel most, and it
 * never changes V8's flags. A folder we cannot write to just goes without a cache.
 */
function loadBundle() {
  const source = readFileSync(BUNDLE, "utf8");
  const { size, mtimeMs } = statSync(BUNDLE);
  const stamp = `${size} ${mtimeMs}`;
  const isRun = process.argv[2] === "run";
  let cachedData;
  let madeByRun = false;
  try {
    const cache = readFileSync(CODE_CACHE);
    const header = cache.subarray(0, cache.indexOf(10)).toString();
    if (header === stamp || header === `${stamp} run`) {
      cachedData = cache.subarray(header.length + 1);
      madeByRun = header.endsWith(" run");
    }
  } catch {}
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {\n${source}\n})`,
    {
      filename: BUNDLE,
      lineOffset: -1,
      cachedData,
      importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    },
  );
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  if (cachedData === undefined || script.cachedDataRejected) saveCodeCache(stamp, script.createCachedData());
  if (isRun && (!madeByRun || script.cachedDataRejected))
    process.once("exit", () => saveCodeCache(`${stamp} run`, script.createCachedData()));
  return module.exports;
}

function saveCodeCache(header, data) {
  const temporary = `${CODE_CACHE}.${process.pid}`;
  try {
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${header}\n`), data]));
    renameSync(temporary, CODE_CACHE);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {}
  }
}

// What the shell line held back comes back (the scheme of src/sandbox/bwrap.ts, HELD_PREFIX).
const HELD = "AIRLOCK_HELD_NODE_EXTRA_CA_CERTS";
if (process.env[HELD] !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env[HELD];
  delete process.env[HELD];
}

async function loadSources() {
  if (!existsSync(join(ROOT, "src", "cli", "main.ts")))
    throw new Error(
      `${BUNDLE} is missing or unreadable, and this package has no sources to run instead: reinstall airlock`,
    );
  const { register } = await import("tsx/esm/api");
  register();
  return import("../src/cli/main.ts");
}

// As an ES module's top-level await would: a command whose work can never finish (the event
// loop emptied under it) exits 13, never 0.
let settled = false;
process.once("exit", () => {
  if (!settled) process.exitCode ??= 13;
});
(async () => {
  const cli =
    process.env.AIRLOCK_FROM_SOURCE !== "1" && bundleIsCurrent() ? loadBundle() : await loadSources();
  cli.exitQuietlyOnBrokenPipe();
  await cli.main(process.argv);
})().then(
  () => {
    settled = true;
  },
  (error) => {
    settled = true;
    throw error;
  },
);
