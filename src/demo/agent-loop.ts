// The loop a real agent (Claude Code or Codex) goes through inside Airlock, as a scripted model
// drives it: each turn is one shell command the agent's own tool runs. Shared by
// `airlock demo --agent` and the real-agent tests. Pure: values in, turns and arguments out.

export type RealAgent = "claude-code" | "codex";
export const REAL_AGENTS: readonly RealAgent[] = ["claude-code", "codex"];

/** The model API each agent talks to by default; a scripted model stands in for it. */
export const AGENT_API_HOST: Record<RealAgent, string> = {
  "claude-code": "api.anthropic.com",
  codex: "api.openai.com",
};

/** The npm package and executable of each agent (how to install it when it is missing). */
export const AGENT_PACKAGE: Record<RealAgent, { package: string; bin: string }> = {
  "claude-code": { package: "@anthropic-ai/claude-code", bin: "claude" },
  codex: { package: "@openai/codex", bin: "codex" },
};

const LOOP_TARGET = "https://api.github.com/repos/acme/site/contents/docs/getting-started.md";
const CONTENT = Buffer.from(
  "# Getting started\n\nWritten by a real agent inside an Airlock sandbox.\n",
).toString("base64");
/** Seconds one /wait call waits; Codex's tool hands a command back after at most 30 s. */
const WAIT_SECONDS = 25;

/** A turn the scripted model plays: the agent's shell tool with this command. */
type LoopTurn = { tool: string; input: Record<string, unknown> };

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function put(): string {
  const body = JSON.stringify({ message: "docs: getting started", content: CONTENT });
  return `curl -sS -X PUT -H 'content-type: application/json' ${LOOP_TARGET} --data-binary ${shellQuote(body)}`;
}

function proposeAndWait(): string {
  const proposal = JSON.stringify({
    intent_summary: "Write docs/getting-started.md in acme/site",
    operations: [
      {
        addRule: {
          ruleName: "put_getting_started",
          rule: {
            endpoints: [
              {
                host: "api.github.com",
                port: 443,
                protocol: "rest",
                rules: [
                  { allow: { method: "PUT", path: "/repos/acme/site/contents/docs/getting-started.md" } },
                ],
              },
            ],
            binaries: [{ path: "/usr/bin/curl" }],
          },
        },
      },
    ],
  });
  return [
    `answer=$(curl -sS http://policy.local/v1/proposals -H 'content-type: application/json' --data-binary ${shellQuote(proposal)})`,
    `echo "$answer"`,
    `id=$(printf '%s' "$answer" | sed -n 's/.*"accepted_chunk_ids":\\["\\([^"]*\\)".*/\\1/p')`,
    // /wait answers "pending" at its timeout: ask again, a bounded number of times.
    `for i in 1 2 3 4 5 6 7 8 9 10; do decision=$(curl -sS "http://policy.local/v1/proposals/$id/wait?timeout=${WAIT_SECONDS}"); case "$decision" in *'"pending"'*) continue;; esac; break; done`,
    `echo "$decision"`,
  ].join("\n");
}

/** The commands in order: the denied PUT, the skill, the proposal and its /wait, the retry. */
function loopCommands(): string[] {
  return [put(), "cat /etc/airlock/skills/policy_advisor.md", proposeAndWait(), put()];
}

/** The scripted model's turns for this agent's own shell tool. */
export function loopTurns(agent: RealAgent): LoopTurn[] {
  return loopCommands().map((command) =>
    agent === "claude-code"
      ? { tool: "Bash", input: { command, description: "run a command", timeout: 600_000 } }
      : { tool: "exec_command", input: { cmd: command, yield_time_ms: 30_000 } },
  );
}

const LOOP_PROMPT = "Write docs/getting-started.md in acme/site through the GitHub API.";

/** The agent's command line inside the sandbox: non-interactive, its permissions its own business. */
export function agentArgs(agent: RealAgent): string[] {
  if (agent === "claude-code")
    return [
      "-p",
      LOOP_PROMPT,
      "--permission-mode",
      "bypassPermissions",
      "--output-format",
      "stream-json",
      "--verbose",
    ];
  return ["exec", "--skip-git-repo-check", LOOP_PROMPT];
}

/** The environment the agent needs beyond the sandbox's: a key for the scripted model. */
export function agentEnv(agent: RealAgent): Record<string, string> {
  if (agent === "claude-code")
    // bypassPermissions as root needs IS_SANDBOX: Claude Code's own word for "already contained".
    return { ANTHROPIC_API_KEY: "sk-ant-scripted-model", IS_SANDBOX: "1" };
  return { OPENAI_API_KEY: "sk-scripted-model" };
}
