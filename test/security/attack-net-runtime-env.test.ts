// Borrowing a listed binary's identity through its runtime's own environment variables, from
// inside a real `airlock run`. Claude Code's native executable is compiled by Bun: under
// BUN_BE_BUN=1 it runs as the bun CLI (`-e CODE` included), and BUN_OPTIONS hands it bun's
// flags (`--preload FILE`); an Electron app runs as node under ELECTRON_RUN_AS_NODE. A node
// program takes `--require`, `--import` and the inspector from NODE_OPTIONS; glibc's iconv,
// OpenSSL, the JVM, Python, Perl, Ruby and .NET each take code from variables of their own
// (one per family here: the table in loaded-code.ts holds them all). Any process could
// then send with the listed binary's rule. Each variable is set
// on a listed binary (curl stands in for the Bun executable: the variable is what counts); the
// recording upstream shows what got through, and the 403 names the variable.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { type RecordingUpstream, recordingUpstream, recPolicy, runIn } from "./identity-helpers.ts";

const FETCH = (marker: string) =>
  `/usr/bin/node -e 'fetch("http://rec.test/${marker}").then(async (r) => console.log("${marker}", r.status, await r.text()), (e) => console.log("${marker}", "error", e.cause?.code ?? e.message))'`;

const SCRIPT = [
  'echo "curl-control $(/usr/bin/curl -s http://rec.test/curl-control)"',
  'echo "bun-be-bun $(BUN_BE_BUN=1 /usr/bin/curl -s http://rec.test/bun-be-bun-marker)"',
  'echo "bun-options $(BUN_OPTIONS="--preload ./evil.ts" /usr/bin/curl -s http://rec.test/bun-options-marker)"',
  'echo "electron $(ELECTRON_RUN_AS_NODE=1 /usr/bin/curl -s http://rec.test/electron-marker)"',
  // One variable of each further family, on the same listed binary.
  ...[
    "GCONV_PATH=./gconv",
    "OPENSSL_CONF=./engine.cnf",
    "JAVA_TOOL_OPTIONS=-javaagent:./a.jar",
    "PYTHONPATH=.",
    "PERL5OPT=-Mevil",
    "RUBYOPT=-revil",
    "CORECLR_PROFILER_PATH=./p.so",
  ].map((set) => {
    const name = set.slice(0, set.indexOf("="));
    return `echo "family-${name} $(${set} /usr/bin/curl -s http://rec.test/family-${name}-marker)"`;
  }),
  'echo "warnings-control $(PYTHONWARNINGS=ignore /usr/bin/curl -s http://rec.test/warnings-control)"',
  FETCH("node-control"),
  `NODE_OPTIONS="$NODE_OPTIONS --max-old-space-size=256" ${FETCH("node-memory")}`,
  `NODE_OPTIONS="$NODE_OPTIONS --require ./evil.cjs" ${FETCH("node-require-marker")}`,
  `NODE_OPTIONS="$NODE_OPTIONS --import ./evil.mjs" ${FETCH("node-import-marker")}`,
  `NODE_OPTIONS="$NODE_OPTIONS --inspect=127.0.0.1:0" ${FETCH("node-inspect-marker")}`,
].join("; ");

describe("identity of a binary its runtime's variables turn into another program", () => {
  let dir: string;
  let upstream: RecordingUpstream;
  let stdout = "";
  let stderr = "";
  let code: number | null = null;
  let received = "";
  const line = (prefix: string) => stdout.split("\n").find((l) => l.startsWith(`${prefix} `)) ?? "";
  before(async () => {
    dir = scratchDir("sec-runtime-env");
    upstream = await recordingUpstream();
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "evil.cjs"), "globalThis.evil = 1;\n");
    writeFileSync(join(wd, "evil.mjs"), "globalThis.evil = 1;\n");
    writeFileSync(join(wd, "evil.ts"), "export {};\n");
    const policy = recPolicy(dir, "[{ path: /usr/bin/curl }, { path: /usr/bin/node }]");
    const run = await runIn(upstream, policy, wd, join(dir, "home"), SCRIPT);
    ({ stdout, stderr, code } = run);
    received = upstream.received();
  });
  after(async () => {
    await upstream?.close();
    removeDir(dir);
  });

  test("controls: curl, node with Airlock's preload, and node with a memory limit are let through", () => {
    assert.equal(code, 0, stderr);
    assert.match(line("curl-control"), /recorded/);
    assert.match(line("node-control"), /^node-control 200 recorded/);
    assert.match(line("node-memory"), /^node-memory 200 recorded/);
  });

  test("BUN_BE_BUN, BUN_OPTIONS and ELECTRON_RUN_AS_NODE void the identity, and the reason names them", () => {
    assert.match(line("bun-be-bun"), /was started with BUN_BE_BUN set/);
    assert.match(line("bun-options"), /was started with BUN_OPTIONS set/);
    assert.match(line("electron"), /was started with ELECTRON_RUN_AS_NODE set/);
  });

  test("every runtime family's variable voids the identity, and the reason names it", () => {
    for (const name of [
      "GCONV_PATH",
      "OPENSSL_CONF",
      "JAVA_TOOL_OPTIONS",
      "PYTHONPATH",
      "PERL5OPT",
      "RUBYOPT",
      "CORECLR_PROFILER_PATH",
    ])
      assert.match(line(`family-${name}`), new RegExp(`was started with ${name} set`), name);
    assert.match(line("warnings-control"), /recorded/, "a variable naming no code leaves the identity");
  });

  test("NODE_OPTIONS loading other code, or opening the inspector, voids the identity", () => {
    assert.match(line("node-require-marker"), /403 .*NODE_OPTIONS \(--require loads code other than/);
    assert.match(line("node-import-marker"), /403 .*NODE_OPTIONS \(--import loads code other than/);
    assert.match(line("node-inspect-marker"), /403 .*NODE_OPTIONS \(--inspect opens the inspector\)/);
  });

  test("the upstream received the controls only", () => {
    for (const marker of ["curl-control", "warnings-control", "node-control", "node-memory"])
      assert.ok(received.includes(marker));
    assert.doesNotMatch(received, /-marker/);
  });
});
