// The per-sandbox supervisor (docs/design.md §2): loads the policy, prepares the sandbox's state
// folder (logs, CA, policy snapshot), starts the sandbox, embeds the egress proxy on the
// listener the sandbox hands over, identifies each connection's binary, serves policy.local,
// forwards signals, and exits with the command's status.
//
// A start is five phases, each in its own file: preflight (start-preflight.ts: every check that
// can refuse the run), prepare state (start-state.ts: the sandbox's folder, record and mount
// plan), launch (start-launch.ts: bubblewrap spawned, signals held), attach the proxy
// (start-proxy.ts: CA and proxy made while bubblewrap comes up, then the command released) and
// the end (run-end.ts: the exit, or a failed start, cleaned up and recorded).
import type { OcsfEvent } from "../audit/ocsf.ts";
import { oneLine } from "../audit/redact.ts";
import type { Policy } from "../policy/schema.ts";
import type { DenialEvent } from "../proxy/proxy.ts";
import type { OverlaySpec } from "../sandbox/overlay.ts";
import type { GateHookHandler } from "./gate-hook.ts";
import type { ProposalsHandler } from "./policy-local-server.ts";
import { abandonStart, finishRun } from "./run-end.ts";
import { launch } from "./start-launch.ts";
import { preflight } from "./start-preflight.ts";
import { type Attached, attachProxy } from "./start-proxy.ts";
import { prepareState } from "./start-state.ts";

export { SupervisorError } from "./supervisor-error.ts";

export interface SupervisorOptions {
  name?: string;
  policyFile?: string;
  /** An already validated policy, used instead of reading policyFile (which is then only recorded). */
  policy?: Policy;
  workdir: string;
  /** Where the command starts (default: the workdir). */
  cwd?: string;
  command: string[];
  connectTo?: string[];
  upstreamCaFiles?: string[];
  /** NODE_EXTRA_CA_CERTS as the user set it: CAs they trust beside the system's, upstream too. */
  nodeExtraCaCerts?: string;
  enableProposals?: boolean;
  airlockHome: string;
  /** Where status lines go (stderr: stdout belongs to the command). */
  log?: (line: string) => void;
  quiet?: boolean;
  /** The gateway session's proposal routes (session.ts); absent → 503 gateway_unavailable. */
  proposals?: () => ProposalsHandler | undefined;
  /** Every denial, in process (the gateway session's aggregator and mechanistic mapper). */
  onDenial?: (event: DenialEvent) => void;
  /** The flag may change while the sandbox runs (a gateway setting); default: enableProposals. */
  proposalsEnabled?: () => boolean;
  /** Called once the name and policy are known, before the sandbox starts: the gateway session. */
  connect?: (name: string, policy: Policy) => Promise<ControlPlane | undefined>;
  /** Put the workdir on an overlay (a contained run, src/sandbox/overlay.ts). */
  overlay?: OverlaySpec;
}

/** The control plane as the supervisor sees it (src/supervisor/session.ts implements it). */
export interface ControlPlane {
  proposals(): ProposalsHandler;
  /** The gate route for an agent's hook inside; without it that route answers 503 (denied). */
  gateHook?(workdir: string): GateHookHandler;
  onDenial(event: DenialEvent): void;
  proposalsEnabled(): boolean;
  attach(target: { setPolicy(next: Policy, version: number): void; record(event: OcsfEvent): void }): void;
  stop(): Promise<void>;
}

/** A running supervised sandbox: the seam the gateway session (session.ts) attaches to. */
export interface SupervisedSandbox {
  name: string;
  stateDir: string;
  logDir: string;
  /** Validated policy → swapped atomically into the proxy; `version` is the gateway's revision number. */
  setPolicy(next: Policy, version?: number): number;
  current(): { policy: Policy; version: number };
  /** Resolves with the exit status for `airlock run` once everything is cleaned up. */
  exited: Promise<number>;
  /** Kills the sandbox at once (SIGKILL); `exited` then resolves as usual. */
  kill(): void;
}

/** Runs the command in a new sandbox; resolves with the exit status for `airlock run`. */
export async function runSupervised(options: SupervisorOptions): Promise<number> {
  return (await startSupervised(options)).exited;
}

/** Starts the command in a new sandbox, phase by phase; resolves once the command runs. */
export async function startSupervised(options: SupervisorOptions): Promise<SupervisedSandbox> {
  // Lines name files and paths the sandbox chose: printable only on the developer's terminal.
  const log = options.log ?? ((line: string) => process.stderr.write(`${oneLine(line)}\n`));
  const checked = preflight(options, log);
  const control = options.connect ? await options.connect(checked.name, checked.policy) : undefined;
  const state = await prepareState(options, checked, control);
  const launched = launch(checked, state, options.quiet === true, log);
  let attached: Attached;
  try {
    attached = await attachProxy(options, checked, state, control, launched, log);
  } catch (error) {
    return abandonStart(error, checked, state, control, launched);
  }
  const { enforced, audit } = launched;
  const supervised: SupervisedSandbox = {
    name: checked.name,
    stateDir: state.stateDir,
    logDir: state.logDir,
    setPolicy(next: Policy, version?: number): number {
      attached.proxy.setPolicy(next);
      return enforced.replace(next, version);
    },
    current: () => ({ policy: enforced.policy, version: enforced.version }),
    exited: finishRun(checked, state, control, launched, attached, log),
    kill: () => attached.sandbox.kill(),
  };
  control?.attach({
    setPolicy: (next, v) => supervised.setPolicy(next, v),
    record: (event) => audit.write(event),
  });
  return supervised;
}
