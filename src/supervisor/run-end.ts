// The end of a run, whichever way it goes. `finishRun` waits for the command's exit and undoes
// the start in reverse (signals, listener, control plane, proxy), then records the end: the audit
// log's terminate event, the mount points made on the host removed, the files a host tool runs on
// its own reported, sandbox.json marked ended. `abandonStart` does the same for a start that
// failed once bubblewrap was on its way.
import { buildHostRunFileEvent, buildProcessEvent } from "../audit/ocsf.ts";
import { oneLine } from "../audit/redact.ts";
import type { AuditLog } from "../audit/writer.ts";
import type { Policy } from "../policy/schema.ts";
import { type AgentStateFinding, mergeAgentStateBack } from "../sandbox/agent-state.ts";
import { reviewHostRun } from "../sandbox/host-run.ts";
import { type PreparedSandbox, removeHostMountPoints } from "../sandbox/sandbox.ts";
import type { Launch } from "./start-launch.ts";
import type { Preflight } from "./start-preflight.ts";
import type { Attached } from "./start-proxy.ts";
import { recordEnd, type SandboxState } from "./start-state.ts";
import type { ControlPlane } from "./supervisor.ts";
import { SupervisorError } from "./supervisor-error.ts";

/** Resolves with the command's exit status once everything is cleaned up. */
export async function finishRun(
  checked: Preflight,
  state: SandboxState,
  control: ControlPlane | undefined,
  launched: Launch,
  attached: Attached,
  log: (line: string) => void,
): Promise<number> {
  const { sandbox, proxy, commandBinary } = attached;
  const { audit } = launched;
  const status = await sandbox.exited;
  launched.signals.stop();
  sandbox.listener.close();
  await control?.stop();
  await proxy.close();
  audit.write(
    buildProcessEvent({
      time: Date.now(),
      activity: "terminate",
      actor: { binary: commandBinary, pid: sandbox.initPid },
      exitCode: status.code,
      sandbox: checked.name,
    }),
  );
  removeHostMountPoints(state.prepared.plan.createdOnHost, checked.airlockHome, state.stateDir);
  reportHostRunFiles(state.prepared, checked.policy, checked.name, audit, log);
  audit.close();
  recordEnd(state, status.code);
  return status.code;
}

/** Takes down what a failed start left (the sandbox first, if it came up) and throws why. */
export async function abandonStart(
  error: unknown,
  checked: Preflight,
  state: SandboxState,
  control: ControlPlane | undefined,
  launched: Launch,
): Promise<never> {
  launched.signals.stop();
  // The sandbox is gone before its mount points are removed: bubblewrap still coming up would
  // make them again, and leave them in the workdir.
  const started = await launched.starting.catch(() => undefined);
  if (started) {
    started.listener.close();
    started.kill();
    await started.exited;
  }
  await control?.stop();
  removeHostMountPoints(state.prepared.plan.createdOnHost, checked.airlockHome, state.stateDir);
  launched.audit.close();
  recordEnd(state, null);
  throw new SupervisorError(`the sandbox did not start: ${(error as Error).message}`);
}

/**
 * Lists what the sandbox created or changed that a host tool runs on its own, in the terminal
 * and the audit log, after moving it aside unless the policy keeps it.
 */
function reportHostRunFiles(
  prepared: PreparedSandbox,
  policy: Policy,
  sandbox: string,
  audit: AuditLog,
  log: (line: string) => void,
): void {
  const disarm = policy.filesystem_policy?.host_run_files !== "keep";
  const time = Date.now();
  const review = reviewHostRun(prepared.scans, {
    home: prepared.home,
    disarm,
    time,
    ignore: new Set(prepared.plan.createdOnHost),
  });
  for (const root of review.incomplete) {
    log(
      `airlock: warning: ${root} holds too many directories to check them all for files a host tool runs on its own: ${disarm ? "the new directories past the walk's bounds are moved aside unchecked (listed below)" : "review what the run left there"}`,
    );
  }
  const entries = mergeAgentStateBack(prepared.agentState, { applyAll: !disarm, time });
  if (review.findings.length + entries.length === 0) return;
  const n = review.findings.length + entries.length;
  log(
    `airlock: the sandbox created or changed ${n} file${n === 1 ? "" : "s"} or entr${n === 1 ? "y" : "ies"} a host tool runs or obeys on its own${disarm ? " (moved aside or not applied; filesystem_policy.host_run_files: keep applies them)" : " (kept: filesystem_policy.host_run_files is keep)"}:`,
  );
  for (const f of review.findings) {
    audit.write(buildHostRunFileEvent({ time, ...f, sandbox }));
    const outcome = f.disarmedTo ? ` -> ${f.disarmedTo}` : f.error ? ` (could not move it: ${f.error})` : "";
    // The names are the sandbox's: printed as they are, they could drive the terminal or forge lines.
    log(oneLine(`airlock:   ${f.change} ${f.path} (${f.tool})${outcome}`));
  }
  for (const e of entries) {
    const { file: path, keptAt, applied, ...rest } = e;
    // Not applied is never logged as kept: where the copy went, or why it is not there.
    const moved = applied
      ? {}
      : keptAt
        ? { disarmedTo: keptAt }
        : { error: rest.error ?? "not applied; the sandbox's copy could not be kept" };
    audit.write(buildHostRunFileEvent({ time, path, ...rest, ...moved, sandbox }));
  }
  for (const line of agentStateLines(entries)) log(`airlock:   ${line}`);
}

/** One line per state file and outcome, its entries listed: a first run changes many at once. */
function agentStateLines(entries: readonly AgentStateFinding[]): string[] {
  const groups = new Map<string, string[]>();
  for (const e of entries) {
    const copy = `the sandbox's copy: ${e.keptAt ?? "lost"}`;
    const outcome = e.error
      ? `: nothing merged, ${e.error} (${copy})`
      : e.applied
        ? ", applied"
        : `, not applied (${copy})`;
    const head = `${e.file} (${e.tool})${outcome}`;
    const list = groups.get(head) ?? [];
    if (e.entry) list.push(`${e.change} ${oneLine(e.entry)}`); // names the sandbox chose
    groups.set(head, list);
  }
  return [...groups].map(([head, list]) => (list.length > 0 ? `${head}: ${list.join(", ")}` : head));
}
