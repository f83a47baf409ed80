// Commands that need one sandbox and were given none: the running one is meant; with several
// running, or none running and several known, they refuse to guess and list them; a finished
// sandbox is never taken over the running one. Pure choice, then the real CLI.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { chooseSandbox } from "../../src/cli/pick-sandbox.ts";
import { addRule, BASE_POLICY, putRule } from "./fixtures.ts";
import { type Harness, startHarness } from "./harness.ts";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "bin", "airlock.js");

test("chooseSandbox: the running one; else the only one; else a listing", () => {
  const c = (name: string, running: boolean, started = "2026-01-01T00:00:00Z") => ({
    name,
    running,
    started,
  });
  assert.equal(chooseSandbox([c("old", false, "2026-02-01T00:00:00Z"), c("live", true)], "here"), "live");
  assert.equal(chooseSandbox([c("only", false)], "here"), "only");
  assert.throws(() => chooseSandbox([], "here"), /no sandbox yet \(here\)/);
  assert.throws(
    () => chooseSandbox([c("a", true), c("b", true), c("c", false)], "here"),
    (e: Error) =>
      /2 sandboxes are running; name the one you mean \(here\)/.test(e.message) &&
      /\n {2}a {2}running/.test(e.message) &&
      /\n {2}c {2}not running/.test(e.message),
  );
  assert.throws(
    () => chooseSandbox([c("a", false), c("b", false)], "here"),
    /no sandbox is running; name the one/,
  );
});

describe("the CLI picks the running sandbox or refuses to guess", () => {
  let h: Harness;
  const record = (name: string, fields: Record<string, unknown>) => {
    const dir = join(h.home, "sandboxes", name);
    mkdirSync(join(dir, "logs"), { recursive: true });
    writeFileSync(
      join(dir, "sandbox.json"),
      JSON.stringify({ name, started: "2026-12-01T10:00:00.000Z", ...fields }),
    );
  };
  const airlock = async (...args: string[]) => {
    const env = {
      ...process.env,
      AIRLOCK_HOME: h.home,
      AIRLOCK_GATEWAY: h.gw.url,
      AIRLOCK_TOKEN: h.gw.operatorToken,
    };
    try {
      const r = await run(process.execPath, [BIN, ...args], { env, timeout: 30_000 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  before(async () => {
    h = await startHarness();
    await h.op.setSetting("agent_policy_proposals_enabled", true);
    const live = await h.op.register("live-run", BASE_POLICY);
    await h.op.withToken(live.token).submit("live-run", {
      intent_summary: "write x.md",
      operations: [addRule("put_x", putRule())],
    });
    // Registered after the live one: the most recent, but finished.
    await h.op.register("old-run", BASE_POLICY);
    record("live-run", { pid: process.pid });
    record("old-run", {
      pid: process.pid,
      started: "2026-12-01T11:00:00.000Z",
      ended: "2026-12-01T11:05:00.000Z",
    });
  });
  after(() => h.dispose());

  test("rule get, logs: the running sandbox, not the most recent finished one", async () => {
    const got = await airlock("rule", "get", "--json");
    assert.equal(got.code, 0, got.err);
    const chunks = JSON.parse(got.out).chunks as { sandbox: string }[];
    assert.deepEqual(
      chunks.map((c) => c.sandbox),
      ["live-run"],
    );
    const logs = await airlock("logs", "--last", "0");
    assert.equal(logs.code, 0, logs.err);
  });

  test("two running: every such command refuses and lists them", async () => {
    await h.op.register("second-live", BASE_POLICY);
    record("second-live", { pid: process.pid });
    for (const args of [["rule", "get"], ["denials"], ["policy", "get"], ["logs"]]) {
      const r = await airlock(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.out}`);
      assert.match(r.err, /2 sandboxes are running; name the one you mean/, args.join(" "));
      assert.match(r.err, /live-run {2}running/);
      assert.match(r.err, /second-live {2}running/);
      assert.match(r.err, /old-run {2}not running/);
    }
    const named = await airlock("rule", "get", "second-live", "--json");
    assert.equal(named.code, 0, named.err);
  });
});
