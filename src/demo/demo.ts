// `airlock demo`: the whole loop in under a minute on a fresh machine. An embedded gateway
// (SQLite), a fake api.github.com with its own CA, and a real sandbox running the scripted agent;
// the demo narrates each step and plays the developer (or, with --interactive, waits for you).
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OcsfEvent } from "../audit/ocsf.ts";
import { shorthandLine } from "../audit/ocsf.ts";
import { renderChunk } from "../gateway/chunk-text.ts";
import { type RunningGateway, startGateway } from "../gateway/server.ts";
import { AIRLOCK_BIN, packagePath } from "../package-root.ts";
import { loadPolicyText } from "../policy/load.ts";
import { renderRule } from "../policy/render.ts";
import { GatewayClient } from "../protocol/client.ts";
import { homePaths, sandboxLogDir } from "../protocol/home.ts";
import type { Chunk, GatewayEvent } from "../protocol/types.ts";
import { type AgentDemo, prepareAgentDemo } from "./agent-demo.ts";
import type { RealAgent } from "./agent-loop.ts";
import { DemoError } from "./demo-error.ts";
import { type FakeGitHub, startFakeGitHub } from "./fake-github.ts";

export interface DemoOptions {
  /** Run this real agent (installed on PATH) against the scripted model instead of the scripted agent. */
  agent?: RealAgent;
  interactive?: boolean;
  keep?: boolean;
  out?: (line: string) => void;
  /** Whole-demo limit; the scripted agent waits at most this long for a decision. */
  timeoutSeconds?: number;
}

const AGENT = packagePath("examples", "agents", "scripted-agent.mjs");
const SANDBOX = "demo";
const POLICY = `version: 1
network_policies:
  github_api:
    name: GitHub REST API, read-only
    endpoints:
      - host: api.github.com
        port: 443
        protocol: rest
        access: read-only
    binaries:
      - path: /usr/bin/curl
`;

export { DemoError };

