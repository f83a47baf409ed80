// docs/gate.md's table of what the preset decides, checked against the preset: every example
// of every row must get the row's decision.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ToolCall } from "../../src/gate/call.ts";
import { decide } from "../../src/gate/cascade.ts";
import { loadGateFile } from "../../src/gate/file.ts";
import { analyzer, CTX } from "./helpers.ts";

const repo = join(import.meta.dirname, "../..");
const loaded = loadGateFile(join(repo, "examples/policies/gate.yaml"), analyzer);
if (!loaded.ok) throw new Error("the preset does not load");
const gate = loaded.gate;

/** `Read p`, `Write p`, `Edit p`, `GET url`, `POST url`, `mcp server/tool`, else a shell line. */
function callOf(example: string): ToolCall {
  const [head = "", ...rest] = example.split(" ");
  const arg = rest.join(" ");
  if (head === "Read") return { kind: "file_read", path: arg };
  if (head === "Write" || head === "Edit") return { kind: "file_write", path: arg };
  if (head === "GET" || head === "POST") return { kind: "fetch", method: head, url: arg };
  if (head === "mcp") {
    const [server = "", tool = ""] = arg.split("/");
    return { kind: "mcp", server, tool, arguments: {} };
  }
  return { kind: "shell", command: example };
}

const EXPECT: Record<string, { decision: string; step?: string }> = {
  "allow (tier 0)": { decision: "allow", step: "allowlist" },
  "deny (hard stop)": { decision: "deny", step: "hard_stop" },
  "ask (hard stop)": { decision: "ask", step: "hard_stop" },
  "contain (tier 1)": { decision: "contain", step: "contain" },
  "ask (no rule)": { decision: "ask", step: "default" },
};

function rows(): Array<{ action: string; examples: string[]; expected: string }> {
  const text = readFileSync(join(repo, "docs/gate.md"), "utf8");
  const start = text.indexOf("| action", text.indexOf("## What a coding agent does"));
  const table = text.slice(start, text.indexOf("\n\n", start));
  const out = [];
  for (const line of table.split("\n").slice(2)) {
    if (!line.startsWith("| ")) continue;
    const cells = line.split(" | ").map((c) => c.replace(/^\|\s*|\s*\|$/g, "").trim());
    const [action = "", example = "", expected = ""] = cells;
    const examples = [...example.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    out.push({ action, examples, expected });
  }
  return out;
}

describe("docs/gate.md says what the preset does", () => {
  it("every example in the table gets its row's decision", async () => {
    const table = rows();
    assert.ok(table.length > 20, `only ${table.length} rows found`);
    const wrong: string[] = [];
    for (const row of table) {
      const want = EXPECT[row.expected];
      assert.ok(want, `${row.action}: unknown decision "${row.expected}"`);
      assert.ok(row.examples.length > 0, `${row.action}: no examples`);
      for (const example of row.examples) {
        const d = await decide(gate, callOf(example), { ...CTX, canRewrite: true }, { analyze: analyzer });
        if (d.decision !== want.decision || d.step !== want.step)
          wrong.push(`${row.action}: ${example} -> ${d.decision} (${d.step} ${d.rule ?? ""}: ${d.reason})`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
