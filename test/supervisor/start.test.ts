// The supervisor's start and end, in process, with real bubblewrap: what each phase leaves
// behind (sandbox.json, the audit log, the policy snapshot), the refusals before anything runs,
// a start that fails once bubblewrap is on its way, signals held and forwarded, a hot reload.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "yaml";
import type { Policy } from "../../src/policy/schema.ts";
import { SupervisorError, type SupervisorOptions, startSupervised } from "../../src/supervisor/supervisor.ts";
import { policyOf, removeDir, scratchDir } from "../sandbox/helpers.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) removeDir(dir);
});

function scratch(prefix: string): string {
  const dir = scratchDir(prefix);
  dirs.push(dir);
  return dir;
}

function options(command: string[], extra: Partial<SupervisorOptions> = {}): SupervisorOptions {
  const lines: string[] = [];
  return {
    workdir: scratch("sup-wd"),
    airlockHome: scratch("sup-home"),
    command,
    quiet: true,
    log: (line) => lines.push(line),
    ...extra,
  };
}

function record(home: string, name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(home, "sandboxes", name, "sandbox.json"), "utf8"));
}

/** The audit log's shorthand lines, in the order written. */
function auditLines(logDir: string): string[] {
  return readdirSync(logDir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((f) => readFileSync(join(logDir, f), "utf8").split("\n").filter(Boolean))
    .map(
      (line) =>
        (JSON.parse(line) as { unmapped: { airlock: { shorthand: string } } }).unmapped.airlock.shorthand,
    );
}

const signalListeners = () => ["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s));

describe("startSupervised", () => {
  test("a run: the command's status, an ended record, the audit log from load to terminate", async () => {
    const opts = options(["/bin/sh", "-c", "exit 3"], { name: "plain-run" });
    const before = signalListeners();
    const supervised = await startSupervised(opts);
    assert.equal(await supervised.exited, 3);
    assert.deepEqual(signalListeners(), before, "the signal handlers are gone");
    const info = record(opts.airlockHome, "plain-run");
    assert.equal(info["exit_code"], 3);
    assert.equal(typeof info["ended"], "string");
    assert.equal(info["policy_file"], null);
    const lines = auditLines(supervised.logDir);
    assert.match(lines[0] ?? "", /^CONFIG:LOADED .* policy version:1 /);
    assert.ok(
      lines.some((l) => /^PROC:LAUNCH .*\/bin\/sh/.test(l)),
      lines.join("\n"),
    );
    assert.match(lines.at(-1) ?? "", /^PROC:TERMINATE .*exit:3/);
    const snapshot = parse(readFileSync(join(supervised.stateDir, "policy.yaml"), "utf8"));
    assert.deepEqual(snapshot.network_policies ?? {}, {}, "without --policy nothing leaves");
  });

  test("refusals before anything is written: no command, a bad policy file, a bad --connect-to", async () => {
    const empty = options([]);
    await assert.rejects(
      startSupervised(empty),
      (e) => e instanceof SupervisorError && /no command/.test(e.message),
    );
    const dir = scratch("sup-policy");
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "version: 1\nnetwork_policies:\n  r:\n    endpoints: [{ host: a.example.com, port: 0 }]\n",
    );
    const withBad = options(["true"], { policyFile: bad });
    await assert.rejects(
      startSupervised(withBad),
      (e) =>
        e instanceof SupervisorError && /bad\.yaml:4:\d+: .*port.*\n1 error in .*bad\.yaml$/.test(e.message),
    );
    const connect = options(["true"], { connectTo: ["nonsense"] });
    await assert.rejects(startSupervised(connect), SupervisorError);
    for (const o of [empty, withBad, connect]) {
      assert.deepEqual(readdirSync(o.airlockHome), [], "nothing under $AIRLOCK_HOME");
    }
  });

  test("a name that is running is refused; the running sandbox is not touched", async () => {
    const first = options(["/bin/sh", "-c", "sleep 30"], { name: "twice" });
    const running = await startSupervised(first);
    try {
      await assert.rejects(
        startSupervised({ ...options(["true"]), airlockHome: first.airlockHome, name: "twice" }),
        (e) => e instanceof SupervisorError && /already running/.test(e.message),
      );
      assert.equal(record(first.airlockHome, "twice")["ended"], undefined);
    } finally {
      running.kill();
    }
    await running.exited;
    assert.equal(typeof record(first.airlockHome, "twice")["ended"], "string");
  });

  test("a start that fails once bubblewrap is on its way is taken down and recorded", async () => {
    const opts = options(["/bin/sh", "-c", "echo ran > ran"], { name: "no-ca" });
    // The CA's folder is a file: making the CA fails after the spawn.
    mkdirSync(join(opts.airlockHome, "sandboxes", "no-ca"), { recursive: true });
    writeFileSync(join(opts.airlockHome, "sandboxes", "no-ca", "ca"), "not a folder");
    const stops: string[] = [];
    const before = signalListeners();
    await assert.rejects(
      startSupervised({
        ...opts,
        connect: async () => ({
          proposals: () => {
            throw new Error("unused");
          },
          onDenial: () => {},
          proposalsEnabled: () => false,
          attach: () => stops.push("attach"),
          stop: async () => {
            stops.push("stop");
          },
        }),
      }),
      (e) => e instanceof SupervisorError && /^the sandbox did not start: /.test(e.message),
    );
    assert.deepEqual(stops, ["stop"], "the control plane is stopped, never attached");
    assert.deepEqual(signalListeners(), before, "the signal handlers are gone");
    const info = record(opts.airlockHome, "no-ca");
    assert.equal(info["exit_code"], null);
    assert.equal(typeof info["ended"], "string");
    assert.deepEqual(readdirSync(opts.workdir), [], "the command never ran");
  });

  test("a signal that arrives while the sandbox starts reaches the command once it runs", async () => {
    const opts = options(["/bin/sh", "-c", "trap 'exit 7' TERM; sleep 30 & wait"], {
      name: "signalled",
      quiet: false,
      // Logged just before the command is released and the held signals are delivered.
      log: (line) => {
        if (line.includes("sandbox signalled started")) process.emit("SIGTERM", "SIGTERM");
      },
    });
    const supervised = await startSupervised(opts);
    const code = await supervised.exited;
    // 7 if the trap was set when TERM came, 143 if it came first: either way the command got it.
    assert.ok(code === 7 || code === 143, `exit ${code}`);
  });

  test("setPolicy swaps the policy, counts the revision, and records it", async () => {
    const supervised = await startSupervised(options(["/bin/sh", "-c", "sleep 30"], { name: "reload" }));
    try {
      const next: Policy = policyOf({
        version: 1,
        network_policies: {
          api: { endpoints: [{ host: "api.example.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
        },
      });
      assert.equal(supervised.setPolicy(next), 2);
      assert.equal(supervised.setPolicy(next, 9), 9);
      assert.equal(supervised.current().version, 9);
      assert.deepEqual(supervised.current().policy, next);
      const snapshot = parse(readFileSync(join(supervised.stateDir, "policy.yaml"), "utf8"));
      assert.deepEqual(Object.keys(snapshot.network_policies), ["api"]);
    } finally {
      supervised.kill();
    }
    await supervised.exited;
    const loads = auditLines(supervised.logDir).filter((l) => l.startsWith("CONFIG:LOADED"));
    assert.deepEqual(
      loads.map((l) => /version:(\d+)/.exec(l)?.[1]),
      ["1", "2", "9"],
    );
  });
});
