// Every JSON-body route of the gateway answers malformed bodies (too deep, wrong types, not JSON)
// with a 4xx naming the problem, never a 500; POST /v1/gate/decide stores no ask for them.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGateDecider } from "../../src/gate/decider.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/server.ts";
import { GatewayClient } from "../../src/protocol/client.ts";
import { BASE_POLICY } from "./fixtures.ts";

const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
const objects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

const MALFORMED: Record<string, string> = {
  "deep array in MCP arguments": `{"kind":"mcp","server":"a","tool":"b","arguments":{"x":${nested(5000)}}}`,
  "deep objects in a hook payload": `{"tool_name":"mcp__a__b","tool_input":${objects(5000)}}`,
  "deep array, 100000 levels": `{"tool_name":"Bash","tool_input":{"x":${nested(100000)}}}`,
  "a number for a command": `{"kind":"shell","command":5}`,
  "an object for a command": `{"kind":"shell","command":{"a":1}}`,
  "arguments as a string": `{"kind":"mcp","server":"a","tool":"b","arguments":"x"}`,
  "a fetch without url": `{"kind":"fetch","method":"GET"}`,
  "a relative cwd": `{"kind":"shell","command":"ls","cwd":"rel"}`,
  "an array": "[1,2]",
  null: "null",
  "a string": '"x"',
  "not JSON": "{",
};

describe("gateway JSON bodies", { timeout: 120_000 }, () => {
  let home: string;
  let gw: RunningGateway;
  let op: GatewayClient;
  before(async () => {
    home = mkdtempSync(join(tmpdir(), "airlock-bodies-"));
    process.env.AIRLOCK_HOME = home;
    gw = await startGateway({
      home,
      port: 0,
      db: `sqlite:${join(home, "gateway.db")}`,
      gate: createGateDecider({ policy: join(process.cwd(), "examples/policies/gate.yaml") }),
    });
    op = new GatewayClient({ url: gw.url, token: gw.operatorToken });
    await op.register("sb1", BASE_POLICY);
  });
  after(async () => {
    await gw.close();
    rmSync(home, { recursive: true, force: true });
  });

  const send = (method: string, path: string, body: string) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${gw.operatorToken}`, "content-type": "application/json" },
      body,
    });

  it("POST /v1/gate/decide: every malformed body is a 400, and no ask is stored", async () => {
    const before = (await op.listAsks()).length;
    for (const [what, body] of Object.entries(MALFORMED)) {
      const res = await send("POST", "/v1/gate/decide", body);
      const answer = (await res.json()) as { error?: string; detail?: string };
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(answer)}`);
      assert.ok(answer.detail, what);
      assert.equal((answer as { decision?: string }).decision, "ask", `${what}: the caller is told to ask`);
    }
    assert.equal((await op.listAsks()).length, before);
    const ok = await send("POST", "/v1/gate/decide", '{"kind":"shell","command":"git status"}');
    assert.equal(ok.status, 200);
  });

  it("no JSON-body route answers a malformed body with a 5xx", async () => {
    const routes: Array<[string, string]> = [
      ["POST", "/v1/sandboxes"],
      ["PUT", "/v1/sandboxes/sb1/policy"],
      ["POST", "/v1/sandboxes/sb1/revisions/1/status"],
      ["POST", "/v1/sandboxes/sb1/chunks"],
      ["POST", "/v1/sandboxes/sb1/approve-all"],
      ["POST", "/v1/sandboxes/sb1/denials"],
      ["POST", "/v1/chunks/c1/approve"],
      ["POST", "/v1/chunks/c1/reject"],
      ["POST", "/v1/chunks/c1/edit"],
      ["PUT", "/v1/settings/approval_mode"],
      ["POST", "/v1/gate/asks"],
      ["POST", "/v1/gate/asks/00000000-0000-4000-8000-000000000000/allow"],
    ];
    for (const [method, path] of routes) {
      for (const [what, body] of Object.entries(MALFORMED)) {
        const res = await send(method, path, body);
        await res.body?.cancel();
        assert.ok(res.status < 500, `${method} ${path}, ${what}: ${res.status}`);
      }
    }
  });
});
