// `airlock agent setup|doctor`: the agents' hook files, Codex's trust (through Codex itself),
// the gate policy, the gateway and the sandbox preset, checked where they live.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  findAirlockHooks,
  hookCommand,
  hookDeadlineSeconds,
  hookHandler,
  hookProblems,
  isAirlockHook,
  type Problem,
  withAirlockHook,
} from "../gate/adapters/agent-config.ts";
import { packagePath } from "../package-root.ts";
import { writeAtomically } from "../protocol/atomic-write.ts";
import { GatewayClient } from "../protocol/client.ts";
import { airlockHome, gatePolicyFile } from "../protocol/home.ts";
import type { AgentFlavor } from "../protocol/hook-wire.ts";
import { CodexAppServer, type CodexHook } from "./codex-app-server.ts";
import { CliError } from "./common.ts";

export interface SetupOptions {
  project?: boolean;
  user?: boolean;
  dir?: string;
  policy?: string;
  codexBin?: string;
  askWait?: string;
}

export interface DoctorOptions {
  dir?: string;
  codexBin?: string;
  preset?: string;
}

type Json = Record<string, unknown>;

/** Where each agent keeps its hooks: user-wide and for one project. */
export function hookFile(
  agent: AgentFlavor,
  scope: "user" | "project",
  dir: string,
  env = process.env,
): string {
  if (agent === "claude-code")
    return scope === "user"
      ? join(env["CLAUDE_CONFIG_DIR"] || join(homedir(), ".claude"), "settings.json")
      : join(dir, ".claude", "settings.json");
  return scope === "user"
    ? join(env["CODEX_HOME"] || join(homedir(), ".codex"), "hooks.json")
    : join(dir, ".codex", "hooks.json");
}

function readJson(file: string): Json | null {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, "utf8");
  let value: unknown;
  try {
    value = text.trim() === "" ? {} : JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file}: not valid JSON (${(error as Error).message}); fix it by hand first`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CliError(`${file}: not a JSON object; fix it by hand first`);
  return value as Json;
}

function writeJson(file: string, value: Json): void {
  mkdirSync(dirname(file), { recursive: true });
  writeAtomically(file, `${JSON.stringify(value, null, 2)}\n`);
}

const setupCommand = (agent: AgentFlavor, scope: string) => `airlock agent setup ${agent} --${scope}`;

export function defaultGatePolicy(env = process.env): string {
  return resolve(gatePolicyFile(undefined, env));
}

function codexBinary(given: string | undefined): string | null {
  if (given) return given;
  try {
    return execFileSync("sh", ["-c", "command -v codex"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

export async function setup(agent: AgentFlavor, opts: SetupOptions): Promise<void> {
  if (opts.project && opts.user) throw new CliError("give --project or --user, not both", 2);
  const scope = opts.project ? "project" : "user";
  const dir = resolve(opts.dir ?? process.cwd());
  const policy = opts.policy ? resolve(opts.policy) : defaultGatePolicy();
  if (!existsSync(policy))
    throw new CliError(
      `no gate policy at ${policy}: give --policy FILE (e.g. examples/policies/gate.yaml) or put one there`,
    );
  const home = process.env["AIRLOCK_HOME"] ? airlockHome() : undefined;
  const wait = opts.askWait === undefined ? undefined : Number(opts.askWait);
  if (wait !== undefined && !(Number.isInteger(wait) && wait >= 0 && wait <= 300))
    throw new CliError(`--ask-wait: ${opts.askWait} is not a whole number of seconds from 0 to 300`, 2);
  const command = hookCommand(agent, {
    ...(wait !== undefined ? { wait } : {}),
    script: packagePath("bin", "airlock-hook"),
    policy,
    ...(home ? { home } : {}),
  });
  const file = hookFile(agent, scope, dir);
  const before = readJson(file) ?? {};
  const { config, change } = withAirlockHook(before, agent, hookHandler(agent, command));
  if (change !== "unchanged") writeJson(file, config);
  process.stdout.write(`${file}: PreToolUse hook ${change}\n  ${command}\n`);
  if (agent === "codex") await trustCodexHooks(file, dir, opts.codexBin, scope);
}

/** Codex runs only hooks whose trusted hash matches: have Codex record its own hash of ours. */
async function trustCodexHooks(
  file: string,
  dir: string,
  bin: string | undefined,
  scope: string,
): Promise<void> {
  const codex = codexBinary(bin);
  if (!codex)
    throw new CliError(
      `the hook is written, but Codex skips untrusted hooks and codex is not on PATH to trust it: rerun with --codex-bin PATH`,
    );
  const server = await CodexAppServer.open(codex, process.env, dir);
  try {
    const ours = (await server.listHooks(dir)).hooks.filter(
      (h) => h.sourcePath === file && h.eventName === "preToolUse" && isAirlockHook(h.command, "codex"),
    );
    if (ours.length === 0)
      throw new CliError(
        scope === "project"
          ? `Codex does not load ${file}: the project at ${dir} is not trusted by Codex (trust it in Codex once, or use --user)`
          : `Codex does not list the hook in ${file} (run airlock agent doctor)`,
      );
    const toTrust = ours.filter((h) => h.trustStatus !== "trusted");
    const where = await server.trust(toTrust);
    const after = (await server.listHooks(dir)).hooks.filter((h) => ours.some((o) => o.key === h.key));
    const untrusted = after.filter((h) => h.trustStatus !== "trusted");
    if (untrusted.length > 0)
      throw new CliError(
        `Codex still reports ${untrusted.map((h) => `${h.key}: ${h.trustStatus}`).join(", ")}`,
      );
    for (const h of after)
      process.stdout.write(
        toTrust.some((t) => t.key === h.key)
          ? `${where ?? "config.toml"}: trusted ${h.key} (${h.currentHash})\n`
          : `${h.key}: already trusted\n`,
      );
  } finally {
    server.close();
  }
}

/** The words of a command line as shellQuote wrote them (plain words and '...' quoting). */
function words(command: string): string[] {
  const out: string[] = [];
  for (const m of command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    out.push(m[1] !== undefined ? m[1].replaceAll(`'\\''`, "'") : (m[2] as string));
  return out;
}

