// Start phase 2, prepare state: the sandbox's folder under $AIRLOCK_HOME/sandboxes/<name> (its
// logs, its sandbox.json record) and its mount plan. Nothing runs yet; a plan that cannot be made
// ends the record and stops the control plane before the error goes up.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { sandboxDir, sandboxFiles } from "../protocol/home.ts";
import { type SandboxRecord, writeSandboxRecord } from "../protocol/sandbox-record.ts";
import { CA_CERT_FILE } from "../proxy/ca-files.ts";
import { PreflightError } from "../sandbox/preflight.ts";
import {
  type PreparedSandbox,
  prepareSandbox,
  recoverStaleMountPoints,
  type SandboxSpec,
} from "../sandbox/sandbox.ts";
import type { Preflight } from "./start-preflight.ts";
import type { ControlPlane, SupervisorOptions } from "./supervisor.ts";
import { SupervisorError } from "./supervisor-error.ts";

export interface SandboxState {
  stateDir: string;
  /** Every path in the sandbox's folder. */
  files: ReturnType<typeof sandboxFiles>;
  logDir: string;
  /** sandbox.json as the start writes it; the end adds `ended` and `exit_code`. */
  record: SandboxRecord;
  spec: SandboxSpec;
  prepared: PreparedSandbox;
}

export async function prepareState(
  options: SupervisorOptions,
  checked: Preflight,
  control: ControlPlane | undefined,
): Promise<SandboxState> {
  const { name, airlockHome, workdir } = checked;
  const stateDir = sandboxDir(airlockHome, name);
  const files = sandboxFiles(stateDir);
  const logDir = files.logs;
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const record: SandboxRecord = {
    name,
    pid: process.pid,
    started: new Date().toISOString(),
    workdir,
    command: options.command[0],
    policy_file: options.policyFile ? resolve(options.policyFile) : null,
    logs: logDir,
    ca: join(files.ca, CA_CERT_FILE),
  };
  writeSandboxRecord(stateDir, record);

  const spec: SandboxSpec = {
    name,
    policy: checked.policy,
    workdir,
    command: options.command,
    ...(options.cwd === undefined ? {} : { cwd: resolve(options.cwd) }),
    stateDir,
    airlockHome,
    ...(options.overlay ? { overlay: options.overlay } : {}),
  };
  recoverStaleMountPoints(airlockHome);
  const state = { stateDir, files, logDir, record, spec };
  try {
    return { ...state, prepared: prepareSandbox(spec) };
  } catch (error) {
    await control?.stop();
    recordEnd(state, null);
    if (error instanceof PreflightError) throw new SupervisorError(error.message);
    throw error;
  }
}

/** Marks the run ended in sandbox.json; `null` when the command never ran. */
export function recordEnd(state: Pick<SandboxState, "stateDir" | "record">, exitCode: number | null): void {
  writeSandboxRecord(state.stateDir, {
    ...state.record,
    ended: new Date().toISOString(),
    exit_code: exitCode,
  });
}
