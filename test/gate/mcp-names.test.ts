// A hook's `mcp__a__b__c` name splits more than one way; the gate decides every reading and the
// most restrictive decision stands.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createGateDecider } from "../../src/gate/decider.ts";
import { mcpNameReadings } from "../../src/gate/mcp/names.ts";

const home = mkdtempSync(join(tmpdir(), "airlock-mcp-names-"));
after(() => rmSync(home, { recursive: true, force: true }));
const policy = join(home, "gate.yaml");
writeFileSync(
  policy,
  `gate:
  hard_stops:
    - { id: no-admin, decision: deny, reason: the admin server is off limits, mcp: { server: db__admin } }
  allow:
    - { id: db-read, mcp: { server: db, tool: "get_*" } }
    - { id: any-db-read, mcp: { server: "db*", tool: "get_*" } }
`,
);
const decider = createGateDecider({ policy, receipts: join(home, "receipts.jsonl") });
const decide = async (tool_name: string) => {
  const v = await decider.decide({ tool_name, tool_input: {} }, { cwd: home });
  assert.ok(v.ok, JSON.stringify(v));
  return v;
};

describe("MCP tool names", () => {
  it("lists every reading of a name", () => {
    assert.deepEqual(mcpNameReadings("mcp__db__get__query"), [
      { server: "db", tool: "get__query" },
      { server: "db__get", tool: "query" },
    ]);
    assert.deepEqual(mcpNameReadings("mcp__a___b"), [
      { server: "a", tool: "_b" },
      { server: "a_", tool: "b" },
    ]);
    assert.deepEqual(mcpNameReadings("mcp__nothing"), []);
  });

  it("mcp__db__get__query is not allowed by get_* on server db: the other reading has no rule", async () => {
    const v = await decide("mcp__db__get__query");
    assert.equal(v.ok && v.decision, "ask");
    const plain = await decide("mcp__db__get_rows");
    assert.equal(plain.ok && plain.decision, "allow");
  });

  it("a hard stop on one reading stops the call, whichever reading was meant", async () => {
    const v = await decide("mcp__db__admin__get_users");
    assert.equal(v.ok && v.decision, "deny");
    assert.equal(v.ok && v.rule, "no-admin");
  });

  it("a name that names no tool is decided as an unknown tool", async () => {
    const v = await decide("mcp__nothing");
    assert.equal(v.ok && v.decision, "ask");
  });
});
