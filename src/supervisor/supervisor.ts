// The per-sandbox supervisor (docs/design.md §2): loads the policy, prepares the sandbox's state
// folder (logs, CA, policy snapshot), starts the sandbox, embeds the egress proxy on the
// listener the sandbox hands over, identifies each connection's binary, serves policy.local,
// forwards signals, and exits with the command's status.

import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join, resolve } from "node:path";
import { buildConfigEvent, buildHostRunFileEvent, buildProcessEvent, type OcsfEvent } from "../audit/ocsf.ts";
import { AuditLog } from "../audit/writer.ts";
import { dumpPolicyYaml, policyHash } from "../policy/canonical.ts";
import { loadPolicyFile } from "../policy/file.ts";
import { denyAllPolicy, formatLoadErrors, formatProblem } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import type { SandboxCA } from "../proxy/ca.ts";
import { CA_CERT_FILE } from "../proxy/ca-files.ts";
import { parseConnectTo } from "../proxy/connect-to.ts";
import type { DenialEvent, ProcessIdentity, Unidentified } from "../proxy/proxy.ts";
import { reviewCommandKeys } from "../sandbox/command-keys.ts";
import type { HomeView } from "../sandbox/home-view.ts";
import { symlinkedBinaries } from "../sandbox/host-facts.ts";
import { reviewHostRun } from "../sandbox/host-run.ts";
import { SandboxIdentifier } from "../sandbox/identity.ts";
import type { RunningSandbox } from "../sandbox/launch.ts";
import { generateName } from "../sandbox/names.ts";
import type { OverlaySpec } from "../sandbox/overlay.ts";
import {
  checkName,
  checkUserNamespaces,
  checkWorkdir,
  findBwrap,
  PreflightError,
} from "../sandbox/preflight.ts";
import {
  type PreparedSandbox,
  prepareSandbox,
  recoverStaleMountPoints,
  removeHostMountPoints,
  type SandboxSpec,
  startSandbox,
  writeCaBundle,
} from "../sandbox/sandbox.ts";
import { commandPath } from "./command-path.ts";
import type { ProposalsHandler } from "./policy-local-server.ts";
import { readSandboxRecord } from "./sandbox-records.ts";

export class SupervisorError extends Error {}

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
  onDenial(event: DenialEvent): void;
  proposalsEnabled(): boolean;
  attach(target: { setPolicy(next: Policy, version: number): void; record(event: OcsfEvent): void }): void;
  stop(): Promise<void>;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

/** The policy file's, its warnings logged; without a file, one that lets nothing out. */
function runPolicy(file: string | undefined, log: (line: string) => void): Policy {
  if (file === undefined) return denyAllPolicy();
  const loaded = loadPolicyFile(file);
  for (const warning of loaded.warnings) log(`warning: ${formatProblem(warning)}`);
  if (!loaded.ok) throw new SupervisorError(formatLoadErrors(loaded.errors, file));
  return loaded.value;
}

/** A sandbox of that name is running now (its supervisor is alive and it has not ended). */
export function sandboxRunning(airlockHome: string, name: string): boolean {
  return readSandboxRecord(airlockHome, name)?.running ?? false;
}

function listedBinaries(policy: Policy): string[] {
  return Object.values(policy.network_policies).flatMap((rule) => rule.binaries.map((b) => b.path));
}

/** As node does with NODE_EXTRA_CA_CERTS: a file it cannot use is a warning, and is left out. */
function readNodeExtraCAs(file: string | undefined, log: (line: string) => void): string[] {
  if (!file) return [];
  try {
    const pem = readFileSync(file, "utf8");
    if (pem.includes("BEGIN CERTIFICATE")) return [pem];
    log(
      `airlock: warning: NODE_EXTRA_CA_CERTS ${file} holds no PEM certificate; upstreams are verified without it`,
    );
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    log(`airlock: warning: NODE_EXTRA_CA_CERTS ${file}: ${reason}; upstreams are verified without it`);
  }
  return [];
}

