import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  buildConfigEvent,
  buildHttpEvent,
  buildNetworkEvent,
  buildProcessEvent,
  shorthandLine,
} from "../../src/audit/ocsf.ts";
import { readRecentDenials, readRecentShorthand } from "../../src/audit/reader.ts";
import { redactQueryIn, truncateUtf8 } from "../../src/audit/redact.ts";
import { AuditLog } from "../../src/audit/writer.ts";
import { tempDir } from "../proxy/helpers.ts";

const T = Date.parse("2026-11-21T09:30:00.123Z");
const actor = { binary: "/usr/bin/curl", pid: 7, ancestors: ["/bin/bash"] };

test("HTTP event: OCSF fields and the shorthand line, query redacted", () => {
  const e = buildHttpEvent({
    time: T,
    allowed: false,
    scheme: "https",
    host: "api.github.com",
    port: 443,
    method: "put",
    target: "/repos/o/r/contents/x.md?token=SECRET",
    actor,
    policy: "github_api",
    engine: "l7",
    reason: "no allow rule matches",
  });
  assert.equal(
    shorthandLine(e),
    "2026-11-21T09:30:00.123Z OCSF HTTP:PUT [MED] DENIED PUT https://api.github.com:443/repos/o/r/contents/x.md?[redacted] [policy:github_api engine:l7] [reason:no allow rule matches] [binary:/usr/bin/curl]",
  );
  assert.equal(e.class_uid, 4002);
  assert.equal(e.type_uid, 400207);
  assert.deepEqual([e.action_id, e.disposition_id, e.severity_id], [2, 2, 3]);
  assert.equal(e.http_request?.url.path, "/repos/o/r/contents/x.md");
  assert.ok(e.actor && "process" in e.actor);
  assert.equal(e.actor.process.ancestry?.[0]?.path, "/bin/bash");
  assert.equal(e.metadata.product.name, "Airlock");
  assert.doesNotMatch(JSON.stringify(e), /SECRET/);
});

test("NET, CONFIG and PROC events", () => {
  const net = buildNetworkEvent({
    time: T,
    allowed: true,
    host: "x.com",
    port: 443,
    ip: "1.2.3.4",
    actor,
    policy: "r",
    engine: "l4",
  });
  assert.equal(net.class_uid, 4001);
  assert.match(
    shorthandLine(net),
    /OCSF NET:OPEN \[INFO\] ALLOWED CONNECT x\.com:443 \[policy:r engine:l4\]/,
  );
  const cfg = buildConfigEvent({ time: T, ok: true, name: "policy", version: 3, hash: "ab".repeat(32) });
  assert.equal(cfg.class_uid, 5019);
  assert.match(shorthandLine(cfg), /CONFIG:LOADED \[INFO\] LOADED policy version:3 hash:abababab/);
  const proc = buildProcessEvent({ time: T, activity: "terminate", actor, exitCode: 2 });
  assert.equal(proc.class_uid, 1007);
  assert.match(shorthandLine(proc), /PROC:TERMINATE \[INFO\] TERMINATE \/usr\/bin\/curl pid:7 \[exit:2\]/);
});

test("control characters cannot forge a line", () => {
  const e = buildHttpEvent({
    time: T,
    allowed: true,
    scheme: "http",
    host: "h",
    port: 80,
    method: "GET",
    target: "/a\r\n2026 OCSF fake",
    actor,
    policy: null,
    engine: "l4",
  });
  assert.equal(shorthandLine(e).split("\n").length, 1);
});

