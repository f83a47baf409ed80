// Claude Code's `http` hook type (POST the PreToolUse payload to a URL) with `onFailure: "block"`,
// against the real client: what it does with the call when the decider is down, slow, or answers
// something that is not a decision, and with the gateway's own allow / deny / ask. Each test
// asserts on the victim file (did the tool run), not only on what Claude Code printed.
// The finding these tests pin: a 2xx answer with an empty body, or a JSON object holding none of a
// hook answer's fields, is read as "no objection" and the call runs, onFailure or not. That is
// why `airlock agent setup` keeps installing the command hook (bin/airlock-hook accepts only the
// exact answer the gateway writes) and does not offer the http hook.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { parseScenario } from "../../src/demo/fake-model/scenario.ts";
import { startFakeModel, toolResults } from "../../src/demo/fake-model/server.ts";
import { WITHDRAWN_NOTE } from "../../src/protocol/hook-wire.ts";
import {
  type Airlock,
  doctorAgent,
  GATE_POLICY,
  MARKER,
  makeProject,
  setupAgent,
  shellTurn,
  startAirlock,
} from "./harness.ts";
import { requireAgent } from "./locate.ts";
import { runAgent } from "./run-agent.ts";

/** The header Claude Code fills from the environment (only variables listed in allowedEnvVars). */
const TOKEN_VAR = "AIRLOCK_HOOK_TOKEN";
const HOOK_TIMEOUT_S = 2;

type Reply = (req: IncomingMessage, res: ServerResponse) => void;
const send =
  (status: number, body: string): Reply =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  };

/** Stand-in deciders, one per path: each answers the way its name says. */
const STAND_INS: Record<string, Reply> = {
  allow: send(200, '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"}}'),
  silent: () => {},
  "hang-up": (req) => req.socket.destroy(),
  "status-500": send(
    500,
    '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny"}}',
  ),
  "status-404": send(404, "not found"),
  "redirect-to-allow": (_req, res) => {
    res.writeHead(302, { location: "/allow" });
    res.end();
  },
  "not-json": send(200, "<html>ok</html>"),
  "broken-json": send(200, '{"hookSpecificOutput":{"permissionDecision":"allow"'),
  "json-array": send(200, "[]"),
  "unknown-decision": send(
    200,
    '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"maybe"}}',
  ),
  "decision-not-a-string": send(
    200,
    '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":1}}',
  ),
  "empty-200": send(200, ""),
  "empty-object": send(200, "{}"),
  "unrelated-json": send(200, '{"status":"ok","version":"1.2.3"}'),
};

let airlock: Airlock;
let standIn: Server;
let standInUrl: string;
let requests: Array<{ path: string; authorization: string | undefined }>;
before(async () => {
  airlock = await startAirlock();
  requests = [];
  standIn = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests.push({ path: req.url ?? "", authorization: req.headers.authorization });
      (STAND_INS[(req.url ?? "").slice(1)] ?? send(404, ""))(req, res);
    });
  });
  await new Promise<void>((r) => standIn.listen(0, "127.0.0.1", r));
  standInUrl = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
});
after(async () => {
  standIn.closeAllConnections();
  await Promise.all([airlock.close(), new Promise((r) => standIn.close(r))]);
});

/** The hook as one would hand-write it in ~/.claude/settings.json. */
function installHttpHook(userHome: string, url: string, o: { onFailure?: "block" } = {}): void {
  mkdirSync(join(userHome, ".claude"), { recursive: true });
  const handler = {
    type: "http",
    url,
    timeout: HOOK_TIMEOUT_S,
    headers: { Authorization: `Bearer $${TOKEN_VAR}` },
    allowedEnvVars: [TOKEN_VAR],
    ...o,
  };
  writeFileSync(
    join(userHome, ".claude", "settings.json"),
    JSON.stringify({ hooks: { PreToolUse: [{ matcher: "*", hooks: [handler] }] } }),
  );
}

/** One Bash call through the http hook at `url`, in bypassPermissions (only the hook stands in the way). */
async function oneCall(
  t: TestContext,
  bin: string,
  url: string,
  o: { onFailure?: "block"; token?: string; command?: (ran: string) => string } = { onFailure: "block" },
): Promise<{ ran: boolean; ranFile: string; result: string }> {
  const p = makeProject();
  const ran = join(p.workdir, "ran.txt");
  installHttpHook(p.userHome, url, o.onFailure ? { onFailure: o.onFailure } : {});
  const command = o.command ? o.command(ran) : `cat marker.txt > ${ran}`;
  const model = await startFakeModel({
    scenario: parseScenario({ turns: [shellTurn("claude-code", command)] }),
  });
  t.after(() => model.close());
  const run = await runAgent({
    agent: "claude-code",
    bin,
    model,
    prompt: "go",
    cwd: p.workdir,
    home: p.userHome,
    permissionMode: "bypassPermissions",
    env: { [TOKEN_VAR]: o.token ?? "standin-token" },
  });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  return { ran: existsSync(ran), ranFile: ran, result: toolResults(model.turns().at(-1))[0] ?? "" };
}

const BLOCKED = /blocking because onFailure is "block"/;