function readCAs(files: readonly string[]): string[] {
  return files.map((file) => {
    try {
      const pem = readFileSync(file, "utf8");
      if (!pem.includes("BEGIN CERTIFICATE")) throw new Error("no PEM certificate in it");
      // The proxy builds its trust store on first use; a broken file is reported now instead.
      new X509Certificate(pem);
      return pem;
    } catch (error) {
      throw new SupervisorError(`--upstream-ca ${file}: ${(error as Error).message}`);
    }
  });
}

/** What of the homes the sandbox sees, and why: the run summary's first lines. */
function homeSummary(view: HomeView): string[] {
  if (view.hidden.length === 0) return [];
  return [
    `home directories hidden (${view.hidden.join(", ")}): the sandbox sees only what the policy lists${view.visible.length > 0 ? ", and read-only:" : ""}`,
    ...view.visible.map((v) => `  ${v.path} (${v.reason})`),
  ];
}

/**
 * The end of a run: lists what the sandbox created or changed that a host tool runs on its own,
 * in the terminal and the audit log, after moving it aside unless the policy keeps it.
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
      `airlock: warning: ${root} holds too many directories to check them all for files a host tool runs on its own; review what the run left there`,
    );
  }
  const entries = reviewCommandKeys(prepared.commandKeys, disarm);
  if (review.findings.length + entries.length === 0) return;
  const n = review.findings.length + entries.length;
  log(
    `airlock: the sandbox created or changed ${n} file${n === 1 ? "" : "s"} a host tool runs or obeys on its own${disarm ? " (moved aside or put back; filesystem_policy.host_run_files: keep leaves them)" : " (kept: filesystem_policy.host_run_files is keep)"}:`,
  );
  for (const f of review.findings) {
    audit.write(buildHostRunFileEvent({ time, ...f, sandbox }));
    const outcome = f.disarmedTo ? ` -> ${f.disarmedTo}` : f.error ? ` (could not move it: ${f.error})` : "";
    log(`airlock:   ${f.change} ${f.path} (${f.tool})${outcome}`);
  }
  for (const e of entries) {
    audit.write(buildHostRunFileEvent({ time, path: e.file, ...e, sandbox }));
    const outcome = e.restored
      ? " -> put back as it was"
      : e.error
        ? ` (could not put it back: ${e.error})`
        : "";
    log(`airlock:   ${e.change} ${e.entry} in ${e.file} (${e.tool})${outcome}`);
  }
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

/**
 * The proxy and the CA, loaded once bubblewrap is on its way: they bring Node's HTTP and TLS
 * modules, which nothing before the spawn needs.
 */
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
type ProxyCode = Awaited<ReturnType<typeof loadProxyCode>>;

/** Runs the command in a new sandbox; resolves with the exit status for `airlock run`. */
export async function runSupervised(options: SupervisorOptions): Promise<number> {
  return (await startSupervised(options)).exited;
}

