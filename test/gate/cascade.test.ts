import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ToolCall } from "../../src/gate/call.ts";
import { type ClassifierQuestion, decide } from "../../src/gate/cascade.ts";
import { hardStopMatches } from "../../src/gate/match.ts";
import { pathsOf } from "../../src/gate/paths.ts";
import { analyzer, CTX, gateFrom, pick, rng } from "./helpers.ts";

const GATE = `
gate:
  hard_stops:
    - { id: rm-out, decision: deny, reason: rm outside, shell: { command: rm, flags: [recursive], outside_workdir: true } }
    - { id: push-force, decision: deny, reason: force push, shell: { command: git, subcommand: push, flags: [force] } }
    - { id: deploy, decision: ask, reason: deploy, shell: { command: [terraform, kubectl], subcommand: [apply, delete] } }
    - { id: secrets, decision: deny, reason: secrets, file: { path: ["~/.ssh/**", "**/.env"] } }
    - { id: prod-db, decision: ask, reason: prod, mcp: { server: postgres, tool: query, arguments: { sql: ["*DROP*", "*drop*"] } } }
    - { id: paste, decision: deny, reason: public paste, fetch: { method: [POST, PUT], host: ["pastebin.com", "**.pastebin.com"] } }
    - { id: sudo, decision: ask, reason: privileged, shell: { command: sudo } }
  allow:
    - { id: ro, shell: { command: [ls, cat, echo, git], no_flags: [c] } }
    - { id: read, file: { op: read, path: ["**"] } }
    - { id: docs, fetch: { host: "docs.example.org" } }
    - { id: mcp-read, mcp: { server: "*", tool: "get_*" } }
  contain:
    rules:
      - { id: build, shell: { command: [make, npm] } }
  classifier: { endpoint: "http://127.0.0.1:9/v1", model: m }
`;

const SIMPLE = [
  "ls -la",
  "cat README.md",
  "rm -rf /",
  "rm -fr ~/x",
  "rm --recursive --force ../y",
  "rm -r build",
  "git push --force origin main",
  "git push -f",
  "git push origin main",
  "git status",
  "terraform apply",
  "kubectl delete ns prod",
  "cat ~/.ssh/id_rsa",
  "grep KEY .env",
  "make build",
  "npm test",
  "curl https://example.com",
  "python3 x.py",
  "echo $(id)",
  "sudo ls",
  "$X -rf /",
];
const WRAP = ["", "sudo ", "env A=1 ", "timeout 5 ", "nohup ", "bash -c '", "xargs "];
const JOIN = [" && ", " || ", "; ", " | ", "\n"];

function genShell(r: () => number): string {
  const n = 1 + Math.floor(r() * 3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = pick(r, WRAP);
    const cmd = pick(r, SIMPLE);
    parts.push(w.endsWith("'") ? `${w}${cmd.replaceAll("'", "")}'` : `${w}${cmd}`);
  }
  let line = parts.reduce((acc, p) => `${acc}${pick(r, JOIN)}${p}`);
  if (r() < 0.2) line = `echo $(${line})`;
  if (r() < 0.1) line += " > out.txt";
  return line;
}

function genCall(r: () => number): ToolCall {
  const k = r();
  if (k < 0.6) return { kind: "shell", command: genShell(r) };
  if (k < 0.7)
    return {
      kind: "mcp",
      server: pick(r, ["postgres", "github"]),
      tool: pick(r, ["query", "get_issue"]),
      arguments: { sql: pick(r, ["SELECT 1", "DROP TABLE x", "drop table y"]) },
    };
  if (k < 0.8)
    return {
      kind: "fetch",
      method: pick(r, ["GET", "POST", "put"]),
      url: pick(r, [
        "https://pastebin.com/api",
        "https://x.pastebin.com/",
        "https://docs.example.org/a",
        "https://evil.example/",
        "not a url",
      ]),
    };
  if (k < 0.9)
    return {
      kind: pick(r, ["file_read", "file_write"] as const),
      path: pick(r, ["/home/user/.ssh/id_rsa", "src/a.ts", ".env", "/etc/passwd"]),
    };
  return { kind: "tool", name: pick(r, ["WebSearch", "Task"]), input: {} };
}

