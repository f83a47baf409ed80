// policy.local from inside a real sandbox, and the /v1/denials rules on their own.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { denialsAnswer, parseLast, parseWaitTimeout } from "../../src/supervisor/policy-local-server.ts";
import { REPO, runCli } from "./cli-helpers.ts";
import { removeDir, scratchDir } from "./helpers.ts";

const POLICY = join(REPO, "examples", "policies", "github-readonly.yaml");

describe("policy.local inside the sandbox", () => {
  let dir: string;
  before(() => {
    dir = scratchDir("plocal");
  });
  after(() => removeDir(dir));

  test("with proposals enabled: current policy, denials, and the proposal seam", async () => {
    const script = [
      "curl -s http://policy.local/v1/policy/current; echo",
      "curl -s -o /dev/null http://example.com/blocked?token=s3cret",
      "curl -s -o /dev/null -X DELETE http://example.com/second",
      "curl -s 'http://policy.local/v1/denials?last=0'; echo",
      "curl -s 'http://policy.local/v1/denials?last=junk'; echo",
      "curl -s -X POST -d '{\"operations\":[]}' http://policy.local/v1/proposals; echo",
      "curl -s http://policy.local/v1/nope; echo",
      "curl -s -o /dev/null -w '%{http_code}\\n' -X DELETE http://policy.local/v1/policy/current",
      "curl -s -o /dev/null -w '%{http_code}\\n' http://policy.local:8080/v1/policy/current",
    ].join("; ");
    const result = await runCli(
      [
        "run",
        "-q",
        "--enable-proposals",
        "--policy",
        POLICY,
        "--workdir",
        dir,
        "--",
        "/bin/sh",
        "-c",
        script,
      ],
      { airlockHome: join(dir, "home1") },
    );
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n").filter(Boolean);
    const current = JSON.parse(lines[0] as string);
    assert.equal(current.format, "yaml");
    assert.equal(current.version, 1);
    assert.match(current.hash, /^[0-9a-f]{64}$/);
    assert.ok(parse(current.policy_yaml).network_policies.github_api, "the policy as YAML");
    const one = JSON.parse(lines[1] as string);
    assert.equal(one.log_available, true);
    assert.equal(one.denials.length, 1, "last=0 reads as 1");
    assert.match(one.denials[0], /DENIED DELETE http:\/\/example\.com:80\/second/, "newest first");
    const ten = JSON.parse(lines[2] as string);
    assert.equal(ten.denials.length, 2, "junk reads as 10; two denials so far");
    assert.ok(ten.denials[1].includes("/blocked?[redacted]"), ten.denials[1]);
    assert.ok(!lines.join("\n").includes("s3cret"));
    assert.deepEqual(JSON.parse(lines[3] as string).error, "gateway_unavailable");
    assert.deepEqual(JSON.parse(lines[4] as string).error, "not_found");
    assert.equal(lines[5], "405");
    assert.equal(lines[6], "400", "policy.local is port 80 only");
  });

  test("with proposals disabled every route answers 404 feature_disabled", async () => {
    const script = [
      "curl -s http://policy.local/v1/policy/current; echo",
      "curl -s http://policy.local/v1/denials; echo",
      "curl -s -X POST -d '{}' http://policy.local/v1/proposals; echo",
      "curl -s http://policy.local/v1/proposals/abc/wait; echo",
    ].join("; ");
    const result = await runCli(
      ["run", "-q", "--policy", POLICY, "--workdir", dir, "--", "/bin/sh", "-c", script],
      {
        airlockHome: join(dir, "home2"),
      },
    );
    const answers = result.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).error);
    assert.deepEqual(answers, [
      "feature_disabled",
      "feature_disabled",
      "feature_disabled",
      "feature_disabled",
    ]);
  });
});

describe("/v1/denials rules", () => {
  test("last: default 10, clamp 1..100, 0 → 1, junk → 10", () => {
    assert.equal(parseLast(null), 10);
    assert.equal(parseLast(""), 10);
    assert.equal(parseLast("abc"), 10);
    assert.equal(parseLast("2.5"), 10);
    assert.equal(parseLast("0"), 1);
    assert.equal(parseLast("-4"), 1);
    assert.equal(parseLast("7"), 7);
    assert.equal(parseLast("1000"), 100);
    assert.equal(parseWaitTimeout(null), 60);
    assert.equal(parseWaitTimeout("0"), 1);
    assert.equal(parseWaitTimeout("999"), 300);
  });

  test("query strings are redacted before each line is cut to 4096 bytes on a UTF-8 boundary", () => {
    const dir = scratchDir("denials");
    try {
      mkdirSync(dir, { recursive: true });
      const long = "é".repeat(3000); // 6000 bytes
      writeFileSync(
        join(dir, "airlock.2026-01-01.log"),
        [
          `2026-01-01T00:00:00.000Z OCSF HTTP:GET [MED] DENIED GET http://a:80/x?key=secret [policy:- engine:l7] [reason:${long}]`,
          "2026-01-01T00:00:01.000Z OCSF NET:OPEN [INFO] ALLOWED CONNECT b:443 [policy:r engine:l4]",
          "2026-01-01T00:00:02.000Z OCSF NET:REFUSE [MED] DENIED CONNECT c:443 [policy:- engine:l4]",
          "",
        ].join("\n"),
      );
      const answer = denialsAnswer(dir, "5").body as { denials: string[]; log_available: boolean };
      assert.equal(answer.log_available, true);
      assert.equal(answer.denials.length, 2, "only denials");
      assert.match(answer.denials[0] as string, /DENIED CONNECT c:443/);
      const cut = answer.denials[1] as string;
      assert.ok(!cut.includes("secret"));
      assert.ok(cut.includes("?[redacted]"));
      assert.ok(Buffer.byteLength(cut) <= 4096);
      assert.ok(!cut.includes("\ufffd"), "no broken character at the cut");
      const none = denialsAnswer(join(dir, "missing"), null).body as {
        log_available: boolean;
        note?: string;
      };
      assert.equal(none.log_available, false);
      assert.ok(none.note);
    } finally {
      removeDir(dir);
    }
  });
});
