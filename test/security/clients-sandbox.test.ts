// What the sandbox adds for its clients cannot be turned against it: the node preload, the undici
// it loads and Codex's managed config are read-only inside (a program cannot rewrite what every
// later node process or Codex loads), and the CA bundle carries certificates only, never the
// sandbox CA's key. Real bubblewrap, real writes attempted; the host files are checked after.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { NODE_PROXY_SOURCE } from "../../src/sandbox/sandbox.ts";
import { runSandboxed } from "../sandbox/helpers.ts";

test("the preload, undici and /etc/codex are read-only inside; the bundle holds no key", async () => {
  const before = readFileSync(NODE_PROXY_SOURCE, "utf8");
  const script = [
    "for f in /etc/airlock/node-proxy.cjs /etc/airlock/node/undici/index.js /etc/codex/managed_config.toml /etc/airlock/ca-bundle.pem; do",
    '  if (echo "globalThis.pwned = 1" >> "$f") 2>/dev/null; then echo "$f:WRITABLE"; else echo "$f:refused"; fi',
    "done",
    "if (mkdir /etc/codex/x) 2>/dev/null; then echo mkdir:WRITABLE; else echo mkdir:refused; fi",
    "grep -c 'PRIVATE KEY' /etc/airlock/ca-bundle.pem || true",
    "grep -c 'BEGIN CERTIFICATE' /etc/airlock/ca-bundle.pem",
    'node -e "console.log(\\"pwned:\\" + String(globalThis.pwned))"',
    "grep -c danger-full-access /etc/codex/managed_config.toml",
  ].join("\n");
  const run = await runSandboxed(["/bin/sh", "-c", script]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  for (const f of [
    "/etc/airlock/node-proxy.cjs",
    "/etc/airlock/node/undici/index.js",
    "/etc/codex/managed_config.toml",
    "/etc/airlock/ca-bundle.pem",
  ])
    assert.ok(lines.includes(`${f}:refused`), `${f}: ${run.stdout}`);
  assert.ok(lines.includes("mkdir:refused"));
  assert.equal(lines[5], "0", "no private key in the bundle");
  assert.ok(Number(lines[6]) > 1, "certificates: the system's and the sandbox's");
  assert.ok(lines.includes("pwned:undefined"), "node loads the preload unchanged");
  assert.equal(lines[8], "1", "Codex's own sandbox is off inside");
  assert.equal(readFileSync(NODE_PROXY_SOURCE, "utf8"), before, "the host's preload is unchanged");
});
