// `airlock demo`, the README's main command, run as a user would: exit 0, the narrated steps,
// the three-event decision trace, and nothing left behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

test("airlock demo runs the whole loop and cleans up", () => {
  const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("airlock-demo-")));
  const r = spawnSync(process.execPath, [join(import.meta.dirname, "../../bin/airlock.js"), "demo"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /"error": "policy_denied"/);
  assert.match(
    r.stdout,
    /endpoint: api\.github\.com:443 \[L7 rest, allow PUT \/repos\/acme\/site\/contents\/docs\/getting-started\.md\]/,
  );
  assert.match(
    r.stdout,
    /Allows \/usr\/bin\/curl to PUT \/repos\/acme\/site\/contents\/docs\/getting-started\.md on api\.github\.com:443\./,
  );
  assert.match(r.stdout, /agent> retry: HTTP 201/);
  const trace = r.stdout.slice(r.stdout.indexOf("decision trace"));
  assert.match(trace, /HTTP:PUT \[MED\] DENIED PUT/);
  assert.match(trace, /CONFIG:LOADED \[INFO\] LOADED policy version:2/);
  assert.match(trace, /HTTP:PUT \[INFO\] ALLOWED PUT .*\[policy:put_getting_started_md/);
  const after = readdirSync(tmpdir()).filter((f) => f.startsWith("airlock-demo-") && !before.has(f));
  assert.deepEqual(after, [], "the demo removes its state folder");
});
