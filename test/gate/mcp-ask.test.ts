// The MCP proxy's asks wait for the developer on the gateway: allowed → the call goes through,
// denied → refused with the reason, no gateway → refused.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type RunningGateway, startGateway } from "../../src/gateway/server.ts";
import { GatewayClient } from "../../src/protocol/client.ts";
import { whenAsked } from "./ask-helpers.ts";
import { connectThroughProxy } from "./mcp-helpers.ts";

const home = mkdtempSync(join(tmpdir(), "airlock-mcp-ask-"));
const policy = join(home, "gate.yaml");
writeFileSync(
  policy,
  `gate:
  default: ask
  hard_stops:
    - { id: confirm-delete, decision: ask, reason: deleting is irreversible, mcp: { server: demo, tool: "delete_*" } }
  allow:
    - { id: weather, mcp: { server: demo, tool: get_weather } }
`,
);

function connect(env: Record<string, string>): Promise<Client> {
  return connectThroughProxy(policy, ["--ask-wait-ms", "20000"], {
    AIRLOCK_HOME: home,
    TOOL_VARIANT: "1",
    ...env,
  });
}

const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]?.text ?? "";

describe("airlock mcp-proxy asks on the gateway", { timeout: 60_000 }, () => {
  let gw: RunningGateway;
  let op: GatewayClient;
  before(async () => {
    gw = await startGateway({ home, port: 0, db: `sqlite:${join(home, "gateway.db")}` });
    op = new GatewayClient({ url: gw.url, token: gw.operatorToken });
  });
  after(async () => {
    await gw.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("allowed → the call reaches the server; denied → refused with the reason", async () => {
    const client = await connect({ AIRLOCK_GATEWAY: gw.url, AIRLOCK_TOKEN: gw.operatorToken });
    try {
      const allow = await whenAsked(op, (id) => op.allowAsk(id));
      const ok = await client.callTool({ name: "list_repos", arguments: {} });
      const id = await allow.done;
      assert.equal(ok.isError ?? false, false, text(ok));
      const ask = await op.getAsk(id);
      assert.deepEqual(
        [ask.tool, ask.summary],
        ["mcp:demo/list_repos", "mcp demo/list_repos (no arguments)"],
      );
      const deny = await whenAsked(op, (askId) => op.denyAsk(askId, "not now"));
      const name = `prod -- read-only ${"x".repeat(400)}`;
      const token = `ghp_${"A1".repeat(20)}`;
      const refused = await client.callTool({ name: "delete_repo", arguments: { name, token } });
      const denied = await op.getAsk(await deny.done);
      assert.equal(refused.isError, true);
      assert.match(text(refused), /denied by operator .*: not now/);
      // The developer sees the values (the agent picks the names too), secrets redacted, long
      // values cut with a mark, and the rule that asked.
      assert.match(
        denied.summary,
        /^mcp demo\/delete_repo \{"name":"prod -- read-only x{140,}…\[\+\d+ chars\]"/,
      );
      assert.doesNotMatch(denied.summary, /A1A1A1/);
      assert.match(denied.summary, /"token":"\[redacted\]"|\[redacted\]/);
      assert.deepEqual([denied.rule, denied.reason], ["confirm-delete", "deleting is irreversible"]);
    } finally {
      await client.close();
    }
  });

  it("a tool that changed since it was pinned is reported in the developer's inbox", async () => {
    const env = { AIRLOCK_GATEWAY: gw.url, AIRLOCK_TOKEN: gw.operatorToken };
    const first = await connect(env);
    await first.listTools(); // pins the tools (if the first test has not)
    await first.close();
    const client = await connect({ ...env, TOOL_VARIANT: "2" });
    try {
      const listed = await client.listTools();
      assert.ok(!listed.tools.some((t) => t.name === "get_weather"));
    } finally {
      await client.close();
    }
    let notice: Awaited<ReturnType<typeof op.listAsks>>[number] | undefined;
    for (let i = 0; i < 100 && !notice; i++) {
      notice = (await op.listAsks()).find((a) => a.rule === "mcp-pin" && a.tool === "mcp:demo/get_weather");
      if (!notice) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(notice, "an inbox entry names the changed tool");
    assert.match(
      notice.summary,
      /changed: description; review it with `airlock gate mcp show demo get_weather` \(withheld from the agent\)/,
    );
  });

  it("no gateway → refused with the reason", async () => {
    const client = await connect({
      AIRLOCK_GATEWAY: "",
      AIRLOCK_TOKEN: "",
      AIRLOCK_HOME: join(home, "none"),
    });
    try {
      const refused = await client.callTool({ name: "list_repos", arguments: {} });
      assert.equal(refused.isError, true);
      assert.match(text(refused), /ask .*no gateway.*refused/);
    } finally {
      await client.close();
    }
  });
});