describe("cascade", () => {
  const gate = gateFrom(GATE);

  it("property: a call that matches a hard stop never reaches the classifier and is never allowed", async () => {
    const seed = 20260521;
    const r = rng(seed);
    let stopped = 0;
    let classified = 0;
    for (let i = 0; i < 1500; i++) {
      const call = genCall(r);
      const asked: ClassifierQuestion[] = [];
      const d = await decide(gate, call, CTX, {
        analyze: analyzer,
        classify: async (q) => {
          asked.push(q);
          return { ok: true, decision: "allow", reason: "the classifier allows everything in this test" };
        },
      });
      const analysis = call.kind === "shell" ? analyzer(call.command) : undefined;
      const target = { call, paths: pathsOf(CTX), ...(analysis ? { analysis } : {}) };
      const hits = gate.hardStops.filter((s) => hardStopMatches(s, target) !== "no");
      if (asked.length > 0) classified++;
      if (hits.length === 0) continue;
      stopped++;
      const label = `seed ${seed} call ${i}: ${JSON.stringify(call)}`;
      assert.equal(asked.length, 0, `${label} reached the classifier`);
      assert.notEqual(d.decision, "allow", label);
      assert.ok(d.step === "hard_stop" || d.step === "error", `${label}: ${d.step}`);
    }
    // The generator must exercise both sides of the invariant.
    assert.ok(stopped > 200, `only ${stopped} calls hit a hard stop`);
    assert.ok(classified > 50, `only ${classified} calls reached the classifier`);
  });

  it("orders the tiers: allowlist (0), contained run (1), classifier (2), ask (3)", async () => {
    const deps = {
      analyze: analyzer,
      classify: async () => ({ ok: true as const, decision: "allow" as const, reason: "fine" }),
    };
    const of = (command: string) => decide(gate, { kind: "shell", command }, CTX, deps);
    assert.deepEqual(((d) => [d.decision, d.tier])(await of("ls")), ["allow", 0]);
    assert.deepEqual(((d) => [d.decision, d.tier])(await of("make build && ls")), ["contain", 1]);
    assert.deepEqual(((d) => [d.decision, d.tier])(await of("python3 x.py")), ["allow", 2]);
    const noContain = await decide(
      gate,
      { kind: "shell", command: "make" },
      { ...CTX, canContain: false },
      deps,
    );
    assert.equal(noContain.tier, 2);
  });

  it("follows cd when resolving paths for hard stops", async () => {
    const deps = { analyze: analyzer };
    const of = (command: string) => decide(gate, { kind: "shell", command }, CTX, deps);
    assert.equal((await of("cd / && rm -rf tmp")).rule, "rm-out");
    assert.equal((await of("cd ~/.ssh; cat id_rsa")).rule, "secrets");
    const unknown = await of("cd $DIR && rm -rf build");
    assert.deepEqual([unknown.decision, unknown.rule], ["ask", "rm-out"]);
  });

  it("turns a retry into a denial carrying the hint", async () => {
    const d = await decide(gate, { kind: "shell", command: "python3 x.py" }, CTX, {
      analyze: analyzer,
      classify: async () => ({
        ok: true,
        decision: "retry",
        reason: "use the test runner",
        hint: "npm test",
      }),
    });
    assert.equal(d.decision, "deny");
    assert.equal(d.hint, "npm test");
  });
});

describe("fail closed", () => {
  const gate = gateFrom(GATE);
  const call: ToolCall = { kind: "shell", command: "python3 x.py" };

  it("asks when the classifier fails, throws or is missing", async () => {
    for (const classify of [
      async () => ({ ok: false as const, error: "down" }),
      async () => {
        throw new Error("boom");
      },
      undefined,
    ]) {
      const d = await decide(gate, call, CTX, { analyze: analyzer, ...(classify ? { classify } : {}) });
      assert.equal(d.decision, "ask", d.reason);
    }
  });

  it("denies instead of asking where no one can be asked", async () => {
    const d = await decide(
      gate,
      call,
      { ...CTX, canAsk: false },
      {
        analyze: analyzer,
        classify: async () => ({ ok: false, error: "down" }),
      },
    );
    assert.equal(d.decision, "deny");
    const stop = await decide(
      gate,
      { kind: "shell", command: "terraform apply" },
      { ...CTX, canAsk: false },
      { analyze: analyzer },
    );
    assert.equal(stop.decision, "deny");
  });

  it("asks when the analyzer throws or the line does not parse", async () => {
    const broken = await decide(gate, { kind: "shell", command: "ls" }, CTX, {
      analyze: () => {
        throw new Error("wasm trap");
      },
    });
    assert.equal(broken.decision, "ask");
    const unparsable = await decide(gate, { kind: "shell", command: "ls && (" }, CTX, {
      analyze: analyzer,
      classify: async () => ({ ok: true, decision: "allow", reason: "x" }),
    });
    assert.equal(unparsable.decision, "ask");
  });

  it("uses the policy default with no classifier configured", async () => {
    const strict = gateFrom("gate:\n  default: deny\n");
    const d = await decide(strict, call, CTX, { analyze: analyzer });
    assert.equal(d.decision, "deny");
    const lenient = gateFrom("gate: {}\n");
    assert.equal((await decide(lenient, call, CTX, { analyze: analyzer })).decision, "ask");
  });
});
