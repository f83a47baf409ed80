// The merge of the sandbox's copy of ~/.claude.json into the host's current file, entry by entry:
// only entries proven harmless (named, and of their shape) land; the host's own changes survive.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { CLAUDE_CODE_STATE, mergeAgentState } from "../../src/sandbox/agent-state-merge.ts";

const W = "/home/u/work";
const merge = (start: unknown, copy: unknown, host: Record<string, unknown> | null, applyAll = false) =>
  mergeAgentState(start, copy, host, CLAUDE_CODE_STATE, applyAll);

describe("agent state merge", () => {
  test("harmless entries land, obeyed ones are held back and reported", () => {
    const start = { numStartups: 3, theme: "dark", projects: { [W]: { lastCost: 0 } } };
    const copy = {
      numStartups: 4,
      theme: "light",
      tipsHistory: { "plan-mode": 2 },
      env: { PATH: `${W}/bin:/usr/bin` },
      apiKeyHelper: "touch /x",
      mcpServers: { evil: { command: "touch", args: ["/x"] } },
      projects: {
        [W]: { lastCost: 1.5, lastSessionId: "85a1e673-671d-4727-beba-773fac5ad364", allowedTools: ["Bash"] },
        "/elsewhere": { hasTrustDialogAccepted: true, lastDuration: 10 },
      },
    };
    const { merged, changes } = merge(start, copy, structuredClone(start));
    assert.deepEqual(merged, {
      numStartups: 4,
      theme: "dark",
      tipsHistory: { "plan-mode": 2 },
      projects: {
        [W]: { lastCost: 1.5, lastSessionId: "85a1e673-671d-4727-beba-773fac5ad364" },
        "/elsewhere": { lastDuration: 10 },
      },
    });
    const held = changes.filter((c) => !c.harmless).map((c) => `${c.change} ${c.entry}`);
    assert.deepEqual(held.sort(), [
      "changed theme",
      "created apiKeyHelper",
      "created env",
      "created mcpServers",
      "created projects./elsewhere.hasTrustDialogAccepted",
      `created projects.${W}.allowedTools`,
    ]);
    assert.ok(changes.every((c) => c.applied === c.harmless));
  });

  test("what the real client wrote in an interactive session (2.1.328): its bookkeeping lands, nothing obeyed", () => {
    // Recorded from Claude Code run in a terminal (a prompt, a Bash call, /exit) on a home whose
    // onboarding, folder trust and API key were done; ids replaced.
    const { before, after } = JSON.parse(
      readFileSync(new URL("./fixtures/claude-json-interactive.json", import.meta.url), "utf8"),
    );
    const { merged, changes } = merge(before, after, structuredClone(before));
    assert.deepEqual(
      changes.filter((c) => !c.harmless).map((c) => `${c.change} ${c.entry}`),
      [
        "removed theme",
        "removed bypassPermissionsModeAccepted",
        "created machineID",
        "created opusProMigrationComplete",
        "created seenNotifications",
        "created hasResetAutoModeOptInForDefaultOffer",
        "created migrationVersion",
        "created userID",
      ],
    );
    assert.ok(merged);
    const project = (merged["projects"] as Record<string, Record<string, unknown>>)["/home/u/work"];
    assert.equal(project?.["hasTrustDialogAccepted"], true, "the host's trust stays");
    for (const name of [
      "lastCost",
      "lastDuration",
      "lastModelUsage",
      "lastSessionId",
      "lastGracefulShutdown",
    ])
      assert.ok(project && Object.hasOwn(project, name), name);
    for (const name of [
      "numStartups",
      "tipsHistory",
      "pluginUsage",
      "officialMarketplaceAutoInstallAttempted",
    ])
      assert.ok(Object.hasOwn(merged, name), name);
    assert.equal(merged["theme"], "dark");
  });

  test("a harmless name with a value of another shape is held back", () => {
    const copy = {
      numStartups: "4; touch /x",
      tipsHistory: { a: { command: "x" } },
      firstStartTime: "yesterday",
      pluginUsage: { p: { usageCount: 1, lastUsedAt: 2, lastUsedNumStartups: 3, command: "x" } },
      projects: { [W]: { lastSessionId: "../../etc/passwd", lastCost: null } },
    };
    const { merged, changes } = merge({}, copy, {});
    assert.equal(merged, null, "nothing written");
    assert.equal(changes.length, 6);
    assert.ok(changes.every((c) => !c.harmless && !c.applied));
  });

  test("the host's changes during the run survive: its new entries, and its value where both changed", () => {
    const start = { numStartups: 3, tipsHistory: { a: 1 }, projects: { [W]: { lastCost: 0 } } };
    const host = {
      numStartups: 5,
      tipsHistory: { a: 1 },
      env: { HOST: "1" },
      projects: { [W]: { lastCost: 0, allowedTools: ["Read"] }, "/other": { lastCost: 2 } },
    };
    const copy = { numStartups: 4, tipsHistory: { a: 2 }, projects: { [W]: { lastCost: 1 } } };
    const { merged } = merge(start, copy, structuredClone(host));
    assert.deepEqual(merged, {
      numStartups: 5,
      tipsHistory: { a: 2 },
      env: { HOST: "1" },
      projects: { [W]: { lastCost: 1, allowedTools: ["Read"] }, "/other": { lastCost: 2 } },
    });
  });

  test("entries the sandbox removed: harmless ones go, obeyed ones stay on the host", () => {
    const start = { numStartups: 3, customApiKeyResponses: { approved: [], rejected: ["k"] } };
    const { merged, changes } = merge(start, {}, structuredClone(start));
    assert.deepEqual(merged, { customApiKeyResponses: { approved: [], rejected: ["k"] } });
    assert.deepEqual(
      changes.map((c) => [c.entry, c.change, c.harmless]),
      [
        ["numStartups", "removed", true],
        ["customApiKeyResponses", "removed", false],
      ],
    );
  });

  test("applyAll (host_run_files: keep) writes every change, the host's own still win", () => {
    const start = { env: { A: "1" } };
    const host = { env: { A: "1" }, apiKeyHelper: "host" };
    const copy = { env: { A: "2" }, apiKeyHelper: "sandbox", autoConnectIde: true };
    const { merged, changes } = merge(start, copy, structuredClone(host), true);
    assert.deepEqual(merged, { env: { A: "2" }, apiKeyHelper: "host", autoConnectIde: true });
    assert.deepEqual(
      changes.map((c) => [c.entry, c.applied]),
      [
        ["env", true],
        ["apiKeyHelper", false],
        ["autoConnectIde", true],
      ],
    );
  });

  test("a key order change is no change; key names never reach a prototype", () => {
    const start = { env: { A: "1", B: "2" } };
    assert.deepEqual(merge(start, { env: { B: "2", A: "1" } }, start).changes, []);
    const copy = JSON.parse(
      `{"projects":{"__proto__":{"lastCost":1,"hasTrustDialogAccepted":true}},"__proto__":{"numStartups":1}}`,
    );
    const { merged, changes } = merge({}, copy, null);
    assert.equal(({} as Record<string, unknown>)["lastCost"], undefined, "Object.prototype untouched");
    assert.deepEqual(Object.getPrototypeOf(merged), Object.prototype);
    const projects = (merged as Record<string, Record<string, unknown>>)["projects"] as object;
    assert.deepEqual(Object.getOwnPropertyNames(projects), ["__proto__"]);
    assert.equal(JSON.stringify(merged), '{"projects":{"__proto__":{"lastCost":1}}}');
    assert.deepEqual(
      changes
        .filter((c) => !c.harmless)
        .map((c) => c.entry)
        .sort(),
      ["__proto__", "projects.__proto__.hasTrustDialogAccepted"],
    );
  });

  test("a projects entry that is not an object is one entry, held back; the host's own shape is kept", () => {
    const { merged, changes } = merge({}, { projects: [1], numStartups: 1 }, { projects: "x" });
    assert.deepEqual(merged, { projects: "x", numStartups: 1 });
    assert.deepEqual(
      changes.map((c) => [c.entry, c.harmless]),
      [
        ["projects", false],
        ["numStartups", true],
      ],
    );
    // A harmless project entry where the host holds something else: not written.
    const r = merge({}, { projects: { [W]: { lastCost: 1 } } }, { projects: "x" });
    assert.equal(r.merged, null);
    assert.equal(r.changes[0]?.applied, false);
  });
});
