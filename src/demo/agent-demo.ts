// `airlock demo --agent claude-code|codex`: the demo's loop with the real agent, installed on
// PATH, in place of the scripted one. The model is scripted (./fake-model, the one the real-agent
// tests use) and answers as the agent's API under its real name through --connect-to; its turns
// are the loop of agent-loop.ts. The agent runs with a scratch home of the demo's, so the user's
// own settings, credentials and hooks are never read or changed.
import { accessSync, constants, mkdirSync, mkdtempSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { packagePath } from "../package-root.ts";
import {
  AGENT_API_HOST,
  AGENT_PACKAGE,
  agentArgs,
  agentEnv,
  loopTurns,
  type RealAgent,
} from "./agent-loop.ts";
import { DemoError } from "./demo-error.ts";
import { parseScenario } from "./fake-model/scenario.ts";
import { startFakeModel } from "./fake-model/server.ts";

const LABEL: Record<RealAgent, string> = { "claude-code": "Claude Code", codex: "Codex" };

interface ScriptedModel {
  port: number;
  caFile: string;
  close(): Promise<void>;
}

export interface AgentDemo {
  label: string;
  apiHost: string;
  presetName: string;
  presetFile: string;
  command: string[];
  /** One line of the agent's output as the demo shows it (null: not shown). */
  narrate(line: string): string | null;
  env(): Record<string, string>;
  /** The scratch home env() made, to remove at the end. */
  home?: string;
  startModel(): Promise<ScriptedModel>;
}

/** The executable `name` on PATH, or null. */
function onPath(name: string, path = process.env["PATH"] ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  return null;
}

function installHint(agent: RealAgent): string {
  const { package: pkg, bin } = AGENT_PACKAGE[agent];
  return (
    `${LABEL[agent]} is not installed (no \`${bin}\` on PATH). Install it with ` +
    `\`npm install -g ${pkg}\`, then run \`airlock demo --agent ${agent}\` again ` +
    "(`airlock demo` alone runs the scripted agent and needs nothing else)."
  );
}

async function startScriptedModel(agent: RealAgent): Promise<ScriptedModel> {
  const model = await startFakeModel({
    scenario: parseScenario({ turns: loopTurns(agent) }),
    hosts: [AGENT_API_HOST[agent]],
  });
  return { port: Number(new URL(model.httpsUrl).port), caFile: model.caFile, close: () => model.close() };
}

const firstLine = (text: string, max = 160) => {
  const line = text.split("\n")[0] ?? "";
  return line.length > max ? `${line.slice(0, max)}…` : line;
};

/** Claude Code's stream-json events, as lines a person reads: tool calls, their results, its text. */
function narrateClaudeEvent(line: string): string | null {
  let event: { type?: string; message?: { content?: unknown } };
  try {
    event = JSON.parse(line);
  } catch {
    return line; // not an event (a warning on stderr): shown as it is
  }
  const content = Array.isArray(event.message?.content)
    ? (event.message?.content as Record<string, unknown>[])
    : [];
  const out: string[] = [];
  for (const part of content) {
    if (part["type"] === "tool_use") {
      const input = part["input"] as { command?: unknown } | undefined;
      out.push(
        `claude> ${String(part["name"])}: ${firstLine(String(input?.command ?? JSON.stringify(input)))}`,
      );
    } else if (part["type"] === "tool_result") {
      const text = typeof part["content"] === "string" ? part["content"] : JSON.stringify(part["content"]);
      out.push(`  tool> ${firstLine(text)}`);
    } else if (part["type"] === "text") out.push(`claude> ${firstLine(String(part["text"]))}`);
  }
  return out.length > 0 ? out.join("\n") : null;
}

/** What the demo needs to run this agent; a DemoError naming the install command if it is missing. */
export function prepareAgentDemo(agent: RealAgent, path = process.env["PATH"]): AgentDemo {
  const bin = onPath(AGENT_PACKAGE[agent].bin, path);
  if (!bin) throw new DemoError(installHint(agent));
  return {
    label: LABEL[agent],
    apiHost: AGENT_API_HOST[agent],
    presetName: `examples/policies/${agent}.yaml`,
    presetFile: packagePath("examples", "policies", `${agent}.yaml`),
    command: [bin, ...agentArgs(agent)],
    narrate: agent === "claude-code" ? narrateClaudeEvent : (line) => line,
    env() {
      // Outside the workdir (where .codex and .claude are protected) and outside /tmp (fresh
      // inside the sandbox): under the user's cache, removed when the demo ends.
      const base = join(homedir(), ".cache");
      mkdirSync(base, { recursive: true });
      const home = mkdtempSync(join(base, "airlock-demo-agent-"));
      this.home = home;
      return { HOME: home, ...agentEnv(agent) };
    },
    startModel: () => startScriptedModel(agent),
  };
}
