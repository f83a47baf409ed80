// The gateway's OpenAPI document, as a real gateway serves it, lints clean with Redocly's
// recommended rules (no errors, no warnings), is served at /openapi.json too, and its error
// responses describe the error body the API really returns.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorSchema } from "../../src/protocol/types.ts";
import { REPO } from "../sandbox/cli-helpers.ts";
import { startHarness } from "./harness.ts";

test("the OpenAPI document lints clean and matches the errors the API returns", async () => {
  const h = await startHarness();
  try {
    const doc = await (await fetch(`${h.gw.url}/openapi.json`)).json();
    assert.deepEqual(await (await fetch(`${h.gw.url}/v1/openapi.json`)).json(), doc);

    const file = join(h.home, "openapi.json");
    writeFileSync(file, JSON.stringify(doc, null, 2));
    // Not spawnSync: the gateway under test runs in this process and must keep answering.
    const lint = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(
        join(REPO, "node_modules", ".bin", "redocly"),
        ["lint", "--format", "json", file],
        {
          encoding: "utf8",
          timeout: 120_000,
          env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
        },
        (error, stdout, stderr) => done({ status: error ? (child.exitCode ?? 1) : 0, stdout, stderr }),
      );
    });
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number };
      problems: unknown[];
    };
    assert.deepEqual(
      report.totals,
      { ...report.totals, errors: 0, warnings: 0 },
      JSON.stringify(report.problems, null, 2),
    );
    assert.equal(lint.status, 0, lint.stderr);

    // Every operation documents a 4xx answer, and each error answer is the one error body.
    const operations = Object.values(
      doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>,
    ).flatMap((methods) => Object.values(methods));
    for (const op of operations) {
      assert.ok(
        Object.keys(op.responses).some((code) => code.startsWith("4")),
        JSON.stringify(op),
      );
    }
    const missing = await fetch(`${h.gw.url}/v1/chunks/no-such-chunk`, {
      headers: { authorization: `Bearer ${h.gw.operatorToken}` },
    });
    assert.equal(missing.status, 404);
    assert.ok(ErrorSchema.safeParse(await missing.json()).success);
    assert.ok(doc.paths["/v1/chunks/{id}"].get.responses["404"]);
    const anonymous = await fetch(`${h.gw.url}/v1/sandboxes`);
    assert.equal(anonymous.status, 401);
    assert.ok(ErrorSchema.safeParse(await anonymous.json()).success);
  } finally {
    await h.dispose();
  }
});