function optionOf(command: string, name: string): string | undefined {
  const w = words(command);
  const i = w.indexOf(name);
  return i >= 0 ? w[i + 1] : undefined;
}

export interface DoctorReport {
  ok: string[];
  problems: Problem[];
}

async function checkPolicy(policy: string, report: DoctorReport): Promise<void> {
  const { openGate } = await import("../gate/runtime.ts");
  try {
    await openGate(policy, { receipts: false });
    report.ok.push(`gate policy ${policy} loads`);
  } catch (error) {
    report.problems.push({
      problem: `the gate policy fails to load: ${(error as Error).message}`,
      fix: `airlock gate check --policy ${policy} --shell true   (then fix the file it names)`,
    });
  }
}

async function checkGateway(report: DoctorReport): Promise<void> {
  try {
    await GatewayClient.fromEnv().health();
    report.ok.push("the gateway answers");
  } catch (error) {
    report.problems.push({
      problem: `gateway unreachable (${(error as Error).message}): every call is denied until it runs`,
      fix: "airlock gateway start",
    });
  }
}

const AGENT_API: Record<AgentFlavor, { bin: string; host: string }> = {
  "claude-code": { bin: "claude", host: "api.anthropic.com" },
  codex: { bin: "codex", host: "api.openai.com" },
};

/** Does the sandbox preset let the installed agent's binary reach its API? */
async function checkPreset(agent: AgentFlavor, preset: string, report: DoctorReport): Promise<void> {
  const { loadPolicyFile } = await import("../policy/file.ts");
  const { compilePolicy, decideConnect } = await import("../policy/engine.ts");
  const loaded = loadPolicyFile(preset);
  if (!loaded.ok) {
    report.problems.push({
      problem: `the preset ${preset} does not load`,
      fix: `airlock policy check ${preset}`,
    });
    return;
  }
  const { bin, host } = AGENT_API[agent];
  let binary: string;
  try {
    binary = realpathSync(execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim());
  } catch {
    report.ok.push(`${bin} is not on PATH here: the preset check is skipped`);
    return;
  }
  const d = decideConnect(compilePolicy(loaded.value), host, 443, { binary });
  if (d.decision === "allow") report.ok.push(`the preset ${preset} lets ${binary} reach ${host}`);
  else
    report.problems.push({
      problem: `the preset ${preset} does not list the agent's binary ${binary} for ${host}:443 (${d.reason})`,
      fix: `add "- path: ${binary}" to the binaries of the rule for ${host} in ${preset}`,
    });
}

