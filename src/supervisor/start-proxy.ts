// Start phase 4, attach the proxy: the proxy's code and the sandbox's CA are loaded and made while
// bubblewrap comes up (they bring Node's HTTP and TLS modules, which nothing before the spawn
// needs); once the CA bundle is complete and the init has handed over its listener, every
// connection goes to the embedded proxy and the command is released. Connections made before
// that wait in the listener's backlog.
import type { Socket } from "node:net";
import { buildProcessEvent } from "../audit/ocsf.ts";
import type { DenialEvent, EgressProxy, ProcessIdentity, Unidentified } from "../proxy/proxy.ts";
import { symlinkedBinaries } from "../sandbox/host-facts.ts";
import { SandboxIdentifier } from "../sandbox/identity.ts";
import type { RunningSandbox } from "../sandbox/launch.ts";
import { writeCaBundle } from "../sandbox/sandbox.ts";
import { commandPath } from "./command-path.ts";
import { type Launch, listedBinaries } from "./start-launch.ts";
import type { Preflight } from "./start-preflight.ts";
import type { SandboxState } from "./start-state.ts";
import type { ControlPlane, SupervisorOptions } from "./supervisor.ts";

export interface Attached {
  sandbox: RunningSandbox;
  proxy: EgressProxy;
  /** The command's binary as the audit log names it. */
  commandBinary: string;
}

async function loadProxyCode() {
  const [{ EgressProxy }, { loadOrCreateSandboxCA }, { createLocalRouter }, { grantsToChildren }] =
    await Promise.all([
      import("../proxy/proxy.ts"),
      import("../proxy/ca.ts"),
      import("./policy-local-server.ts"),
      import("../policy/engine.ts"),
    ]);
  return { EgressProxy, loadOrCreateSandboxCA, createLocalRouter, grantsToChildren };
}

/** Rejects if the sandbox did not start; the caller abandons the run (run-end.ts). */
export async function attachProxy(
  options: SupervisorOptions,
  checked: Preflight,
  state: SandboxState,
  control: ControlPlane | undefined,
  launched: Launch,
  log: (line: string) => void,
): Promise<Attached> {
  const { name } = checked;
  const { audit, enforced } = launched;
  const code = await loadProxyCode();
  const ca = await code.loadOrCreateSandboxCA(state.files.ca, name);
  writeCaBundle(state.prepared, ca.certPem, checked.upstreamCAs);
  enforced.writeSnapshot();

  let identifier: SandboxIdentifier | undefined;
  // A failed identification is a deny whose reason (changed hash, disagreeing owners...) reaches
  // the 403 and the proxy's log line.
  const identify = async (socket: Socket): Promise<ProcessIdentity | Unidentified | null> => {
    if (!identifier) return null;
    // The parent chain costs a read per ancestor and grants only through `children: true`.
    const ancestors = code.grantsToChildren(enforced.policy);
    const result = await identifier.identify(socket, { ancestors });
    if (result.ok)
      return {
        binary: result.binary,
        ancestors: result.ancestors,
        writable: result.writable,
        pid: result.pid,
      };
    const named = result.binary === undefined || result.reason.includes(result.binary);
    return { unidentified: named ? result.reason : `${result.reason} (${result.binary})` };
  };
  const proposalsEnabled =
    options.proposalsEnabled ??
    (control ? () => control.proposalsEnabled() : () => options.enableProposals === true);
  const onDenial = (event: DenialEvent) => {
    control?.onDenial(event);
    options.onDenial?.(event);
  };
  const proxy = new code.EgressProxy({
    policy: checked.policy,
    ca,
    identify,
    connectTo: checked.connectTo,
    upstreamCAs: checked.upstreamCAs,
    proposalsEnabled,
    localRouter: code.createLocalRouter({
      current: () => ({ policy: enforced.policy, version: enforced.version }),
      logDir: state.logDir,
      proposalsEnabled,
      proposals: options.proposals ?? (control ? () => control.proposals() : undefined),
      ...(control?.gateHook ? { gateHook: () => control.gateHook?.(checked.workdir) } : {}),
    }),
    audit,
    onDenial,
    hostFacts: (next) => ({
      symlinks: new Map(symlinkedBinaries(listedBinaries(next)).map(({ path, target }) => [path, target])),
    }),
  });

  let sandbox: RunningSandbox;
  try {
    sandbox = await launched.starting;
  } catch (error) {
    await proxy.close();
    throw error;
  }
  const sandboxIdentifier = new SandboxIdentifier({ reaperPid: sandbox.reaperPid, initPid: sandbox.initPid });
  identifier = sandboxIdentifier;
  const commandBinary = commandPath(
    options.command[0] as string,
    process.env.PATH,
    options.cwd ?? checked.workdir,
  );
  sandbox.listener.on("connection", (socket) => {
    // First: the socket table is then read on the reader thread while the proxy sets up.
    sandboxIdentifier.accepted(socket);
    proxy.handle(socket);
  });
  sandbox.release();
  audit.write(
    buildProcessEvent({
      time: Date.now(),
      activity: "launch",
      actor: { binary: commandBinary, pid: sandbox.initPid },
      sandbox: name,
    }),
  );
  if (!options.quiet) log(`airlock: sandbox ${name} started (logs: ${state.logDir})`);
  launched.signals.deliverTo(sandbox);
  return { sandbox, proxy, commandBinary };
}
