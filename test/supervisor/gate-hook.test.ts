// bin/airlock-hook inside a real `airlock run`, where it has no gateway and no token: it asks
// policy.local through the sandbox's proxy, and the supervisor forwards the call to the gateway
// as the sandbox. Every way the gateway side fails ends as a denial with the reason, in time:
// no gateway at all (--no-gateway), one that never came up, one that drops the call or never
// answers, one that answers garbage or an error. The stand-in gateway records what the supervisor sent it: the sandbox's own token, the
// sandbox's workdir, the payload as the agent wrote it, and never a policy the sandbox named.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const HOOK = join(REPO, "bin", "airlock-hook");
const OPERATOR_TOKEN = "standin-operator-token-3b1f";
const SANDBOX_TOKEN = "standin-sandbox-token-9c2e";

interface Seen {
  method: string;
  url: string;
  authorization: string;
  body: string;
}

/** A gateway stand-in: registers sandboxes, and answers the hook route as `hook` says. */
async function standInGateway(hook: (res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString("utf8");
    });
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        authorization: req.headers.authorization ?? "",
        body,
      });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (req.method === "POST" && req.url === "/v1/sandboxes")
        return json(201, { sandbox: {}, token: SANDBOX_TOKEN, revision: {} });
      if (req.url?.startsWith("/v1/gate/hook/")) return hook(res);
      json(404, { error: "not_found", detail: "stand-in" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let dir: string;
before(() => {
  dir = scratchDir("gate-hook-sandbox");
});
after(() => removeDir(dir));

const PAYLOAD = (cwd: string) =>
  JSON.stringify({ tool_name: "Bash", tool_input: { command: "cat marker.txt" }, cwd, session_id: "s-1" });

/** Runs the hook once inside `airlock run` and returns its stdout (the agent's answer). */
async function hookInSandbox(
  name: string,
  o: { gateway?: string; wait?: number; maxTime?: number; agent?: string },
): Promise<{ answer: string; code: number | null; stderr: string; workdir: string }> {
  const workdir = join(dir, name);
  const airlockHome = join(dir, `${name}-home`);
  mkdirSync(workdir);
  writeFileSync(join(workdir, "payload.json"), PAYLOAD(workdir));
  const script = `${HOOK} ${o.agent ?? "claude-code"} --policy /tmp/sandbox-chosen.yaml --workdir / --wait ${o.wait ?? 2} --max-time ${o.maxTime ?? 7} <payload.json`;
  const r = await runCli(
    [
      "run",
      "--name",
      name,
      "--workdir",
      workdir,
      ...(o.gateway ? [] : ["--no-gateway"]),
      "--",
      "bash",
      "-c",
      script,
    ],
    {
      airlockHome,
      cwd: workdir,
      gateway: true,
      env: o.gateway ? { AIRLOCK_GATEWAY: o.gateway, AIRLOCK_TOKEN: OPERATOR_TOKEN } : {},
      timeoutMs: 60_000,
    },
  );
  return { answer: r.stdout.trim(), code: r.code, stderr: r.stderr, workdir };
}

function reasonOf(answer: string): { decision: string; reason: string } {
  const out = JSON.parse(answer) as {
    hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string };
  };
  return {
    decision: out.hookSpecificOutput.permissionDecision,
    reason: out.hookSpecificOutput.permissionDecisionReason,
  };
}

test("a sandbox without a gateway: the hook inside is denied with the reason", async () => {
  const r = await hookInSandbox("no-gateway", {});
  assert.equal(r.code, 0, r.stderr);
  const { decision, reason } = reasonOf(r.answer);
  assert.equal(decision, "deny");
  assert.match(reason, /policy\.local answered HTTP\/1\.1 503 .*runs without a gateway/);
});

test("payloads: a large one (a Write of 200 KiB) gets through to be decided; one over the gateway's 1 MiB is denied", async () => {
  const workdir = join(dir, "payload-sizes");
  mkdirSync(workdir);
  const write = (bytes: number) =>
    JSON.stringify({
      tool_name: "Write",
      tool_input: { file_path: join(workdir, "f"), content: "x".repeat(bytes) },
      cwd: workdir,
    });
  writeFileSync(join(workdir, "large.json"), write(200 * 1024));
  writeFileSync(join(workdir, "huge.json"), write(1100 * 1024));
  const script = [
    `${HOOK} claude-code --wait 1 --max-time 10 <large.json`,
    `${HOOK} claude-code --wait 1 --max-time 10 <huge.json`,
  ].join("\n");
  const r = await runCli(["run", "--no-gateway", "--workdir", workdir, "--", "bash", "-c", script], {
    airlockHome: join(dir, "payload-sizes-home"),
    cwd: workdir,
  });
  assert.equal(r.code, 0, r.stderr);
  const [large, huge] = r.stdout.trim().split("\n").map(reasonOf);
  assert.match(large?.reason ?? "", /runs without a gateway/, "past the body limit, to the missing gateway");
  assert.equal(huge?.decision, "deny");
  assert.match(huge?.reason ?? "", /413 .*limited to 1048576 bytes/);
});

test("the supervisor forwards as the sandbox: its own token, its workdir, the payload verbatim, no policy", async (t) => {
  const answer =
    '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"stand-in says yes"}}';
  const gw = await standInGateway((res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`${answer}\n`);
  });
  t.after(() => gw.close());
  const r = await hookInSandbox("forwarded", { gateway: gw.url });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.answer, answer, "the gateway's answer reaches the agent as it was written");
  const hook = gw.seen.filter((s) => s.url.startsWith("/v1/gate/hook/"));
  assert.equal(hook.length, 1);
  const call = hook[0] as Seen;
  assert.equal(call.authorization, `Bearer ${SANDBOX_TOKEN}`, "the sandbox's token, never the operator's");
  const url = new URL(call.url, "http://x");
  assert.equal(url.pathname, "/v1/gate/hook/claude-code");
  assert.deepEqual([...url.searchParams.keys()].sort(), ["wait", "workdir"], "no policy the sandbox chose");
  assert.equal(
    url.searchParams.get("workdir"),
    r.workdir,
    "the sandbox's workdir, not the hook's --workdir /",
  );
  assert.equal(url.searchParams.get("wait"), "2");
  assert.equal(call.body, PAYLOAD(r.workdir));
});