export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const step = (text: string) => out(`\n── ${text}`);
  // Before anything starts: a missing agent is a clear message, not a half-run demo.
  const agentDemo = options.agent ? prepareAgentDemo(options.agent) : undefined;
  const dir = mkdtempSync(join(tmpdir(), "airlock-demo-"));
  const home = join(dir, "home");
  let gateway: RunningGateway | undefined;
  let github: FakeGitHub | undefined;
  let model: Awaited<ReturnType<AgentDemo["startModel"]>> | undefined;
  let child: ChildProcess | undefined;
  const started = Date.now();
  try {
    step("1. The control plane and a stand-in for api.github.com");
    gateway = await startGateway({ home, port: 0, db: `sqlite:${homePaths(home).gatewayDb}` });
    out(`gateway (SQLite, ${homePaths(home).gatewayDb}) at ${gateway.url}`);
    github = await startFakeGitHub(dir);
    out(`fake api.github.com on 127.0.0.1:${github.port}, certificate from its own CA (${github.caFile})`);
    if (agentDemo) {
      model = await agentDemo.startModel();
      out(
        `scripted model for ${agentDemo.label} as ${agentDemo.apiHost} on 127.0.0.1:${model.port} (its own CA)`,
      );
    }

    const policyFile = join(dir, "policy.yaml");
    const policyText = agentDemo ? readFileSync(agentDemo.presetFile, "utf8") : POLICY;
    step(
      agentDemo
        ? `2. The policy: the shipped preset ${agentDemo.presetName}, unmodified`
        : "2. The policy: GitHub's REST API read-only, for curl only, inspected at L7",
    );
    writeFileSync(policyFile, policyText);
    const loaded = loadPolicyText(policyText, policyFile);
    if (!loaded.ok) throw new DemoError("the demo policy does not load");
    for (const [key, rule] of Object.entries(loaded.value.network_policies))
      for (const l of renderRule(key, rule)) out(l);

    const client = new GatewayClient({ url: gateway.url, token: gateway.operatorToken });
    const decided = watchChunks(gateway, client, out, options.interactive === true, home);

    step(
      agentDemo
        ? `3. ${agentDemo.label} runs in a sandbox; its only way out is Airlock's proxy`
        : "3. The agent runs in a sandbox; its only way out is Airlock's proxy",
    );
    const args = [AIRLOCK_BIN, "run", "--name", SANDBOX, "--policy", policyFile, "--workdir", dir];
    args.push("--connect-to", `api.github.com:443:127.0.0.1:${github.port}`, "--upstream-ca", github.caFile);
    let command: string[];
    let agentEnv: Record<string, string> = {};
    if (agentDemo && model) {
      args.push(
        "--connect-to",
        `${agentDemo.apiHost}:443:127.0.0.1:${model.port}`,
        "--upstream-ca",
        model.caFile,
      );
      command = agentDemo.command;
      agentEnv = agentDemo.env();
    } else {
      // The agent runs from the workdir: the sandbox shows a fresh /tmp, where this package may live.
      const agent = join(dir, "scripted-agent.mjs");
      copyFileSync(AGENT, agent);
      command = ["/usr/bin/node", agent];
    }
    args.push("--enable-proposals", "--", ...command);
    const env = {
      ...process.env,
      ...agentEnv,
      AIRLOCK_HOME: home,
      AIRLOCK_GATEWAY: gateway.url,
      AIRLOCK_TOKEN: gateway.operatorToken,
      DEMO_WAIT_SECONDS: String(options.interactive ? 300 : 60),
    };
    child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const narrate = agentDemo?.narrate ?? ((line: string) => line);
    const code = await pipeUntilExit(
      child,
      (line) => {
        const shown = narrate(line.replace(/^ {3}/, ""));
        if (shown !== null) for (const l of shown.split("\n")) out(`   ${l}`);
      },
      (options.timeoutSeconds ?? (options.interactive ? 900 : agentDemo ? 240 : 120)) * 1000,
    );
    decided.stop();
    if (code !== 0)
      throw new DemoError(`the agent did not finish its task (exit ${code}); see the lines above`);

    step("4. The decision trace, from the sandbox's OCSF log");
    for (const line of decisionTrace(sandboxLogDir(home, SANDBOX))) out(line);
    step(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s: denied, proposed, reviewed, hot-reloaded, retried.`,
    );
    if (github.files.has("docs/getting-started.md"))
      out("The file the agent wrote reached the (fake) upstream.");
    return 0;
  } finally {
    child?.kill("SIGTERM");
    await model?.close();
    if (agentDemo?.home) rmSync(agentDemo.home, { recursive: true, force: true });
    await github?.close();
    await gateway?.close();
    if (options.keep) out(`\nKept the demo's state in ${dir} (AIRLOCK_HOME=${home})`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints each proposal as `airlock rule get` shows it, then approves it as the developer (or waits for you). */
function watchChunks(
  gateway: RunningGateway,
  client: GatewayClient,
  out: (line: string) => void,
  interactive: boolean,
  home: string,
): { stop(): void } {
  const seen = new Set<string>();
  const onEvent = async (event: GatewayEvent) => {
    if (event.sandbox !== SANDBOX) return;
    const id = String(event.data.id ?? "");
    if (event.type === "chunk.created" && !seen.has(id)) {
      seen.add(id);
      const chunk: Chunk = await gateway.service.getChunk(id);
      out("\n── The developer's inbox (`airlock rule get --status pending`):");
      for (const line of renderChunk(chunk)) out(`   ${line}`);
      if (interactive) {
        const login = await client.inboxLoginCode().catch(() => null);
        out(
          `\nYour turn. In another terminal:\n   AIRLOCK_HOME=${home} AIRLOCK_GATEWAY=${gateway.url} ${AIRLOCK_BIN} rule approve --chunk-id ${id}`,
        );
        out(`   (or reject it with --reason "..."${login ? `, or open the web inbox: ${login.url}` : ""})`);
        return;
      }
      await new Promise((r) => setTimeout(r, 800));
      out(
        `\n── The developer approves chunk ${id.slice(0, 8)}… (review token ${chunk.review_token.slice(0, 8)}…)`,
      );
      await gateway.service.approve(id, chunk.review_token, "demo-developer");
    }
    if (event.type === "policy.loaded")
      out(`gateway: the sandbox reports revision ${String(event.data.version ?? "?")} loaded`);
  };
  const unsubscribe = gateway.service.store.subscribe((event) => {
    onEvent(event).catch((error) => out(`demo: ${(error as Error).message}`));
  });
  return { stop: unsubscribe };
}

function pipeUntilExit(child: ChildProcess, out: (line: string) => void, timeoutMs: number): Promise<number> {
  const forward = (stream: NodeJS.ReadableStream | null, prefix: string) => {
    let buffer = "";
    stream?.on("data", (data: Buffer) => {
      buffer += data.toString("utf8");
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) out(`${prefix}${line}`);
    });
  };
  forward(child.stdout, "   ");
  forward(child.stderr, "   ");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new DemoError(`the demo took longer than ${timeoutMs / 1000} s and was stopped`));
    }, timeoutMs);
    child.once("error", (error) => reject(new DemoError(`could not start airlock run: ${error.message}`)));
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

/** The three events that matter: the denial, the policy load, the allowed retry. */
export function decisionTrace(logDir: string): string[] {
  const day = new Date().toISOString().slice(0, 10);
  let events: OcsfEvent[];
  try {
    events = readFileSync(join(logDir, `airlock-ocsf.${day}.jsonl`), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as OcsfEvent);
  } catch (error) {
    throw new DemoError(`cannot read the OCSF log in ${logDir}: ${(error as Error).message}`);
  }
  const isHttpPut = (e: OcsfEvent) => e.class_uid === 4002 && e.http_request?.http_method === "PUT";
  const denial = events.find((e) => isHttpPut(e) && e.action_id === 2);
  const load = events.filter((e) => e.class_uid === 5019 && e.message.startsWith("LOADED")).at(-1);
  const retry = events.find((e) => isHttpPut(e) && e.action_id === 1);
  const picked = [denial, load, retry];
  if (picked.some((e) => e === undefined))
    throw new DemoError("the OCSF log lacks the denial, the policy load or the allowed retry");
  return (picked as OcsfEvent[]).map((e) => `   ${shorthandLine(e)}`);
}
