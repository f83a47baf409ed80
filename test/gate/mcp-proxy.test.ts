import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectThroughProxy } from "./mcp-helpers.ts";

const home = mkdtempSync(join(tmpdir(), "airlock-mcp-"));
after(() => rmSync(home, { recursive: true, force: true }));
const policy = join(home, "gate.yaml");
writeFileSync(
  policy,
  `gate:
  hard_stops:
    - { id: no-delete, decision: deny, reason: deleting repositories is irreversible, mcp: { server: demo, tool: "delete_*" } }
  allow:
    - { id: weather, mcp: { server: demo, tool: [get_weather, list_repos] } }
    - { id: readme, mcp: { server: demo, tool: [resources/read, prompts/get] } }
`,
);

function connect(variant: string): Promise<Client> {
  return connectThroughProxy(policy, [], { AIRLOCK_HOME: home, TOOL_VARIANT: variant });
}

const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]?.text ?? "";

describe("airlock mcp-proxy", { timeout: 60000 }, () => {
  it("lists the server's tools and gates every call", async () => {
    const client = await connect("1");
    try {
      const tools = await client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ["delete_repo", "get_weather", "list_repos"]);
      const ok = await client.callTool({ name: "get_weather", arguments: { city: "Oslo" } });
      assert.equal(ok.isError ?? false, false);
      assert.equal(text(ok), "sunny in Oslo");
      const denied = await client.callTool({ name: "delete_repo", arguments: { name: "x" } });
      assert.equal(denied.isError, true);
      assert.match(text(denied), /deny.*no-delete.*irreversible/);
    } finally {
      await client.close();
    }
  });

  it("passes resources and prompts the policy allows through", async () => {
    const client = await connect("1");
    try {
      const resources = await client.listResources();
      assert.deepEqual(
        resources.resources.map((r) => r.uri),
        ["demo://readme"],
      );
      const read = await client.readResource({ uri: "demo://readme" });
      assert.equal((read.contents[0] as { text: string }).text, "hello from a resource");
      const prompts = await client.listPrompts();
      assert.deepEqual(
        prompts.prompts.map((p) => p.name),
        ["greet"],
      );
    } finally {
      await client.close();
    }
  });

  it("pins descriptions: a changed description turns that tool's calls into asks", async () => {
    const pins = JSON.parse(readFileSync(join(home, "gate", "mcp-pins.json"), "utf8"));
    assert.match(pins.servers.demo.get_weather.hash, /^sha256:/);
    const client = await connect("2");
    try {
      const listed = await client.listTools();
      assert.ok(!listed.tools.some((t) => t.name === "get_weather"), "a changed tool is withheld");
      const changed = await client.callTool({ name: "get_weather", arguments: { city: "Oslo" } });
      assert.equal(changed.isError, true);
      assert.match(text(changed), /demo\/get_weather changed since it was pinned \(description\)/);
      const unchanged = await client.callTool({ name: "list_repos", arguments: {} });
      assert.equal(text(unchanged), "a, b");
    } finally {
      await client.close();
    }
  });

  it("checks pins even when a tool is called without listing first", async () => {
    const client = await connect("2");
    try {
      const changed = await client.callTool({ name: "get_weather", arguments: { city: "Oslo" } });
      assert.equal(changed.isError, true);
    } finally {
      await client.close();
    }
  });
});
