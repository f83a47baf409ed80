// The pure parts of MCP gating: content normalisation, content rules over every tool of a
// server, file and fetch stops over arguments (with a resolver standing in for the disk), the
// allow's need for file and fetch coverage, and the pin file's strict reading.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarizeCall } from "../../src/gate/ask-summary.ts";
import type { CallContext, ToolCall } from "../../src/gate/call.ts";
import { decide } from "../../src/gate/cascade.ts";
import { normalizeContent } from "../../src/gate/mcp/arguments.ts";
import { changedFields, PinStoreError, parsePinFile, pinOf } from "../../src/gate/mcp/pins.ts";
import { analyzer, CTX, gateFrom } from "./helpers.ts";

const GATE = gateFrom(`
gate:
  hard_stops:
    - { id: secrets, decision: deny, reason: secrets, file: { path: ["~/.ssh/**"] } }
    - { id: drop, decision: deny, reason: drops, mcp: { server: db, tool: execute, arguments: { sql: ["*DROP TABLE*"] } } }
    - { id: paste, decision: deny, reason: paste, fetch: { method: POST, host: pastebin.com } }
  allow:
    - { id: mcp-read, mcp: { server: "*", tool: ["get_*", "read_*"] } }
    - { id: read-src, file: { op: read, path: "src/**" } }
    - { id: docs, fetch: { host: docs.example.org } }
    - { id: select, mcp: { server: db, tool: query, arguments: { sql: "SELECT *" } } }
`);

const mcp = (server: string, tool: string, args: Record<string, unknown>): ToolCall => ({
  kind: "mcp",
  server,
  tool,
  arguments: args,
});
const run = (call: ToolCall, ctx: CallContext = CTX) => decide(GATE, call, ctx, { analyze: analyzer });

describe("MCP rules", () => {
  it("normalises case, width, whitespace and SQL comments", () => {
    assert.equal(
      normalizeContent("DROP/**/TABLE\tx -- c\n; ＤＲＯＰ  /* a\n b */ table"),
      "drop table x ; drop table",
    );
  });

  it("a content stop applies to every tool of its server and any argument", async () => {
    for (const [tool, args] of [
      ["read_query", { query: "Drop Table users" }],
      ["execute", { statement: "drop/**/table t" }],
      ["anything", { nested: { list: ["x", "DROP\ntable y"] } }],
    ] as const)
      assert.equal((await run(mcp("db", tool, args))).decision, "deny", `${tool} ${JSON.stringify(args)}`);
    assert.equal((await run(mcp("other", "read_query", { q: "DROP TABLE x" }))).decision, "allow");
    assert.equal((await run(mcp("db", "read_rows", { q: "SELECT 1" }))).decision, "allow");
  });

  it("an allow with a content glob needs the value to match as written and normalised", async () => {
    assert.equal((await run(mcp("db", "query", { sql: "SELECT 1" }))).decision, "allow");
    assert.equal((await run(mcp("db", "query", { sql: "select 1" }))).decision, "ask");
  });

  it("file stops see paths as written and as the resolver leads them", async () => {
    const ctx = { ...CTX, realPath: (p: string) => (p === "/work/project/k" ? "/home/user/.ssh/id_rsa" : p) };
    assert.equal((await run(mcp("fs", "read_file", { path: "k" }), ctx)).decision, "deny");
    assert.equal(
      (await run(mcp("fs", "read_file", { path: "k" }))).decision,
      "ask",
      "without the resolver: not covered",
    );
    assert.equal((await run(mcp("fs", "read_file", { path: "src/a.ts" }), ctx)).decision, "allow");
    assert.equal(
      (await run(mcp("fs", "list_dir", { root: "~" }), ctx)).decision,
      "ask",
      "a directory above a secret",
    );
    assert.equal(
      (await run(mcp("fs", "get", { q: '{"p": ["~/.ssh/id_rsa"]}' }))).decision,
      "deny",
      "JSON in a string",
    );
    assert.equal((await run(mcp("fs", "get", { u: "file://host/home/user/.ssh/k" }))).decision, "deny");
    // Hard stops apply to every tool kind: a generic tool's input too.
    const tool: ToolCall = { kind: "tool", name: "Anything", input: { file: "~/.ssh/id_rsa" } };
    assert.equal((await run(tool)).decision, "deny");
  });

  it("URLs and hosts meet fetch stops with any method; an allow needs a GET allow for named URLs", async () => {
    assert.equal((await run(mcp("web", "get_page", { u: "pastebin.com" }))).decision, "deny");
    assert.equal((await run(mcp("web", "get_page", { u: "https://docs.example.org/a" }))).decision, "allow");
    const other = await run(mcp("web", "get_page", { u: "https://evil.example/a" }));
    assert.equal(other.decision, "ask");
    assert.match(other.reason, /no allow rule covers GET https:\/\/evil\.example\/a/);
  });

  it("asks show argument values, redacted and cut", () => {
    const line = summarizeCall(mcp("db", "query", { sql: `SELECT ${"x".repeat(300)}`, password: "hunter2" }));
    assert.match(line, /^mcp db\/query \{"password":\[redacted\],"sql":"SELECT x+…\[\+147 chars\]"\}$/);
  });
});

describe("MCP pins", () => {
  const tool = {
    name: "t",
    description: "d",
    inputSchema: { type: "object" },
    annotations: { readOnlyHint: true },
  };
  it("name every field that changed, added or removed", () => {
    const now = pinOf({ ...tool, description: "e", _meta: { x: 1 }, annotations: undefined });
    assert.deepEqual(changedFields(pinOf(tool), now), ["_meta", "annotations", "description"]);
  });
  it("a pin file of the wrong shape is refused with where it broke", () => {
    for (const [text, why] of [
      ["", /not JSON/],
      ['{"demo":{"t":"sha256:x"}}', /not a pin file/],
      ['{"v":1,"servers":{"demo":{"t":"sha256:x"}}}', /servers\.demo\.t is not a pin/],
      ['{"v":1,"servers":{"demo":[]}}', /servers\.demo is not an object/],
    ] as const)
      assert.throws(
        () => parsePinFile(text, "pins.json"),
        (e: Error) => e instanceof PinStoreError && why.test(e.message),
      );
  });
});