describe("claude-code http hook, onFailure block: the decider failing", () => {
  test("down (connection refused): blocked", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/v1/gate/hook/claude-code`;
    await new Promise((r) => closed.close(r));
    const r = await oneCall(t, bin, url);
    assert.equal(r.ran, false, r.result);
    assert.match(r.result, BLOCKED);
    assert.match(r.result, /ECONNREFUSED/);
  });

  for (const [name, why] of [
    ["silent", /timed out; blocking because onFailure is "block"/],
    ["hang-up", /socket hang up/],
    ["status-500", /HTTP 500/],
    ["status-404", /HTTP 404/],
    ["redirect-to-allow", /HTTP 302/],
    ["not-json", /must return JSON/],
    ["broken-json", /must return valid JSON/],
    ["json-array", /must return JSON/],
    ["unknown-decision", /validation failed/],
    ["decision-not-a-string", /validation failed/],
  ] as const)
    test(`${name}: blocked`, async (t) => {
      const bin = requireAgent("claude-code", t);
      if (!bin) return;
      const r = await oneCall(t, bin, `${standInUrl}/${name}`);
      assert.equal(r.ran, false, r.result);
      assert.match(r.result, BLOCKED);
      assert.match(r.result, why);
      assert.equal(
        requests.at(-1)?.authorization,
        "Bearer standin-token",
        "the header came from the environment",
      );
    });

  // The client's own rule, and the reason the http hook is not installed: these are no decision,
  // and no decision lets the call run.
  for (const name of ["empty-200", "empty-object", "unrelated-json"] as const)
    test(`${name}: the call RUNS (a 2xx without a decision is no objection)`, async (t) => {
      const bin = requireAgent("claude-code", t);
      if (!bin) return;
      const r = await oneCall(t, bin, `${standInUrl}/${name}`);
      assert.equal(r.ran, true, r.result);
    });

  // The header's token comes from the agent's environment, and so the agent's own tools see it:
  // with the operator token there, the agent could answer its own asks through the gateway.
  test("the header's variable is in the environment of the agent's tools", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await oneCall(t, bin, `${standInUrl}/allow`, {
      onFailure: "block",
      token: "tok-in-env-4d1f",
      command: () => `echo "token=$${TOKEN_VAR}"`,
    });
    assert.equal(requests.at(-1)?.authorization, "Bearer tok-in-env-4d1f");
    assert.match(r.result, /token=tok-in-env-4d1f/);
  });

  test("without onFailure, a decider answering 500 lets the call run", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await oneCall(t, bin, `${standInUrl}/status-500`, {});
    assert.equal(r.ran, true, r.result);
  });
});

describe("claude-code http hook to the gateway's hook route", () => {
  const hookUrl = (wait: number) =>
    `${airlock.gw.url}/v1/gate/hook/claude-code?policy=${encodeURIComponent(GATE_POLICY)}&wait=${wait}`;
  /** One call through the gateway with the operator token in the header; asks wait `wait` seconds. */
  const viaGateway = (t: TestContext, bin: string, wait: number, command: (ran: string) => string) =>
    oneCall(t, bin, hookUrl(wait), { onFailure: "block", token: airlock.gw.operatorToken, command });

  test("allow: the call runs and its output reaches the model", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await viaGateway(t, bin, 1, () => "cat marker.txt");
    assert.match(r.result, new RegExp(MARKER));
  });

  test("deny: blocked with the gate's reason", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await viaGateway(t, bin, 1, (ran) => `cat .env > ${ran}`);
    assert.equal(r.ran, false, r.result);
    assert.match(r.result, /hard_stop secrets/);
  });

  test("ask nobody answers within the gateway's wait: denied and withdrawn", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await viaGateway(t, bin, 1, (ran) => `touch ${ran}`);
    assert.equal(r.ran, false, r.result);
    assert.match(r.result, /within 1s; denied, and the ask is withdrawn/);
    const ask = (await airlock.op.listAsks({})).find((a) => a.summary.includes(r.ranFile));
    assert.deepEqual([ask?.status, ask?.decision_reason], ["expired", WITHDRAWN_NOTE]);
  });

  test("ask waiting longer than the hook's timeout: blocked by onFailure", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await viaGateway(t, bin, HOOK_TIMEOUT_S + 3, (ran) => `touch ${ran}`);
    assert.equal(r.ran, false, r.result);
    assert.match(r.result, /timed out; blocking because onFailure is "block"/);
  });

  test("a wrong token: the gateway's 401 blocks", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const r = await oneCall(t, bin, hookUrl(1), { onFailure: "block", token: "not-the-token" });
    assert.equal(r.ran, false, r.result);
    assert.match(r.result, /HTTP 401/);
  });
});

describe("airlock agent doctor|setup and an http hook to the gateway", () => {
  test("doctor names it and the fix; setup replaces it with the command hook", async (t) => {
    const bin = requireAgent("claude-code", t);
    if (!bin) return;
    const p = makeProject();
    const url = `${airlock.gw.url}/v1/gate/hook/claude-code?wait=1`;
    installHttpHook(p.userHome, url, { onFailure: "block" });
    const doc = await doctorAgent("claude-code", airlock.home, p);
    assert.equal(doc.status, 1, doc.stdout + doc.stderr);
    assert.match(
      doc.stdout + doc.stderr,
      /an http hook to the gateway: Claude Code runs the call when the answer is a 2xx without a decision/,
    );
    assert.match(doc.stdout + doc.stderr, /airlock agent setup claude-code --user/);
    const set = await setupAgent("claude-code", airlock.home, p, { wait: 1 });
    assert.equal(set.status, 0, set.stderr + set.stdout);
    assert.match(set.stdout, /PreToolUse hook updated/);
    const groups = JSON.parse(readFileSync(join(p.userHome, ".claude", "settings.json"), "utf8")).hooks
      .PreToolUse;
    assert.deepEqual(
      groups.flatMap((g: { hooks: Array<{ type: string }> }) => g.hooks.map((h) => h.type)),
      ["command"],
      "the http hook is gone, the command hook is the only one",
    );
    const again = await doctorAgent("claude-code", airlock.home, p);
    assert.equal(again.status, 0, again.stdout + again.stderr);
  });
});
