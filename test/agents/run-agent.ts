// Runs a real agent CLI once, non-interactively, against a fake model (src/demo/fake-model), with a
// scratch HOME unless one is given. Asynchronous on purpose: the fake model usually lives in the
// calling process, and a synchronous spawn would block its event loop.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeModel } from "../../src/demo/fake-model/server.ts";
import type { AgentName } from "./locate.ts";

export interface AgentRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Claude Code's `--output-format stream-json` lines, parsed (empty for Codex). */
  events: Array<Record<string, unknown>>;
}

export interface RunAgentOptions {
  agent: AgentName;
  bin: string;
  model: FakeModel;
  prompt: string;
  cwd: string;
  home?: string;
  /** Talk to the fake over HTTPS (trusting its CA) instead of plain HTTP. */
  tls?: boolean;
  /** Claude Code: --permission-mode; Codex: extra flags such as ["--full-auto"]. */
  permissionMode?: string;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function scratchHome(prefix = "agent-home-"): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, "work"));
  return home;
}

/** Codex's `-c` flags that make the fake its model provider. */
export function codexProviderFlags(baseUrl: string): string[] {
  return [
    "-c",
    "model_provider=fake",
    "-c",
    'model_providers.fake.name="fake"',
    "-c",
    `model_providers.fake.base_url="${baseUrl}/v1"`,
    "-c",
    'model_providers.fake.env_key="OPENAI_API_KEY"',
    "-c",
    'model_providers.fake.wire_api="responses"',
    "-m",
    "fake-model",
  ];
}

export function agentArgs(o: RunAgentOptions): string[] {
  const base = o.tls ? o.model.httpsUrl : o.model.httpUrl;
  if (o.agent === "claude-code")
    return [
      "-p",
      o.prompt,
      "--output-format",
      "stream-json",
      "--verbose",
      ...(o.permissionMode ? ["--permission-mode", o.permissionMode] : []),
      ...(o.args ?? []),
    ];
  return ["exec", "--skip-git-repo-check", ...codexProviderFlags(base), ...(o.args ?? []), o.prompt];
}

export function agentEnv(o: RunAgentOptions, home: string): Record<string, string> {
  const base = o.tls ? o.model.httpsUrl : o.model.httpUrl;
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    ...(o.agent === "claude-code"
      ? {
          ANTHROPIC_BASE_URL: base,
          ANTHROPIC_API_KEY: "sk-ant-fake-key",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          // Claude Code refuses bypassPermissions as root unless it is told it is sandboxed.
          IS_SANDBOX: "1",
        }
      : {
          OPENAI_API_KEY: "sk-fake-key",
          // Codex refuses to put its sandbox helper under the temp dir when ~/.codex is inside
          // it (scratch homes are under /tmp): a temp dir of the home's own keeps its sandbox usable.
          TMPDIR: join(home, ".tmp"),
        }),
    ...(o.tls ? { NODE_EXTRA_CA_CERTS: o.model.caFile, SSL_CERT_FILE: o.model.caFile } : {}),
    ...(o.env ?? {}),
  };
}

export function runAgent(o: RunAgentOptions): Promise<AgentRun> {
  const home = o.home ?? scratchHome();
  if (o.agent === "codex") mkdirSync(join(home, ".tmp"), { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(o.bin, agentArgs(o), {
      cwd: o.cwd,
      env: agentEnv(o, home),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: o.timeoutMs ?? 120_000,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (status, signal) => {
      const events: Array<Record<string, unknown>> = [];
      if (o.agent === "claude-code")
        for (const line of stdout.split("\n")) {
          if (!line.startsWith("{")) continue;
          try {
            events.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // a partial line at a kill: not an event
          }
        }
      resolve({ status, signal, stdout, stderr, events });
    });
  });
}
