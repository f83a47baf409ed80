// Every OCSF event Airlock writes, taken from real runs, validates against the OCSF schema
// compiled from its source (../shared/ocsf-schema-1.8.0, or AIRLOCK_OCSF_SCHEMA): the demo (a real
// sandbox, proxy, gateway and supervisor: CONNECT, L7 deny and allow, a policy load, a developer's
// approval, the command's launch and end) and an `airlock run` whose CONNECT is refused. Every
// event builder must be among the classes those runs produced, so a new kind of event cannot
// escape the check.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import * as ocsf from "../../src/audit/ocsf.ts";
import { AIRLOCK_BIN, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { OcsfSchema } from "./ocsf-schema.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
const SCHEMA_DIR =
  process.env.AIRLOCK_OCSF_SCHEMA ??
  [resolve(REPO, "..", "shared", "ocsf-schema-1.8.0"), "/work/shared/ocsf-schema-1.8.0"].find((dir) =>
    existsSync(join(dir, "version.json")),
  );

function jsonlEvents(dir: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/^airlock-ocsf\..*\.jsonl$/.test(name))
        for (const line of readFileSync(path, "utf8").split("\n")) if (line) out.push(JSON.parse(line));
    }
  };
  walk(dir);
  return out;
}

describe("OCSF events of real runs", { skip: SCHEMA_DIR === undefined && "no OCSF schema source" }, () => {
  let schema: OcsfSchema;
  let scratch: string;
  const events: Record<string, unknown>[] = [];

  before(async () => {
    schema = new OcsfSchema(SCHEMA_DIR as string);
    scratch = scratchDir("ocsf");
    const demoHome = join(scratch, "demo-home");
    const demo = spawnSync(process.execPath, [AIRLOCK_BIN, "demo", "--keep"], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, AIRLOCK_HOME: demoHome },
    });
    assert.equal(demo.status, 0, demo.stdout + demo.stderr);
    const kept = /Kept the demo's state in (\S+)/.exec(demo.stdout)?.[1];
    assert.ok(kept, demo.stdout);
    events.push(...jsonlEvents(kept));
    removeDir(kept);

    const runHome = join(scratch, "run-home");
    const policy = join(scratch, "policy.yaml");
    writeFileSync(policy, "version: 1\nnetwork_policies: {}\n");
    const run = await runCli(
      [
        "run",
        "--name",
        "ocsf",
        "--policy",
        policy,
        "--",
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "https://denied.example.com/",
      ],
      { airlockHome: runHome, cwd: scratch },
    );
    assert.notEqual(run.code, null, run.stderr);
    events.push(...jsonlEvents(runHome));

    // Runs that leave a file a host tool runs on its own: moved aside (Rename), kept (Create).
    for (const mode of ["disarm", "keep"]) {
      const wd = join(scratch, `wd-${mode}`);
      const modePolicy = join(scratch, `${mode}.yaml`);
      mkdirSync(wd);
      writeFileSync(modePolicy, `version: 1\nfilesystem_policy:\n  host_run_files: ${mode}\n`);
      const left = await runCli(
        [
          "run",
          "--policy",
          modePolicy,
          "--workdir",
          wd,
          "--",
          "/bin/sh",
          "-c",
          "mkdir d && echo x > d/.envrc",
        ],
        { airlockHome: join(scratch, `${mode}-home`) },
      );
      assert.equal(left.code, 0, left.stderr);
      events.push(...jsonlEvents(join(scratch, `${mode}-home`)));
    }
  });
  after(() => removeDir(scratch));

  test("every event validates against the compiled schema", () => {
    assert.ok(events.length >= 6, `only ${events.length} events`);
    const problems = events.flatMap((event) =>
      schema.validate(event).map((p) => `${String(event.class_name)} ${String(event.activity_name)}: ${p}`),
    );
    assert.deepEqual([...new Set(problems)], []);
  });

  test("the runs cover every event builder's class and activity", () => {
    const seen = new Set(events.map((e) => `${e.class_uid}/${e.activity_id}`));
    const actor = { binary: "/usr/bin/curl", pid: 1 };
    const built = [
      ocsf.buildNetworkEvent({
        time: 0,
        allowed: true,
        host: "h",
        port: 1,
        actor,
        policy: null,
        engine: "l4",
      }),
      ocsf.buildNetworkEvent({
        time: 0,
        allowed: false,
        host: "h",
        port: 1,
        actor,
        policy: null,
        engine: "l4",
      }),
      ocsf.buildHttpEvent({
        time: 0,
        allowed: true,
        scheme: "https",
        host: "h",
        port: 1,
        method: "PUT",
        target: "/",
        actor,
        policy: null,
        engine: "l7",
      }),
      ocsf.buildConfigEvent({ time: 0, ok: true, name: "policy" }),
      ocsf.buildDecisionEvent({
        time: 0,
        status: "approved",
        ruleName: "r",
        chunkId: "c",
        by: "d",
        auto: false,
      }),
      ocsf.buildProcessEvent({ time: 0, activity: "launch", actor }),
      ocsf.buildProcessEvent({ time: 0, activity: "terminate", actor, exitCode: 0 }),
      ocsf.buildHostRunFileEvent({
        time: 0,
        path: "/w/.envrc",
        tool: "direnv",
        change: "created",
        disarmedTo: "/w/x",
      }),
      ocsf.buildHostRunFileEvent({ time: 0, path: "/w/.envrc", tool: "direnv", change: "created" }),
    ];
    const builders = Object.keys(ocsf).filter((name) => /^build\w+Event$/.test(name));
    assert.deepEqual(builders.sort(), [
      "buildConfigEvent",
      "buildDecisionEvent",
      "buildHostRunFileEvent",
      "buildHttpEvent",
      "buildNetworkEvent",
      "buildProcessEvent",
    ]);
    for (const event of built)
      assert.ok(seen.has(`${event.class_uid}/${event.activity_id}`), `no real run produced ${event.message}`);
  });

  test("the validator itself refuses what the schema does not allow", () => {
    const event = ocsf.buildConfigEvent({ time: 0, ok: true, name: "policy" }) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(schema.validate(event), []);
    const broken = { ...event, device: undefined, config: { name: "x" }, severity_id: 42, type_uid: 1 };
    const problems = schema.validate(broken).join("\n");
    assert.match(problems, /device is required/);
    assert.match(problems, /config is not an attribute/);
    assert.match(problems, /severity_id 42 is not one of/);
    assert.match(problems, /type_uid 1 should be 501901/);
  });

  test("a security-flagged approval is at least Medium", () => {
    const flagged = ocsf.buildDecisionEvent({
      time: 0,
      status: "approved",
      ruleName: "r",
      chunkId: "c",
      by: "d",
      auto: false,
      securityFinding: "low",
    });
    assert.equal(flagged.severity, "Medium");
    const high = ocsf.buildDecisionEvent({ ...baseDecision, securityFinding: "high" });
    assert.equal(high.severity, "High");
    assert.equal(
      ocsf.buildDecisionEvent({ ...baseDecision, status: "rejected", securityFinding: "high" }).severity,
      "Informational",
    );
  });
});

const baseDecision = {
  time: 0,
  status: "approved" as const,
  ruleName: "r",
  chunkId: "c",
  by: "d",
  auto: false,
};