export async function doctor(agent: AgentFlavor, opts: DoctorOptions): Promise<DoctorReport> {
  const dir = resolve(opts.dir ?? process.cwd());
  const report: DoctorReport = { ok: [], problems: [] };
  const found: Array<{ file: string; scope: string; hook: ReturnType<typeof findAirlockHooks>[number] }> = [];
  for (const scope of ["user", "project"] as const) {
    const file = hookFile(agent, scope, dir);
    let config: Json | null;
    try {
      config = readJson(file);
    } catch (error) {
      report.problems.push({
        problem: `${(error as Error).message.replace(/; fix it by hand first$/, "")}: ${agent} then ignores every hook in it`,
        fix: `fix ${file} by hand, then ${setupCommand(agent, scope)}`,
      });
      continue;
    }
    for (const hook of config ? findAirlockHooks(config, agent) : []) found.push({ file, scope, hook });
  }
  if (found.length === 0) {
    report.problems.push({
      problem: `hook missing: no Airlock PreToolUse hook for ${agent}`,
      fix: setupCommand(agent, "user"),
    });
    await checkGateway(report);
    return report;
  }
  const policies = new Set<string>();
  for (const { file, scope, hook } of found) {
    for (const p of hookProblems(agent, hook, setupCommand(agent, scope)))
      report.problems.push({ problem: `${file}: ${p.problem}`, fix: p.fix });
    if (typeof hook.handler["command"] !== "string") continue;
    const command = hook.handler["command"];
    const script = words(command)[0] ?? "";
    try {
      accessSync(script, constants.X_OK);
    } catch {
      report.problems.push({
        problem: `${file}: the hook's program ${script} is not there or not executable`,
        fix: setupCommand(agent, scope),
      });
    }
    policies.add(optionOf(command, "--policy") ?? defaultGatePolicy());
  }
  if (agent === "codex") await checkCodexTrust(found, dir, opts.codexBin, report);
  for (const policy of policies) await checkPolicy(policy, report);
  await checkGateway(report);
  if (opts.preset) await checkPreset(agent, resolve(opts.preset), report);
  if (report.problems.length === 0) report.ok.push("the hook is installed as it should be");
  return report;
}

async function checkCodexTrust(
  found: Array<{ file: string; scope: string }>,
  dir: string,
  bin: string | undefined,
  report: DoctorReport,
): Promise<void> {
  const codex = codexBinary(bin);
  if (!codex) {
    report.problems.push({
      problem: "cannot check Codex's trust of the hook: codex is not on PATH",
      fix: "airlock agent doctor codex --codex-bin PATH",
    });
    return;
  }
  const server = await CodexAppServer.open(codex, process.env, dir);
  let listed: CodexHook[];
  try {
    listed = (await server.listHooks(dir)).hooks;
  } finally {
    server.close();
  }
  for (const { file, scope } of found) {
    const ours = listed.filter((h) => h.sourcePath === file && isAirlockHook(h.command, "codex"));
    if (ours.length === 0) {
      report.problems.push({
        problem: `${file}: Codex does not load this file${scope === "project" ? " (the project is not trusted by Codex)" : ""}`,
        fix: scope === "project" ? setupCommand("codex", "user") : setupCommand("codex", scope),
      });
      continue;
    }
    for (const h of ours) {
      if (h.trustStatus !== "trusted")
        report.problems.push({
          problem: `${h.key}: ${h.trustStatus} (Codex skips untrusted hooks without a word: the calls run ungated)`,
          fix: setupCommand("codex", scope),
        });
      else if (!h.enabled)
        report.problems.push({ problem: `${h.key}: disabled in Codex`, fix: setupCommand("codex", scope) });
      else if (h.timeoutSec <= hookDeadlineSeconds(h.command ?? ""))
        report.problems.push({
          problem: `${h.key}: Codex's timeout ${h.timeoutSec}s is too short`,
          fix: setupCommand("codex", scope),
        });
      else report.ok.push(`${h.key}: trusted by Codex`);
    }
  }
}