test("a gateway answering garbage, an error, or a truncated allow: denied with the reason", async (t) => {
  const cases: Array<{ name: string; send: (res: ServerResponse) => void; reason: RegExp }> = [
    {
      name: "garbage",
      send: (res) => res.end("allow, sure"),
      reason: /the gateway's answer is not the agent's format/,
    },
    {
      name: "error",
      send: (res) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end('{"error":"internal","detail":"boom"}');
      },
      reason: /the gateway answered 500 \(internal: boom\)/,
    },
    {
      name: "truncated",
      send: (res) =>
        res.end('{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"'),
      reason: /not the agent's format/,
    },
  ];
  for (const c of cases) {
    const gw = await standInGateway(c.send);
    t.after(() => gw.close());
    const r = await hookInSandbox(`answers-${c.name}`, { gateway: gw.url });
    assert.equal(r.code, 0, r.stderr);
    const { decision, reason } = reasonOf(r.answer);
    assert.equal(decision, "deny", c.name);
    assert.match(reason, c.reason, c.name);
  }
});

test("a gateway that never answers: denied within the hook's own deadline, by the supervisor", async (t) => {
  const gw = await standInGateway(() => {
    // accepts the call and never answers
  });
  t.after(() => gw.close());
  const r = await hookInSandbox("silent", { gateway: gw.url, wait: 1, maxTime: 30 });
  assert.equal(r.code, 0, r.stderr);
  const { decision, reason } = reasonOf(r.answer);
  assert.equal(decision, "deny");
  // The supervisor's answer (wait + 3 s), not the hook's own --max-time.
  assert.match(reason, /the gateway did not answer within 4s; denied/);
});

test("a gateway gone mid-call (the connection dropped): denied with the reason", async (t) => {
  const gw = await standInGateway((res) => res.socket?.destroy());
  t.after(() => gw.close());
  const r = await hookInSandbox("dropped", { gateway: gw.url });
  assert.equal(r.code, 0, r.stderr);
  const { decision, reason } = reasonOf(r.answer);
  assert.equal(decision, "deny");
  assert.match(reason, /the gateway is not reachable; denied/);
});