export async function startSupervised(options: SupervisorOptions): Promise<SupervisedSandbox> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.command.length === 0)
    throw new SupervisorError("no command given: airlock run [options] -- CMD...");
  const policy = options.policy ?? runPolicy(options.policyFile, log);
  const connectTo = (options.connectTo ?? []).map((spec) => {
    try {
      return parseConnectTo(spec);
    } catch (error) {
      throw new SupervisorError((error as Error).message);
    }
  });
  const upstreamCAs = [
    ...readCAs(options.upstreamCaFiles ?? []),
    ...readNodeExtraCAs(options.nodeExtraCaCerts, log),
  ];
  const airlockHome = resolve(options.airlockHome);
  const sandboxesDir = join(airlockHome, "sandboxes");
  try {
    findBwrap();
    checkUserNamespaces();
    checkWorkdir(resolve(options.workdir));
  } catch (error) {
    if (error instanceof PreflightError) throw new SupervisorError(error.message);
    throw error;
  }
  // Generated names are new folders; a name given with --name may reuse an ended sandbox's.
  const name = options.name ?? generateName((n) => existsSync(join(sandboxesDir, n)));
  try {
    checkName(name);
  } catch (error) {
    throw new SupervisorError((error as Error).message);
  }
  if (sandboxRunning(airlockHome, name))
    throw new SupervisorError(`a sandbox named ${name} is already running`);

  const control = options.connect ? await options.connect(name, policy) : undefined;
  const stateDir = join(sandboxesDir, name);
  const logDir = join(stateDir, "logs");
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const workdir = resolve(options.workdir);
  const info = {
    name,
    pid: process.pid,
    started: new Date().toISOString(),
    workdir,
    command: options.command[0],
    policy_file: options.policyFile ? resolve(options.policyFile) : null,
    logs: logDir,
    ca: join(stateDir, "ca", CA_CERT_FILE),
  };
  writeFileSync(join(stateDir, "sandbox.json"), `${JSON.stringify(info, null, 2)}\n`);

  const spec: SandboxSpec = {
    name,
    policy,
    workdir,
    command: options.command,
    ...(options.cwd === undefined ? {} : { cwd: resolve(options.cwd) }),
    stateDir,
    airlockHome,
    ...(options.overlay ? { overlay: options.overlay } : {}),
  };
  recoverStaleMountPoints(airlockHome);
  let prepared: ReturnType<typeof prepareSandbox>;
  try {
    prepared = prepareSandbox(spec);
  } catch (error) {
    await control?.stop();
    writeFileSync(
      join(stateDir, "sandbox.json"),
      `${JSON.stringify({ ...info, ended: new Date().toISOString(), exit_code: null }, null, 2)}\n`,
    );
    if (error instanceof PreflightError) throw new SupervisorError(error.message);
    throw error;
  }
  // Signals are ours from before the start: one that arrives while the sandbox comes up is
  // delivered to the command as soon as it runs, instead of killing the supervisor.
  let sandbox: RunningSandbox | undefined;
  const pending: NodeJS.Signals[] = [];
  const handlers = FORWARDED_SIGNALS.map(
    (signal) => [signal, () => (sandbox ? sandbox.signal(signal) : pending.push(signal))] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  // bubblewrap and the init start as soon as their mounts are known; the CA, the proxy and what
  // else the sandbox does not need (the policy snapshot, notes, the log) are made while they come
  // up, and the command is released once its CA bundle is complete. Connections wait in the
  // listener's backlog until the proxy is attached.
  const starting = startSandbox(spec, prepared);
  starting.catch(() => {});
  for (const note of prepared.plan.notes) log(`airlock: note: ${note}`);
  if (!options.quiet) for (const line of homeSummary(prepared.view)) log(`airlock: ${line}`);
  for (const { path, target } of symlinkedBinaries(listedBinaries(policy))) {
    log(
      `airlock: note: policy binary ${path} is a symlink to ${target}; programs are identified by the target, so list ${target}`,
    );
  }

  const audit = new AuditLog(logDir, (error) => log(`airlock: cannot write the audit log: ${error.message}`));
  let version = 1;
  let current: Policy = policy;
  const recordLoad = (loaded: Policy) =>
    audit.write(
      buildConfigEvent({
        time: Date.now(),
        ok: true,
        name: "policy",
        version,
        hash: policyHash(loaded),
        sandbox: name,
      }),
    );
  recordLoad(policy);

  const abandon = async (error: unknown): Promise<never> => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    void starting
      .then((started) => {
        started.listener.close();
        started.kill();
      })
      .catch(() => {});
    await control?.stop();
    removeHostMountPoints(prepared.plan.createdOnHost, airlockHome, stateDir);
    audit.close();
    writeFileSync(
      join(stateDir, "sandbox.json"),
      `${JSON.stringify({ ...info, ended: new Date().toISOString(), exit_code: null }, null, 2)}\n`,
    );
    throw new SupervisorError(`the sandbox did not start: ${(error as Error).message}`);
  };
  let ca: SandboxCA;
  let proxyCode: ProxyCode;
  try {
    proxyCode = await loadProxyCode();
    ca = await proxyCode.loadOrCreateSandboxCA(join(stateDir, "ca"), name);
    writeCaBundle(prepared, ca.certPem, upstreamCAs);
    writeFileSync(join(stateDir, "policy.yaml"), dumpPolicyYaml(policy), { mode: 0o600 });
  } catch (error) {
    return abandon(error);
  }

  let identifier: SandboxIdentifier | undefined;
  // A failed identification is a deny whose reason (changed hash, disagreeing owners...) reaches
  // the 403 and the proxy's log line.
  const identify = async (socket: Socket): Promise<ProcessIdentity | Unidentified | null> => {
    if (!identifier) return null;
    // The parent chain costs a read per ancestor and grants only through `children: true`.
    const ancestors = proxyCode.grantsToChildren(current);
    const result = await identifier.identify(socket, { ancestors });
    if (result.ok) return { binary: result.binary, ancestors: result.ancestors, pid: result.pid };
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
  const { EgressProxy, createLocalRouter } = proxyCode;
  const proxy = new EgressProxy({
    policy,
    ca,
    identify,
    connectTo,
    upstreamCAs,
    proposalsEnabled,
    localRouter: createLocalRouter({
      current: () => ({ policy: current, version }),
      logDir,
      proposalsEnabled,
      proposals: options.proposals ?? (control ? () => control.proposals() : undefined),
    }),
    audit,
    onDenial,
    hostFacts: (next) => ({
      symlinks: new Map(symlinkedBinaries(listedBinaries(next)).map(({ path, target }) => [path, target])),
    }),
  });

  try {
    sandbox = await starting;
  } catch (error) {
    await proxy.close();
    return abandon(error);
  }
  identifier = new SandboxIdentifier({ reaperPid: sandbox.reaperPid, initPid: sandbox.initPid });
  const commandBinary = commandPath(options.command[0] as string, process.env.PATH, options.cwd ?? workdir);
  sandbox.listener.on("connection", (socket) => proxy.handle(socket));
  sandbox.release();
  audit.write(
    buildProcessEvent({
      time: Date.now(),
      activity: "launch",
      actor: { binary: commandBinary, pid: sandbox.initPid },
      sandbox: name,
    }),
  );
  if (!options.quiet) log(`airlock: sandbox ${name} started (logs: ${logDir})`);

  for (const signal of pending.splice(0)) sandbox.signal(signal);

  const finish = async (): Promise<number> => {
    const status = await sandbox.exited;
    for (const [signal, handler] of handlers) process.off(signal, handler);
    sandbox.listener.close();
    await control?.stop();
    await proxy.close();
    audit.write(
      buildProcessEvent({
        time: Date.now(),
        activity: "terminate",
        actor: { binary: commandBinary, pid: sandbox.initPid },
        exitCode: status.code,
        sandbox: name,
      }),
    );
    removeHostMountPoints(prepared.plan.createdOnHost, airlockHome, stateDir);
    reportHostRunFiles(prepared, policy, name, audit, log);
    audit.close();
    writeFileSync(
      join(stateDir, "sandbox.json"),
      `${JSON.stringify({ ...info, ended: new Date().toISOString(), exit_code: status.code }, null, 2)}\n`,
    );
    return status.code;
  };
  const supervised: SupervisedSandbox = {
    name,
    stateDir,
    logDir,
    setPolicy(next: Policy, nextVersion?: number): number {
      proxy.setPolicy(next);
      current = next;
      version = nextVersion ?? version + 1;
      recordLoad(next);
      writeFileSync(join(stateDir, "policy.yaml"), dumpPolicyYaml(next), { mode: 0o600 });
      return version;
    },
    current: () => ({ policy: current, version }),
    exited: finish(),
    kill: () => sandbox.kill(),
  };
  control?.attach({
    setPolicy: (next, v) => supervised.setPolicy(next, v),
    record: (event) => audit.write(event),
  });
  return supervised;
}
