import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
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

  it("detects the last receipts removed, or the log emptied, by its signed head", () => {
    const log = join(home, "headed.jsonl");
    writeReceipts(log, 4);
    assert.equal(verify(log).status, 0, verify(log).stdout);
    const full = readFileSync(log, "utf8");
    const kept = full.trimEnd().split("\n");
    writeFileSync(log, `${kept.slice(0, 2).join("\n")}\n`);
    const cut = verify(log);
    assert.equal(cut.status, 1, cut.stdout);
    assert.match(cut.stdout, /signed head records 4 receipts ending at seq 3; the log has 2/);
    writeFileSync(log, "");
    const emptied = verify(log);
    assert.equal(emptied.status, 1, emptied.stdout);
    assert.match(emptied.stdout, /the log has 0/);
    // Nor can the next receipt paper over it: appending to a log that lost its end is refused.
    assert.throws(() => writeReceipts(log, 1), /does not end at its signed head/);
    writeFileSync(log, full);
    assert.equal(verify(log).status, 0);
  });

  it("detects a forged head, and a log whose head was deleted", () => {
    const log = join(home, "forged-head.jsonl");
    writeReceipts(log, 3);
    const head = JSON.parse(readFileSync(`${log}.head`, "utf8"));
    writeFileSync(`${log}.head`, JSON.stringify({ ...head, count: 2 }));
    assert.match(verify(log).stdout, /bad signature/);
    rmSync(`${log}.head`);
    const r = verify(log);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /no signed head/);
    assert.throws(() => writeReceipts(log, 1), /no signed head/);
    const legacy = spawnSync(
      process.execPath,
      ["bin/airlock.js", "gate", "verify", log, "--no-signed-head"],
      { env, encoding: "utf8" },
    );
    assert.equal(legacy.status, 0, legacy.stdout);
  });

  it("adopts a log written before heads existed, once its whole chain verifies; refuses a broken one", () => {
    const adopt = (log: string, ...more: string[]) =>
      spawnSync(process.execPath, ["bin/airlock.js", "gate", "adopt", log, ...more], {
        env,
        encoding: "utf8",
      });
    const legacy = join(home, "legacy.jsonl");
    writeReceipts(legacy, 3);
    const recorded = JSON.parse(readFileSync(`${legacy}.head`, "utf8")) as { seq: number; hash: string };
    rmSync(`${legacy}.head`);
    assert.throws(() => writeReceipts(legacy, 1), /no signed head/);
    // A broken chain (a line edited) is not adopted, and no head appears.
    const good = readFileSync(legacy, "utf8");
    writeFileSync(legacy, good.replace('"decision":"deny"', '"decision":"allow"'));
    const broken = adopt(legacy);
    assert.equal(broken.status, 1, broken.stdout);
    assert.match(broken.stderr, /not adopted: .* does not verify:\n.*edited/s);
    assert.throws(() => readFileSync(`${legacy}.head`), /ENOENT/);
    // Nor is a log cut short of a head the user recorded earlier.
    writeFileSync(legacy, `${good.trimEnd().split("\n").slice(0, 2).join("\n")}\n`);
    const cut = adopt(legacy, "--head", `${recorded.seq}:${recorded.hash}`);
    assert.equal(cut.status, 1, cut.stdout);
    assert.match(cut.stderr, /recorded head \(seq 2\) is missing/);
    writeFileSync(legacy, good);
    const done = adopt(legacy, "--head", `${recorded.seq}:${recorded.hash}`);
    assert.equal(done.status, 0, done.stderr);
    assert.equal(done.stdout, `${legacy}: adopted 3 receipts, head 2:${recorded.hash} signed\n`);
    assert.equal(verify(legacy).status, 0, verify(legacy).stdout);
    writeReceipts(legacy, 1);
    assert.equal(JSON.parse(verify(legacy).stdout).count, 4);
    // A log that has a head is not adopted again (that would accept whatever it holds now).
    const again = adopt(legacy);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already has a signed head/);
  });

  it("detects lines removed from the end against a recorded head", () => {
    const head = JSON.parse(verify(file).stdout).head as { seq: number; hash: string };
    const cut = join(home, "truncated.jsonl");
    writeFileSync(cut, `${lines.slice(0, 3).join("\n")}\n`);
    const noHead = ["bin/airlock.js", "gate", "verify", cut, "--no-signed-head"];
    assert.equal(
      spawnSync(process.execPath, noHead, { env, encoding: "utf8" }).status,
      0,
      "a shorter chain is valid on its own",
    );
    const args = [...noHead, "--head", `${head.seq}:${head.hash}`];
    const r = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /recorded head \(seq 4\) is missing/);
    const whole = spawnSync(
      process.execPath,
      ["bin/airlock.js", "gate", "verify", file, "--head", `${head.seq}:${head.hash}`],
      { env, encoding: "utf8" },
    );
    assert.equal(whole.status, 0, whole.stdout);
  });

  it("keeps one valid chain when several processes append at once", async () => {
    const shared = join(home, "concurrent.jsonl");
    loadVerifyKey(); // create the key before the writers race for it
    const writers = ["a", "b", "c", "d"].map(
      (tag) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(
            process.execPath,
            ["--import", "tsx", "test/gate/fixtures/append-receipts.ts", shared, "25", tag],
            {
              env,
              stdio: "inherit",
            },
          );
          const kill = setTimeout(() => child.kill("SIGKILL"), 60000);
          child.on("close", (code) => {
            clearTimeout(kill);
            resolve(code);
          });
        }),
    );
    assert.deepEqual(await Promise.all(writers), [0, 0, 0, 0]);
    const result = verify(shared);
    assert.equal(result.status, 0, result.stdout);
    assert.equal(JSON.parse(result.stdout).count, 100);
  });

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

describe("where receipts live", () => {
  it("a relative $AIRLOCK_HOME is taken from the user's home, never the current directory", async () => {
    const { homedir } = await import("node:os");
    const { airlockHome } = await import("../../src/protocol/home.ts");
    const saved = process.env["AIRLOCK_HOME"];
    process.env["AIRLOCK_HOME"] = "rel-airlock";
    try {
      assert.equal(airlockHome(), join(homedir(), "rel-airlock"));
    } finally {
      process.env["AIRLOCK_HOME"] = saved;
    }
  });
});