test("a gateway that never came up (the sandbox never registered): denied with the reason", async () => {
  const closed = createNetServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const r = await hookInSandbox("unregistered", { gateway: `http://127.0.0.1:${port}` });
  assert.equal(r.code, 0, r.stderr);
  const { decision, reason } = reasonOf(r.answer);
  assert.equal(decision, "deny");
  assert.match(reason, /not registered with the gateway yet/);
});

test("Codex inside: the same denial, in Codex's words (a reason, never an empty allow)", async () => {
  const r = await hookInSandbox("codex-no-gateway", { agent: "codex" });
  assert.equal(r.code, 0, r.stderr);
  const { decision, reason } = reasonOf(r.answer);
  assert.equal(decision, "deny");
  assert.match(reason, /runs without a gateway/);
});

/** bin/airlock-hook as the sandbox runs it (AIRLOCK_SANDBOX set, no gateway.json), here on the host. */
function hookAsInside(proxy: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const home = join(dir, `empty-home-${Math.random().toString(36).slice(2)}`);
  mkdirSync(home);
  return new Promise((resolve, reject) => {
    const child = spawn(HOOK, ["claude-code", "--wait", "1", "--max-time", "2"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        AIRLOCK_HOME: home,
        AIRLOCK_SANDBOX: "s",
        HTTP_PROXY: proxy,
        ...extraEnv,
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", () => resolve(out));
    child.stdin.end(PAYLOAD("/tmp"));
  });
}

test("the hook inside: the proxy unreachable, or silent, is a denial; no token is ever sent", async (t) => {
  const closed = createNetServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  assert.match(
    reasonOf(await hookAsInside(`http://127.0.0.1:${closedPort}`)).reason,
    /the sandbox's proxy is unreachable/,
  );

  const received: Buffer[] = [];
  const silent = createNetServer((socket) => socket.on("data", (d) => received.push(d)));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.after(() => {
    silent.close();
  });
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const answer = reasonOf(await hookAsInside(url, { AIRLOCK_TOKEN: OPERATOR_TOKEN }));
  assert.equal(answer.decision, "deny");
  assert.match(answer.reason, /no answer from policy\.local within 2s/);
  const request = Buffer.concat(received).toString("utf8");
  assert.match(
    request,
    /^POST http:\/\/policy\.local\/v1\/gate\/hook\/claude-code\?wait=1 HTTP\/1\.1\r\nHost: policy\.local\r\n/,
  );
  assert.doesNotMatch(request, /authorization/i, "inside, the hook sends no credential");
  assert.ok(!request.includes(OPERATOR_TOKEN));
});

test("Airlock installed in the user's home: its hook is there inside, read-only, the rest hidden", async (t) => {
  const home = dirname(REPO);
  if (home === "/") return t.skip("the checkout is not in a folder that can stand for a home");
  const workdir = join(dir, "installed-in-home");
  mkdirSync(workdir);
  writeFileSync(join(workdir, "payload.json"), PAYLOAD(workdir));
  const script = [
    `test -x ${HOOK} && echo hook-there`,
    `test -e ${join(REPO, "package.json")} || echo package-hidden`,
    `touch ${join(REPO, "bin", "planted")} 2>/dev/null || echo bin-read-only`,
    `${HOOK} claude-code --wait 1 --max-time 5 <payload.json`,
  ].join("\n");
  const r = await runCli(["run", "--workdir", workdir, "--", "bash", "-c", script], {
    airlockHome: join(dir, "installed-in-home-airlock"),
    cwd: workdir,
    env: { HOME: home },
  });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.deepEqual(lines.slice(0, 3), ["hook-there", "package-hidden", "bin-read-only"], r.stdout);
  assert.match(reasonOf(lines[3] ?? "").reason, /runs without a gateway/, "the hook ran inside");
  assert.match(r.stderr, /Airlock's gate hook \(bin\/airlock-hook\)/);
});
