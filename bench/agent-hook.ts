// The time a PreToolUse hook adds to each tool call, as Claude Code itself measures it: Claude
// Code (from the agent cache, see test/agents) runs a scripted session of Bash calls against the
// fake model, once per hook, and its debug log says "Hooks: PreToolUse:Bash [...] finished with
// status 0 (N ms)" for each call. Hooks: a no-op (`cat >/dev/null`, the floor of any command
// hook), bin/airlock-hook through a gateway (what `airlock agent setup` installs), an http hook
// to the same gateway (not installed: test/agents/http-hook.test.ts says why), and the
// in-process `airlock hook claude-code` (a node start per call). Bare node is the baseline.
//   npx tsx bench/agent-hook.ts [--calls N]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseScenario } from "../src/demo/fake-model/scenario.ts";
import { startFakeModel } from "../src/demo/fake-model/server.ts";
import { createGateDecider } from "../src/gate/decider.ts";
import { startGateway } from "../src/gateway/server.ts";
import { gatewayInfoFile } from "../src/protocol/home.ts";
import { shellQuote } from "../src/sandbox/shell-quote.ts";
import { locateAgent } from "../test/agents/locate.ts";
import { runAgent } from "../test/agents/run-agent.ts";

export interface HookFigure {
  hook: string;
  calls: number;
  p50_ms: number;
  max_ms: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * Claude Code's own per-call hook times, from its debug log: a command hook's "finished with
 * status 0 (N ms)", an http hook's request (from the timestamps of its "HTTP hook POST" line and
 * the "HTTP hook response status" line that follows; Claude Code prints no duration for it).
 */
function hookTimes(debugLog: string): number[] {
  const command = [
    ...debugLog.matchAll(/Hooks: PreToolUse:Bash \[.*?\] finished with status \d+ \((\d+)ms\)/g),
  ].map((m) => Number(m[1]));
  if (command.length > 0) return command;
  const at = (line: string) => Date.parse(line.slice(0, 24));
  const times: number[] = [];
  let sent: number | null = null;
  for (const line of debugLog.split("\n")) {
    if (line.includes("Hooks: HTTP hook POST")) sent = at(line);
    else if (sent !== null && line.includes("Hooks: HTTP hook response status")) {
      times.push(at(line) - sent);
      sent = null;
    }
  }
  return times;
}

export async function measureClaudeHooks(
  calls = 15,
): Promise<{ figures: HookFigure[]; node_ms_p50: number } | null> {
  const claude = locateAgent("claude-code");
  if (!claude) return null;
  const policy = resolve("examples/policies/gate.yaml");
  const home = mkdtempSync(join(tmpdir(), "airlock-bench-hook-"));
  const gw = await startGateway({
    home,
    port: 0,
    db: `sqlite:${join(home, "gateway.db")}`,
    gate: createGateDecider({ policy }),
  });
  writeFileSync(gatewayInfoFile(home), `${JSON.stringify({ url: gw.url }, null, 2)}\n`);
  const command = (c: string) => ({ type: "command", command: c, timeout: 60, onFailure: "block" });
  const hooks: Array<[string, Record<string, unknown>]> = [
    ["no-op command hook (cat >/dev/null)", command("cat >/dev/null")],
    [
      "bin/airlock-hook via the gateway",
      command(
        [resolve("bin/airlock-hook"), "claude-code", "--policy", policy, "--home", home]
          .map(shellQuote)
          .join(" "),
      ),
    ],
    [
      "http hook to the gateway (not installed by setup)",
      {
        type: "http",
        url: `${gw.url}/v1/gate/hook/claude-code?policy=${encodeURIComponent(policy)}`,
        timeout: 60,
        onFailure: "block",
        headers: { Authorization: "Bearer $AIRLOCK_HOOK_TOKEN" },
        allowedEnvVars: ["AIRLOCK_HOOK_TOKEN"],
      },
    ],
    [
      "airlock hook claude-code (node per call)",
      command(
        [process.execPath, resolve("bin/airlock.js"), "hook", "claude-code", "--policy", policy]
          .map(shellQuote)
          .join(" "),
      ),
    ],
  ];
  const model = await startFakeModel({
    scenario: parseScenario({
      turns: Array.from({ length: calls }, () => ({
        tool: "Bash",
        input: { command: "ls", description: "ls" },
      })),
    }),
  });
  const figures: HookFigure[] = [];
  try {
    for (const [name, handler] of hooks) {
      const user = mkdtempSync(join(tmpdir(), "airlock-bench-user-"));
      const cwd = join(user, "work");
      mkdirSync(join(user, ".claude"), { recursive: true });
      mkdirSync(cwd);
      writeFileSync(
        join(user, ".claude", "settings.json"),
        JSON.stringify({
          hooks: {
            PreToolUse: [{ matcher: "*", hooks: [handler] }],
          },
        }),
      );
      const debug = join(user, "debug.log");
      await runAgent({
        agent: "claude-code",
        bin: claude,
        model,
        prompt: "bench",
        cwd,
        home: user,
        permissionMode: "bypassPermissions",
        args: ["--debug-file", debug],
        env: { AIRLOCK_HOME: home, AIRLOCK_HOOK_TOKEN: gw.operatorToken },
      });
      const times = hookTimes(readFileSync(debug, "utf8"));
      figures.push({ hook: name, calls: times.length, p50_ms: median(times), max_ms: Math.max(...times) });
      rmSync(user, { recursive: true, force: true });
    }
  } finally {
    await model.close();
    await gw.close();
    rmSync(home, { recursive: true, force: true });
  }
  const node: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = process.hrtime.bigint();
    spawnSync(process.execPath, ["-e", "0"]);
    node.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { figures, node_ms_p50: +median(node).toFixed(1) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--calls");
  const result = await measureClaudeHooks(i > 0 ? Number(process.argv[i + 1]) : 15);
  if (!result) console.log("claude-code is not installed in the agent cache: skipped (source .ci/install)");
  else {
    console.log("added time per tool call, as Claude Code measures its PreToolUse hook (ms)");
    for (const f of result.figures)
      console.log(
        `${f.hook.padEnd(52)} p50 ${String(f.p50_ms).padStart(5)}  max ${String(f.max_ms).padStart(5)}  (${f.calls} calls)`,
      );
    console.log(`${"bare node start (baseline)".padEnd(52)} p50 ${String(result.node_ms_p50).padStart(5)}`);
    console.log(JSON.stringify({ bench: "agent-hook", ...result }));
  }
}
