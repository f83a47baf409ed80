// A hook payload the gate cannot read is never read as empty: a missing or wrong-typed field is
// an error with its name, which the adapters turn into an ask (Codex: a denial) with the reason.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { callsFromHook, callsFromValue, parseHookPayload } from "../../src/gate/adapters/hook-input.ts";
import { agentAnswer } from "../../src/protocol/hook-wire.ts";

const hook = (tool_name: string, tool_input: unknown) => JSON.stringify({ tool_name, tool_input, cwd: "/w" });

function callsOf(text: string) {
  const p = parseHookPayload(text);
  if ("error" in p) return p;
  return callsFromHook(p, "/w");
}

describe("hook payloads with missing or wrong-typed fields", () => {
  for (const [what, text, message] of [
    [
      "Bash command a number",
      hook("Bash", { command: 5 }),
      /Bash: tool_input\.command is a number, not a string/,
    ],
    [
      "Bash command an object",
      hook("Bash", { command: { x: 1 } }),
      /Bash: tool_input\.command is an object, not a string/,
    ],
    ["Bash command missing", hook("Bash", {}), /Bash: tool_input\.command is missing/],
    ["Bash argv with a number", hook("Bash", { command: ["ls", 1] }), /not a list of strings/],
    [
      "exec_command cmd null",
      hook("exec_command", { cmd: null }),
      /exec_command: tool_input\.cmd is null, not a string/,
    ],
    ["Read file_path a number", hook("Read", { file_path: 1 }), /Read: tool_input\.file_path is a number/],
    ["Write file_path missing", hook("Write", { content: "x" }), /Write: tool_input\.file_path is missing/],
    ["Glob path a number", hook("Glob", { path: 7, pattern: "*" }), /Glob: tool_input\.path is a number/],
    ["WebFetch url missing", hook("WebFetch", {}), /WebFetch: tool_input\.url is missing/],
    ["apply_patch without text", hook("apply_patch", { patch: 3 }), /apply_patch: no patch text/],
    ["tool_input an array", hook("Bash", ["ls"]), /tool_input is not an object/],
    ["tool_input missing", JSON.stringify({ tool_name: "Bash" }), /tool_input is missing/],
    [
      "cwd a number",
      JSON.stringify({ tool_name: "Bash", tool_input: { command: "ls" }, cwd: 1 }),
      /cwd is not a string/,
    ],
    ["not an object", "[1,2]", /not an object/],
  ] as const)
    it(`${what} → an error naming the field`, () => {
      const r = callsOf(text);
      assert.ok("error" in r, JSON.stringify(r));
      assert.match(r.error, message);
    });

  it("well-typed payloads still read as before", () => {
    assert.deepEqual(callsOf(hook("Bash", { command: "ls" })), [{ kind: "shell", command: "ls" }]);
    assert.deepEqual(callsOf(hook("exec_command", { cmd: "ls -la" })), [
      { kind: "shell", command: "ls -la" },
    ]);
    assert.deepEqual(callsOf(hook("Glob", { pattern: "*" })), [{ kind: "file_read", path: "/w" }]);
    // A search reads where its file glob starts too, wherever that is.
    assert.deepEqual(callsOf(hook("Glob", { pattern: "~/.ssh/*" })), [
      { kind: "file_read", path: "/w" },
      { kind: "file_read", path: "~/.ssh" },
    ]);
    assert.deepEqual(callsOf(hook("Grep", { pattern: "KEY", glob: "../../etc/*.conf", path: "/w" })), [
      { kind: "file_read", path: "/w" },
      { kind: "file_read", path: "/w/../../etc" },
    ]);
    assert.deepEqual(callsOf(hook("Bash", { command: ["ls", "a b"] })), [
      { kind: "shell", command: "ls 'a b'" },
    ]);
  });

  it("calls given directly are type-checked too", () => {
    for (const call of [
      { kind: "shell", command: 1 },
      { kind: "file_read" },
      { kind: "fetch", method: "GET", url: ["x"] },
      { kind: "mcp", server: "s", tool: "t", arguments: [] },
    ]) {
      const r = callsFromValue(call, "/w");
      assert.ok("error" in r, JSON.stringify(call));
      assert.match(r.error, /is (missing|an? \w+), not (a string|an object)/);
    }
  });

  it("an ask reaches each agent in its own terms", () => {
    assert.match(agentAnswer("claude-code", "ask", "why"), /"permissionDecision":"ask"/);
    const codex = JSON.parse(agentAnswer("codex", "ask", "why"));
    assert.equal(codex.hookSpecificOutput.permissionDecision, "deny");
    assert.equal(codex.hookSpecificOutput.permissionDecisionReason, "needs approval (ask): why");
    assert.equal(agentAnswer("codex", "allow", "fine"), "", "Codex allow is an empty answer");
    assert.match(agentAnswer("codex", "deny", " "), /"permissionDecisionReason":"airlock gate: denied"/);
  });
});
