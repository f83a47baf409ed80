// `airlock gate contain -- CMD` (loaded when the command runs): run in a sandbox with the workdir on an overlay, then commit or discard.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative, resolve } from "node:path";
import { applyChanges } from "../gate/contain/apply.ts";
import { type Change, decideCommit, renderChanges } from "../gate/contain/changeset.ts";
import { existingPaths, runContained } from "../gate/contain/launch.ts";
import { airlockHome } from "../gate/receipt-store.ts";
import { GateLoadError, openGate } from "../gate/runtime.ts";
import type { ContainConfig } from "../gate/schema.ts";
import { tuneForOneShot } from "../gate/shell/parser.ts";
import { CliError } from "./common.ts";

export interface ContainOptions {
  policy?: string;
  workdir?: string;
  keep?: boolean;
  report?: string;
}

/** Directories the contained command never sees (an empty tmpfs is mounted over each). */
function hiddenPaths(): string[] {
  const home = homedir();
  const secrets = [
    ".ssh",
    ".aws",
    ".gnupg",
    ".azure",
    ".kube",
    ".docker",
    ".config/gcloud",
    ".password-store",
  ];
  return existingPaths([...secrets.map((s) => join(home, s)), airlockHome()]);
}

async function containConfig(policy: string | undefined): Promise<ContainConfig | undefined> {
  const explicit = policy ?? process.env["AIRLOCK_GATE_POLICY"];
  if (!explicit && !existsSync(join(airlockHome(), "gate.yaml"))) return undefined;
  try {
    tuneForOneShot();
    return (await openGate(policy, { receipts: false })).gate.containConfig;
  } catch (error) {
    if (error instanceof GateLoadError) throw new CliError(error.message);
    throw error;
  }
}

export async function contain(command: string[], opts: ContainOptions): Promise<void> {
  if (command.length === 0) throw new CliError("give the command after --", 2);
  const workdir = resolve(opts.workdir ?? process.cwd());
  if (workdir === "/" || !existsSync(workdir) || !statSync(workdir).isDirectory()) {
    throw new CliError(`--workdir ${workdir}: not a directory the run can overlay`);
  }
  const cwd = process.cwd();
  const inside = !relative(workdir, cwd).startsWith("..") && !relative(workdir, cwd).startsWith("/");
  const config = await containConfig(opts.policy);
  const base = join(airlockHome(), "gate", "contain");
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const stageDir = mkdtempSync(join(base, "run-"));
  const hide = hiddenPaths().filter((p) => !workdir.startsWith(`${p}/`) && p !== workdir);
  const result = await runContained(
    {
      workdir,
      cwd: inside ? cwd : workdir,
      command,
      stageDir,
      hide,
      collector: [process.execPath, resolve(process.argv[1] ?? "bin/airlock.js"), "gate", "_collect"],
      tmpfsBytes: config?.commit.max_bytes ?? 256 * 1024 * 1024,
    },
    config?.timeout_seconds ?? 600,
  );
  try {
    if (!existsSync(join(stageDir, "command-rc")) || !existsSync(join(stageDir, "changes.json"))) {
      throw new CliError(
        result.timedOut
          ? "contain: the command ran out of time; every change was discarded"
          : `contain: the sandbox could not be set up (exit ${result.exitCode}); nothing ran or nothing was kept`,
      );
    }
    const changes = JSON.parse(readFileSync(join(stageDir, "changes.json"), "utf8")) as Change[];
    const verdict = decideCommit(changes, config, { cwd: workdir, workdir, home: homedir() });
    if (result.timedOut) verdict.reasons.push("the command ran out of time");
    const commit = verdict.commit && !result.timedOut;
    if (commit && changes.length > 0) applyChanges(workdir, stageDir, changes);
    const lines = renderChanges(changes);
    const head = commit
      ? `airlock gate contain: committed ${changes.length} change${changes.length === 1 ? "" : "s"} to ${workdir}`
      : `airlock gate contain: discarded ${changes.length} change${changes.length === 1 ? "" : "s"} (${verdict.reasons.join("; ")})`;
    process.stderr.write(`${[head, ...lines.map((l) => `  ${l}`)].join("\n")}\n`);
    if (opts.report) {
      writeFileSync(
        opts.report,
        `${JSON.stringify({ exit_code: result.exitCode, committed: commit, reasons: verdict.reasons, changes }, null, 2)}\n`,
      );
    }
    // A run whose changes were thrown away did not do what was asked: never report success.
    process.exitCode = !commit && result.exitCode === 0 ? 1 : result.exitCode;
  } finally {
    if (!opts.keep) rmSync(stageDir, { recursive: true, force: true });
    else process.stderr.write(`airlock gate contain: staged change set kept in ${stageDir}\n`);
  }
}
