// Every failure path of the hook, with the real agents: what each agent then does with the call.
// Airlock's side (gateway down, silent, answering garbage, the policy broken) must end in a
// denial the agent accepts; the agents' own rules for a hook that crashes or overruns its
// timeout are shown as they are (Claude Code with onFailure "block" blocks; Codex runs the call),
// which is why bin/airlock-hook never crashes and always answers within the agent's timeout.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { type FakeModel, startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import {
  type Airlock,
  GATE_POLICY,
  homePointingAt,
  MARKER,
  makeProject,
  type Project,
  SECRET,
  setupAgent,
  shellTurn as shell,
  startAirlock,
} from "./harness.ts";
import { type AgentName, requireAgent } from "./locate.ts";
import { runAgent } from "./run-agent.ts";

const FULL_ACCESS: Record<AgentName, { permissionMode?: string; args?: string[] }> = {
  "claude-code": { permissionMode: "bypassPermissions" },
  codex: { args: ["--dangerously-bypass-approvals-and-sandbox"] },
};

/** The agent in its most permissive mode, so that only the hook stands between a call and its running. */
function runFullAccess(agent: AgentName, bin: string, model: FakeModel, p: Project, extra: string[] = []) {
  const full = FULL_ACCESS[agent];
  return runAgent({
    agent,
    bin,
    model,
    prompt: "go",
    cwd: p.workdir,
    home: p.userHome,
    ...(full.permissionMode ? { permissionMode: full.permissionMode } : {}),
    args: [...(full.args ?? []), ...extra],
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/** One otherwise-allowed call (`cat marker.txt`) through the hook as installed for `home`: what the model got back. */
async function oneCall(
  agent: AgentName,
  bin: string,
  home: string,
  o: { policy?: string; wait?: number; afterSetup?: () => void } = {},
): Promise<{ result: string; output: string; ran: boolean }> {
  const p = makeProject();
  const set = await setupAgent(agent, home, p, {
    wait: o.wait ?? 1,
    ...(o.policy ? { policy: o.policy } : {}),
    ...(agent === "codex" ? { codexBin: bin } : {}),
  });
  assert.equal(set.status, 0, set.stderr + set.stdout);
  o.afterSetup?.();
  const model = await startFakeModel({
    scenario: parseScenario({ turns: [shell(agent, "cat marker.txt")] }),
  });
  try {
    const run = await runFullAccess(agent, bin, model, p);
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    const result = toolResults(model.turns().at(-1))[0] ?? "";
    return { result, output: run.stdout + run.stderr, ran: result.includes(MARKER) };
  } finally {
    await model.close();
  }
}

let airlock: Airlock;
let garbage: Server;
let silent: Server;
let garbageUrl: string;
let silentUrl: string;
before(async () => {
  airlock = await startAirlock();
  // Looks like an allow, cut short: an agent reading it would run the call.
  garbage = createServer((_req, res) => res.end('{"hookSpecificOutput":{"permissionDecision":"allow"'));
  silent = createServer(() => {});
  garbageUrl = await listen(garbage);
  silentUrl = await listen(silent);
});
after(async () => {
  silent.closeAllConnections();
  await Promise.all([
    airlock.close(),
    new Promise((r) => garbage.close(r)),
    new Promise((r) => silent.close(r)),
  ]);
});

for (const agent of ["claude-code", "codex"] as const)
  describe(`${agent}: Airlock's failures end in a denial the agent accepts`, () => {
    test("gateway down", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const closed = createServer();
      const url = await listen(closed);
      await new Promise((r) => closed.close(r));
      const r = await oneCall(agent, bin, homePointingAt(url));
      assert.equal(r.ran, false, r.result);
      assert.match(
        r.result,
        /gateway unreachable at http:\/\/127\.0\.0\.1:\d+: start it with airlock gateway start; denied/,
      );
    });
    test("no gateway at all (no gateway.json)", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const r = await oneCall(agent, bin, mkdtempSync(join(tmpdir(), "airlock-nohome-")));
      assert.equal(r.ran, false, r.result);
      assert.match(r.result, /no gateway .*: start one with airlock gateway start; denied/);
    });
    test("gateway silent: the hook's own deadline", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const r = await oneCall(agent, bin, homePointingAt(silentUrl), { wait: 1 });
      assert.equal(r.ran, false, r.result);
      assert.match(r.result, /no answer from the gateway within 6s; denied/);
    });
    test("gateway answering garbage", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const r = await oneCall(agent, bin, homePointingAt(garbageUrl));
      assert.equal(r.ran, false, r.result);
      assert.match(r.result, /the gateway's answer is not the agent's format; denied/);
    });
    test("the gate policy broken after setup", async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const policy = join(mkdtempSync(join(tmpdir(), "airlock-policy-")), "gate.yaml");
      copyFileSync(GATE_POLICY, policy);
      const r = await oneCall(agent, bin, airlock.home, {
        policy,
        afterSetup: () => writeFileSync(policy, `${readFileSync(policy, "utf8")}\n  oops: [\n`),
      });
      assert.equal(r.ran, false, r.result);
      const result = r.result;
      assert.match(result, /cannot decide \(gate_policy: .*gate\.yaml.*\); denied/s);
    });
  });

