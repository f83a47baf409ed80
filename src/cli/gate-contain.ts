// `airlock gate contain -- CMD` (loaded when the command runs): run in an Airlock sandbox (the
// supervisor: proxy under the policy's network rules, logs, CA) with the workdir on an overlay,
// then commit or discard the change set by the gate's contain rules.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { applyChanges } from "../gate/contain/apply.ts";
import {
  type Change,
  decideCommit,
  type EntryKind,
  gitDirsAfter,
  renderChanges,
} from "../gate/contain/changeset.ts";
import { containSandboxPolicy } from "../gate/contain/sandbox-policy.ts";
import { createStage, keepStage } from "../gate/contain/stage.ts";
import { GateLoadError, openGate } from "../gate/runtime.ts";
import type { ContainConfig } from "../gate/schema.ts";
import { tuneForOneShot } from "../gate/shell/parser.ts";
import { loadPolicyFile } from "../policy/file.ts";
import { denyAllPolicy, formatLoadErrors, formatProblem } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { airlockHome, gatePolicyFile, homePaths, namedGatePolicy } from "../protocol/home.ts";
import { CliError, UsageError } from "./common.ts";

export interface ContainOptions {
  policy?: string;
  workdir?: string;
  keep?: boolean;
  report?: string;
  connectTo?: string[];
  upstreamCa?: string[];
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The gate policy file in effect: --policy, $AIRLOCK_GATE_POLICY, or $AIRLOCK_HOME/gate.yaml if present. */
function gateFile(policy: string | undefined): string | undefined {
  const explicit = namedGatePolicy(policy);
  if (explicit) return explicit;
  const fallback = gatePolicyFile(undefined);
  return existsSync(fallback) ? fallback : undefined;
}

async function containConfig(file: string | undefined): Promise<ContainConfig | undefined> {
  if (!file) return undefined;
  try {
    tuneForOneShot();
    return (await openGate(file, { receipts: false })).gate.containConfig;
  } catch (error) {
    if (error instanceof GateLoadError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * The network policy: that same file's, when it is a full policy (it has `version:`); a file
 * holding only `gate:` has no network rules, and no file at all means none either. No rules:
 * nothing leaves, as with `airlock run` without --policy.
 */
function networkPolicy(file: string | undefined): Policy {
  let full = false;
  if (file) {
    try {
      const doc: unknown = parseYaml(readFileSync(file, "utf8"));
      full = typeof doc === "object" && doc !== null && "version" in doc;
    } catch {
      full = true; // let the policy loader name the problem
    }
  }
  if (!file || !full) return denyAllPolicy();
  const loaded = loadPolicyFile(file);
  for (const warning of loaded.warnings) say(`warning: ${formatProblem(warning)}`);
  if (!loaded.ok) throw new CliError(formatLoadErrors(loaded.errors, file));
  return loaded.value;
}

export async function contain(command: string[], opts: ContainOptions): Promise<void> {
  if (command.length === 0) throw new UsageError("give the command after --");
  const given = resolve(opts.workdir ?? process.cwd());
  if (given === "/" || !existsSync(given) || !statSync(given).isDirectory()) {
    throw new CliError(`--workdir ${given}: not a directory the run can overlay`);
  }
  // Its real path: where committed symlinks lead is compared with it.
  const workdir = realpathSync(given);
  const cwd = process.cwd();
  const inside = !relative(workdir, cwd).startsWith("..") && !relative(workdir, cwd).startsWith("/");
  if (!inside)
    say(`airlock gate contain: the command starts in ${workdir} (the current directory is outside it)`);
  const file = gateFile(opts.policy);
  const config = await containConfig(file);
  const sandboxed = containSandboxPolicy(networkPolicy(file), { workdir, home: homedir() });
  for (const note of sandboxed.notes) say(`airlock: note: ${note}`);

  const home = airlockHome();
  const stageDir = createStage(homePaths(home).containStages);
  const layersDir = join(stageDir, "ns");
  mkdirSync(layersDir);
  const { startSupervised, SupervisorError } = await import("../supervisor/supervisor.ts");
  let timedOut = false;
  let exitCode: number;
  let sandbox: { name: string; logDir: string } | undefined;
  try {
    const supervised = await startSupervised({
      policy: sandboxed.policy,
      policyFile: file,
      workdir,
      ...(inside ? { cwd } : {}),
      command,
      connectTo: opts.connectTo,
      upstreamCaFiles: opts.upstreamCa,
      nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS,
      airlockHome: home,
      overlay: {
        dir: layersDir,
        sizeBytes: config?.commit.max_bytes ?? 256 * 1024 * 1024,
        statusFile: join(stageDir, "command-rc"),
        after: [process.execPath, resolve(process.argv[1] ?? "bin/airlock.js"), "gate", "_collect", stageDir],
      },
    });
    sandbox = { name: supervised.name, logDir: supervised.logDir };
    const timer = setTimeout(
      () => {
        timedOut = true;
        supervised.kill();
      },
      (config?.timeout_seconds ?? 600) * 1000,
    );
    exitCode = await supervised.exited;
    clearTimeout(timer);
  } catch (error) {
    rmSync(stageDir, { recursive: true, force: true });
    if (error instanceof SupervisorError) throw new CliError(`contain: ${error.message}`);
    throw error;
  }
  try {
    if (!existsSync(join(stageDir, "command-rc")) || !existsSync(join(stageDir, "changes.json"))) {
      throw new CliError(
        timedOut
          ? "contain: the command ran out of time; every change was discarded"
          : `contain: the sandbox could not be set up (exit ${exitCode}); nothing ran or nothing was kept`,
      );
    }
    const changes = JSON.parse(readFileSync(join(stageDir, "changes.json"), "utf8")) as Change[];
    const gitDirs = gitDirsAfter(changes, (rel) => entryKind(join(workdir, rel)));
    const verdict = decideCommit(changes, config, { cwd: workdir, workdir, home: homedir() }, gitDirs);
    if (timedOut) verdict.reasons.push("the command ran out of time");
    const commit = verdict.commit && !timedOut;
    if (commit && changes.length > 0) applyChanges(workdir, stageDir, changes);
    const lines = renderChanges(changes);
    const head = commit
      ? `airlock gate contain: committed ${changes.length} change${changes.length === 1 ? "" : "s"} to ${workdir}`
      : `airlock gate contain: discarded ${changes.length} change${changes.length === 1 ? "" : "s"} (${verdict.reasons.join("; ")})`;
    say([head, ...lines.map((l) => `  ${l}`), ...verdict.notes.map((n) => `  note: ${n}`)].join("\n"));
    if (opts.report) {
      writeFileSync(
        opts.report,
        `${JSON.stringify(
          {
            exit_code: exitCode,
            committed: commit,
            reasons: verdict.reasons,
            notes: verdict.notes,
            changes,
            sandbox: sandbox.name,
            logs: sandbox.logDir,
          },
          null,
          2,
        )}\n`,
      );
    }
    // A run whose changes were thrown away did not do what was asked: never report success.
    process.exitCode = !commit && exitCode === 0 ? 1 : exitCode;
  } finally {
    if (!opts.keep) rmSync(stageDir, { recursive: true, force: true });
    else {
      keepStage(stageDir);
      say(`airlock gate contain: staged change set kept in ${stageDir}`);
    }
  }
}

/** What the workdir holds at `path` now (not following a symbolic link). */
function entryKind(path: string): EntryKind {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : null;
  } catch {
    return null;
  }
}
