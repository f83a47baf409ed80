// The shipped presets name the binaries the real installs run: the pinned CLIs from npm (as
// .ci/install lays them out) and Claude Code's native installer layout reach their API; node and a
// look-alike elsewhere do not.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compilePolicy, decideConnect } from "../../src/policy/engine.ts";
import { loadPolicyFile } from "../../src/policy/file.ts";
import { requireAgent } from "./locate.ts";

const REPO = join(import.meta.dirname, "..", "..");

function preset(name: string) {
  const loaded = loadPolicyFile(join(REPO, "examples", "policies", `${name}.yaml`));
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
  return compilePolicy(loaded.value);
}

const allows = (cp: ReturnType<typeof compilePolicy>, binary: string, host: string) =>
  decideConnect(cp, host, 443, { binary }).decision === "allow";

test("claude-code.yaml: the npm install's claude.exe, the platform package and the native installer reach Anthropic", (t) => {
  const bin = requireAgent("claude-code", t);
  if (!bin) return;
  const cp = preset("claude-code");
  const real = realpathSync(bin);
  assert.match(real, /\/node_modules\/@anthropic-ai\/claude-code\/bin\/claude\.exe$/, "what `claude` runs");
  assert.ok(allows(cp, real, "api.anthropic.com"), real);
  const platform = join(real, "..", "..", "..", "claude-code-linux-x64", "claude");
  assert.ok(allows(cp, platform, "api.anthropic.com"), platform);
  assert.ok(allows(cp, "/home/dev/.local/share/claude/versions/2.1.328", "api.anthropic.com"));
  assert.ok(!allows(cp, "/usr/bin/node", "api.anthropic.com"), "node scripts do not reach Anthropic");
  assert.ok(!allows(cp, "/usr/bin/curl", "api.anthropic.com"));
});

test("codex.yaml: the binary Codex's npm wrapper runs reaches OpenAI, the node wrapper does not", (t) => {
  const bin = requireAgent("codex", t);
  if (!bin) return;
  const cp = preset("codex");
  const pkg = join(realpathSync(bin), "..", "..", "..");
  const native = join(pkg, "codex-linux-x64", "vendor", "x86_64-unknown-linux-musl", "bin", "codex");
  assert.ok(realpathSync(native), "the npm install has the native binary");
  for (const host of ["api.openai.com", "auth.openai.com", "chatgpt.com"])
    assert.ok(allows(cp, native, host), host);
  assert.ok(allows(cp, "/usr/local/bin/codex", "api.openai.com"), "a release binary");
  assert.ok(!allows(cp, "/usr/bin/node", "api.openai.com"), "node scripts do not reach OpenAI");
  assert.ok(
    !allows(cp, native, "ab.chatgpt.com"),
    "analytics: not allowed (and off inside, docs/sandbox.md)",
  );
});