/** A hook configured by hand (not by setup), to show the agent's own rule for a failing hook. */
function handHook(agent: AgentName, userHome: string, command: string, timeout: number): void {
  const handler = {
    type: "command",
    command,
    timeout,
    ...(agent === "claude-code" ? { onFailure: "block" } : {}),
  };
  const dir = join(userHome, agent === "claude-code" ? ".claude" : ".codex");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, agent === "claude-code" ? "settings.json" : "hooks.json"),
    JSON.stringify({ hooks: { PreToolUse: [{ matcher: "*", hooks: [handler] }] } }),
  );
}

const HOOK_CRASH = "exit 1";
const HOOK_OVERRUN = "sleep 5";
const HOOK_MISSING = "/nonexistent/bin/airlock-hook claude-code";

describe("the agents' own rules for a hook that crashes or overruns (why bin/airlock-hook never does)", () => {
  for (const [what, command, timeout] of [
    ["crashes (exit 1)", HOOK_CRASH, 10],
    ["cannot start (its program is gone)", HOOK_MISSING, 10],
    ["overruns the agent's timeout", HOOK_OVERRUN, 1],
    ["prints plain text", "echo not-json", 10],
    ["prints broken JSON", "echo '{oops'", 10],
  ] as const)
    for (const agent of ["claude-code", "codex"] as const)
      test(`${agent}: a hook that ${what}`, async (t) => {
        const bin = requireAgent(agent, t);
        if (!bin) return;
        const p = makeProject();
        const ran = join(p.workdir, "ran.txt");
        handHook(agent, p.userHome, `cat >/dev/null; ${command}`, timeout);
        const model = await startFakeModel({
          scenario: parseScenario({ turns: [shell(agent, `cat marker.txt > ${ran}`)] }),
        });
        t.after(() => model.close());
        const codexTrust = agent === "codex" ? ["--dangerously-bypass-hook-trust"] : [];
        const run = await runFullAccess(agent, bin, model, p, codexTrust);
        assert.equal(run.status, 0, run.stderr.slice(-2000));
        if (command === "echo not-json" || command === "echo '{oops'") {
          // Both read an exit-0 answer they cannot parse as no decision (onFailure does not cover it).
          assert.equal(existsSync(ran), true, `${agent} ran the call: an unreadable answer is no objection`);
        } else if (agent === "claude-code") {
          // onFailure "block": the failure counts as a block.
          assert.equal(existsSync(ran), false, "Claude Code blocked the call");
          assert.match(toolResults(model.turns().at(-1))[0] ?? "", /onFailure|hook error/);
        } else {
          // Codex has no onFailure: a hook that fails or times out lets the call run.
          assert.equal(existsSync(ran), true, "Codex ran the call despite the failing hook");
        }
      });
});

describe("a hook file that is not valid JSON (what doctor warns about)", () => {
  for (const agent of ["claude-code", "codex"] as const)
    test(`${agent}: every hook in it is ignored, and the call runs`, async (t) => {
      const bin = requireAgent(agent, t);
      if (!bin) return;
      const p = makeProject();
      const set = await setupAgent(agent, airlock.home, p, {
        wait: 1,
        ...(agent === "codex" ? { codexBin: bin } : {}),
      });
      assert.equal(set.status, 0, set.stderr + set.stdout);
      // One stray comma after the hook setup wrote (the secrets hard stop would deny this read otherwise).
      const file = join(p.userHome, agent === "claude-code" ? ".claude/settings.json" : ".codex/hooks.json");
      writeFileSync(file, readFileSync(file, "utf8").replace(/\}\s*$/, "},\n"));
      const model = await startFakeModel({
        scenario: parseScenario({ turns: [shell(agent, "cat .env")] }),
      });
      t.after(() => model.close());
      const run = await runFullAccess(agent, bin, model, p);
      assert.equal(run.status, 0, run.stderr.slice(-2000));
      const result = toolResults(model.turns().at(-1))[0] ?? "";
      assert.ok(result.includes(SECRET), `${agent} ignored the broken file and ran cat .env: ${result}`);
    });
});
