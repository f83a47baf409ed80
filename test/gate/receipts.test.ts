import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const home = mkdtempSync(join(tmpdir(), "airlock-receipts-"));
const env = { ...process.env, AIRLOCK_HOME: home };
after(() => rmSync(home, { recursive: true, force: true }));

const { appendReceipt, loadVerifyKey } = await import("../../src/gate/receipt-store.ts");
const { verifyReceipts } = await import("../../src/gate/receipts.ts");

function writeReceipts(file: string, n: number): void {
  process.env["AIRLOCK_HOME"] = home;
  for (let i = 0; i < n; i++) {
    appendReceipt(file, {
      time: new Date(0).toISOString(),
      tool: "shell",
      input_digest: `sha256:${String(i).padStart(64, "0")}`,
      decision: i % 2 ? "allow" : "deny",
      tier: i % 2 ? 0 : 3,
      step: i % 2 ? "allowlist" : "hard_stop",
      rule: "r",
      reason: "x",
      latency_ms: 0.1,
    });
  }
}

const verify = (file: string) =>
  spawnSync(process.execPath, ["bin/airlock.js", "gate", "verify", file, "--json"], {
    env,
    encoding: "utf8",
  });

describe("receipts", () => {
  const file = join(home, "r.jsonl");
  writeReceipts(file, 5);
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");

  it("chains and signs every line; the CLI verifies them", () => {
    assert.equal(lines.length, 5);
    const result = verify(file);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(JSON.parse(result.stdout).count, 5);
    assert.equal(verifyReceipts(lines, loadVerifyKey()).ok, true);
  });

  const tampered: Array<[string, string[]]> = [
    [
      "an edited line",
      lines.map((l, i) => (i === 2 ? l.replace('"decision":"deny"', '"decision":"allow"') : l)),
    ],
    ["an edited reason", lines.map((l, i) => (i === 1 ? l.replace('"reason":"x"', '"reason":"y"') : l))],
    ["a removed line", lines.filter((_, i) => i !== 2)],
    ["two swapped lines", [lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!]],
    ["a removed first line", lines.slice(1)],
  ];
  for (const [what, variant] of tampered) {
    it(`detects ${what}`, () => {
      const bad = join(home, `bad-${what.replaceAll(" ", "-")}.jsonl`);
      writeFileSync(bad, `${variant.join("\n")}\n`);
      const result = verify(bad);
      assert.equal(result.status, 1, result.stdout);
      assert.equal(JSON.parse(result.stdout).ok, false);
    });
  }

  it("detects a line re-signed with another key", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { sealReceipt } = await import("../../src/gate/receipts.ts");
    const other = generateKeyPairSync("ed25519").privateKey;
    const { hash: _h, sig: _s, ...body } = JSON.parse(lines[4]!);
    const forged = JSON.stringify(sealReceipt({ ...body, decision: "allow" }, other));
    const bad = join(home, "forged.jsonl");
    writeFileSync(bad, `${[...lines.slice(0, 4), forged].join("\n")}\n`);
    assert.equal(verify(bad).status, 1);
  });
});
