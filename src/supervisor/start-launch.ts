// Start phase 3, launch: bubblewrap and the init are spawned as soon as the mount plan is known,
// and what the sandbox does not need waits until they are on their way: the notes, the audit
// log and its first policy load (docs/performance.md "Sandbox start"). Signals are ours from
// before the spawn: one that arrives while the sandbox comes up reaches the command once it runs,
// instead of killing the supervisor.
import { AuditLog } from "../audit/writer.ts";
import type { Policy } from "../policy/schema.ts";
import type { HomeView } from "../sandbox/home-view.ts";
import { symlinkedBinaries } from "../sandbox/host-facts.ts";
import type { RunningSandbox } from "../sandbox/launch.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import { EnforcedPolicy } from "./enforced-policy.ts";
import type { Preflight } from "./start-preflight.ts";
import type { SandboxState } from "./start-state.ts";

const FORWARDED_SIGNALS: NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

/** The supervisor's signals, held until the command runs, then forwarded to it. */
export interface SignalForwarding {
  /** Forwards to this sandbox from now on, the signals held so far first. */
  deliverTo(sandbox: RunningSandbox): void;
  stop(): void;
}

export interface Launch {
  /** bubblewrap on its way: settles once the init has handed over its listener, or failed. */
  starting: Promise<RunningSandbox>;
  signals: SignalForwarding;
  audit: AuditLog;
  enforced: EnforcedPolicy;
}

export function launch(
  checked: Preflight,
  state: SandboxState,
  quiet: boolean,
  log: (line: string) => void,
): Launch {
  const signals = forwardSignals();
  const starting = startSandbox(state.spec, state.prepared);
  starting.catch(() => {});
  for (const note of state.prepared.plan.notes) log(`airlock: note: ${note}`);
  if (!quiet) for (const line of homeSummary(state.prepared.view)) log(`airlock: ${line}`);
  for (const { path, target } of symlinkedBinaries(listedBinaries(checked.policy))) {
    log(
      `airlock: note: policy binary ${path} is a symlink to ${target}; programs are identified by the target, so list ${target}`,
    );
  }
  const audit = new AuditLog(state.logDir, (error) =>
    log(`airlock: cannot write the audit log: ${error.message}`),
  );
  const enforced = new EnforcedPolicy(checked.policy, {
    audit,
    sandbox: checked.name,
    snapshotFile: state.files.policy,
  });
  enforced.recordLoad();
  return { starting, signals, audit, enforced };
}

function forwardSignals(): SignalForwarding {
  let sandbox: RunningSandbox | undefined;
  const pending: NodeJS.Signals[] = [];
  const handlers = FORWARDED_SIGNALS.map(
    (signal) => [signal, () => (sandbox ? sandbox.signal(signal) : pending.push(signal))] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return {
    deliverTo(running) {
      sandbox = running;
      for (const signal of pending.splice(0)) running.signal(signal);
    },
    stop() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

export function listedBinaries(policy: Policy): string[] {
  return Object.values(policy.network_policies).flatMap((rule) => rule.binaries.map((b) => b.path));
}

/** What of the homes the sandbox sees, and why: the run summary's first lines. */
function homeSummary(view: HomeView): string[] {
  if (view.hidden.length === 0) return [];
  return [
    `home directories hidden (${view.hidden.join(", ")}): the sandbox sees only what the policy lists${view.visible.length > 0 ? ", and read-only:" : ""}`,
    ...view.visible.map((v) => `  ${v.path} (${v.reason})`),
  ];
}