test("daily files by the event's time; reader returns newest first across days", () => {
  const dir = tempDir("airlock-audit-");
  const log = new AuditLog(dir);
  const day = 24 * 3600_000;
  for (let i = 0; i < 5; i++) {
    log.write(
      buildNetworkEvent({
        time: T + (i < 3 ? 0 : day) + i,
        allowed: i % 2 === 0,
        host: `h${i}.com`,
        port: 443,
        actor,
        policy: null,
        engine: "l4",
      }),
    );
  }
  log.close();
  assert.equal(readFileSync(join(dir, "airlock.2026-11-21.log"), "utf8").trim().split("\n").length, 3);
  assert.equal(readFileSync(join(dir, "airlock.2026-11-22.log"), "utf8").trim().split("\n").length, 2);
  assert.equal(readFileSync(join(dir, "airlock-ocsf.2026-11-22.jsonl"), "utf8").trim().split("\n").length, 2);
  const recent = readRecentShorthand(dir, 4);
  assert.equal(recent.logAvailable, true);
  assert.deepEqual(
    recent.lines.map((l) => /CONNECT (h\d)/.exec(l)?.[1]),
    ["h4", "h3", "h2", "h1"],
  );
  const denied = readRecentShorthand(dir, 10, (l) => l.includes(" DENIED "));
  assert.deepEqual(
    denied.lines.map((l) => /CONNECT (h\d)/.exec(l)?.[1]),
    ["h3", "h1"],
  );
  assert.deepEqual(readRecentShorthand(join(dir, "none"), 3), { lines: [], logAvailable: false });
});

test("reader handles files larger than one read block", () => {
  const dir = tempDir("airlock-audit-");
  const lines = Array.from({ length: 5000 }, (_, i) => `line-${i} ${"x".repeat(40)}`);
  writeFileSync(join(dir, "airlock.2026-11-21.log"), `${lines.join("\n")}\n`);
  const recent = readRecentShorthand(dir, 3000);
  assert.equal(recent.lines.length, 3000);
  assert.equal(recent.lines[0], lines[4999]);
  assert.equal(recent.lines[2999], lines[2000]);
});

test("redaction is idempotent; UTF-8 cuts never split a character", () => {
  assert.equal(redactQueryIn("GET /a?x=1 [r]"), "GET /a?[redacted] [r]");
  assert.equal(redactQueryIn(redactQueryIn("GET /a?x=1")), "GET /a?[redacted]");
  assert.equal(truncateUtf8("aé€😀", 3), "aé");
  assert.equal(truncateUtf8("aé€😀", 6), "aé€");
  assert.equal(truncateUtf8("aé€😀", 10), "aé€😀");
});

test("readRecentDenials: denials only, redacted, each line at most 4096 bytes", () => {
  const dir = tempDir("airlock-audit-");
  const long = `${"€".repeat(3000)}`;
  writeFileSync(
    join(dir, "airlock.2026-11-21.log"),
    [
      "t OCSF HTTP:GET [INFO] ALLOWED GET https://h:443/ok",
      `t OCSF HTTP:GET [MED] DENIED GET https://h:443/${long}`,
      "t OCSF HTTP:PUT [MED] DENIED PUT https://h:443/p?token=abc [policy:x engine:l7]",
      "",
    ].join("\n"),
  );
  const r = readRecentDenials(dir, 10);
  assert.equal(r.lines.length, 2);
  assert.equal(
    r.lines[0],
    "t OCSF HTTP:PUT [MED] DENIED PUT https://h:443/p?[redacted] [policy:x engine:l7]",
  );
  assert.ok(Buffer.byteLength(r.lines[1] as string) <= 4096);
  assert.ok(!(r.lines[1] as string).includes("\uFFFD"));
});

test("chunk decisions become CONFIG events that say whether auto-approval made them", async () => {
  const { buildDecisionEvent, shorthandLine } = await import("../../src/audit/ocsf.ts");
  const auto = buildDecisionEvent({
    time: Date.UTC(2026, 0, 2),
    status: "approved",
    ruleName: "github_api",
    chunkId: "c1",
    by: "auto",
    auto: true,
    revision: 3,
  });
  assert.equal(auto.class_uid, 5019);
  assert.match(
    shorthandLine(auto),
    /CONFIG:APPROVED \[INFO\] APPROVED rule github_api \[auto:true by:auto chunk:c1 revision:3\]$/,
  );
  const rejected = buildDecisionEvent({
    time: 0,
    status: "rejected",
    ruleName: "put_x",
    chunkId: "c2",
    by: "operator",
    auto: false,
    reason: "scope to docs/\nonly",
  });
  assert.match(shorthandLine(rejected), /CONFIG:REJECTED .* \[reason:scope to docs\/\?only\]$/);
});
