// One sandbox, from policy to running processes: the filesystem plan, the bubblewrap command,
// the environment and CA bundle, the launch, and the cleanup of host mount points afterwards.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname } from "node:path";
import { packagePath } from "../package-root.ts";
import type { Policy } from "../policy/schema.ts";
import { sandboxDir, sandboxFiles, sandboxNames } from "../protocol/home.ts";
import {
  readSandboxRecord,
  type StoredSandboxRecord,
  writeSandboxRecord,
} from "../protocol/sandbox-record.ts";
import { type AgentStateCopy, makeAgentStateCopies } from "./agent-state.ts";
import { homesRecordDir, registerAirlockHome } from "./airlock-homes.ts";
import { bwrapArgs, privateTcpTable, sandboxEnv } from "./bwrap.ts";
import { caBundle, systemCaPem } from "./ca-bundle.ts";
import { codexEtc } from "./codex-config.ts";
import { createMissingWritable, type HomeView, homeView } from "./home-view.ts";
import {
  processAlive as alive,
  etcEntries,
  expandHome,
  hostKernelMounts,
  hostProbe,
  primaryGroup,
  resolveId,
} from "./host-facts.ts";
import { launchSandbox, type RunningSandbox, SandboxStartError } from "./launch.ts";
import { FRESH_DIRS, type MountPlan, planMounts, type TreeFacts, within } from "./mounts.ts";
import { OVERLAY_EXIT, type OverlaySpec, overlayCommand, overlayLayers } from "./overlay.ts";
import { checkUserNamespaces, checkWorkdir, findBwrap, findExecutable, PreflightError } from "./preflight.ts";
import { movedAgentHomes, SELF_COMMONDIR } from "./protected.ts";
import { SHALLOW_BOUNDS, scanTree, type TreeScan, WORKDIR_BOUNDS } from "./tree-scan.ts";

export const INIT_SOURCE = packagePath("src", "sandbox", "init.cjs");
export const SKILL_SOURCE = packagePath("src", "sandbox", "skills", "policy_advisor.md");
export const NODE_PROXY_SOURCE = packagePath("src", "sandbox", "node-proxy.cjs");

/** undici's package folder, wherever npm put it (the preload loads it inside the sandbox). */
function undiciDir(): string {
  return dirname(createRequire(import.meta.url).resolve("undici"));
}

export interface SandboxSpec {
  name: string;
  policy: Policy;
  /** Absolute path; the command starts here unless `cwd` says otherwise. */
  workdir: string;
  /** Where the command starts, if not the workdir (a directory inside it, say). */
  cwd?: string;
  command: readonly string[];
  /** Where this sandbox's files live on the host ($AIRLOCK_HOME/sandboxes/<name>). */
  stateDir: string;
  /** Hidden inside the sandbox: holds tokens, keys and every sandbox's state. */
  airlockHome: string;
  hostEnv?: NodeJS.ProcessEnv;
  home?: string;
  startTimeoutMs?: number;
  stdio?: "inherit" | "pipe";
  /** Put the workdir on an overlay: the command's writes to it are staged, not applied. */
  overlay?: OverlaySpec;
}

export interface PreparedSandbox {
  bwrap: string;
  args: string[];
  env: Record<string, string>;
  plan: MountPlan;
  /** The bundle mounted at CA_BUNDLE_PATH: the system's CAs until writeCaBundle adds this sandbox's. */
  caBundlePath: string;
  uid?: number;
  gid?: number;
  /** The writable roots as they were at start: compared with the end (host-run.ts). */
  scans: TreeScan[];
  /** Private copies of the agent state files the policy makes writable (agent-state.ts). */
  agentState: AgentStateCopy[];
  /** What of the homes the sandbox sees. */
  view: HomeView;
  home: string;
  /** Started instead of bubblewrap, and runs it (the overlay's namespace). */
  wrapper?: { file: string; args: string[] };
  /** Execs bubblewrap in the same process (the sandbox's own TCP table, bwrap.ts privateTcpTable). */
  execVia?: string[];
}

function ids(policy: Policy): { uid?: number; gid?: number } {
  const user = policy.process?.run_as_user;
  const group = policy.process?.run_as_group;
  if (user === undefined && group === undefined) return {};
  const uid = user === undefined ? (process.getuid?.() ?? 0) : resolveId(user, "/etc/passwd");
  if (uid === null)
    throw new PreflightError(`process.run_as_user: no user named "${String(user)}" in /etc/passwd`);
  const gid = group === undefined ? (primaryGroup(uid) ?? uid) : resolveId(group, "/etc/group");
  if (gid === null)
    throw new PreflightError(`process.run_as_group: no group named "${String(group)}" in /etc/group`);
  return { uid, gid };
}

/** The start-time scans of the writable roots: the workdir in full (refused past its bounds),
 * the other roots' top levels. Roots are real paths; fresh directories are not the host's. */
function scanWritable(workdir: string | null, readWrite: readonly string[], home: string): TreeScan[] {
  const scans: TreeScan[] = [];
  if (workdir !== null) {
    const scan = scanTree(workdir, WORKDIR_BOUNDS, home);
    if (!scan.complete) {
      throw new PreflightError(
        `the workdir ${workdir} has more than ${WORKDIR_BOUNDS.maxDirs} directories or more than ${WORKDIR_BOUNDS.maxDepth} levels (node_modules and __pycache__ not counted): too many to find every repository in it, whose hooks and config must stay read-only; run in a smaller directory`,
      );
    }
    scans.push(scan);
  }
  for (const path of readWrite) {
    if (FRESH_DIRS.some((f) => path === f) || hostProbe(path) !== "dir") continue;
    let root: string;
    try {
      root = realpathSync(path);
    } catch {
      continue;
    }
    if (!scans.some((s) => s.root === root)) scans.push(scanTree(root, SHALLOW_BOUNDS, home));
  }
  return scans;
}

function treeFacts(scans: readonly TreeScan[]): TreeFacts {
  return {
    gitDirs: [...new Set(scans.flatMap((s) => s.gitDirs))],
    gitFiles: scans.flatMap((s) => s.gitFiles),
    namedByConfig: [...new Set(scans.flatMap((s) => s.namedByConfig))],
    nested: scans.flatMap((s) => s.nested),
  };
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The path with symbolic links resolved, as a mount table names it (as given when absent). */
function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Everything up to the launch: checks, mount plan, arguments, environment, CA bundle on disk. */
export function prepareSandbox(spec: SandboxSpec): PreparedSandbox {
  const hostEnv = spec.hostEnv ?? process.env;
  const bwrap = findBwrap(hostEnv["PATH"]);
  checkUserNamespaces();
  checkWorkdir(spec.workdir);
  const workdir = realpathSync(spec.workdir);
  const home = spec.home ?? homedir();
  const fs = spec.policy.filesystem_policy;
  const expand = (paths: readonly string[] | undefined) => (paths ?? []).map((p) => expandHome(p, home));
  const recordDir = homesRecordDir(home, hostEnv);
  const airlockHomes = registerAirlockHome(recordDir, spec.airlockHome);
  const includeWorkdir = fs?.include_workdir ?? true;
  const readWrite = expand(fs?.read_write);
  const writableRoots = [...(includeWorkdir ? [workdir] : []), ...readWrite.map(realOrSelf)];
  const deny = [
    ...expand(fs?.deny),
    ...airlockHomes,
    recordDir,
    ...hostKernelMounts(readFileSync("/proc/self/mountinfo", "utf8"), writableRoots),
  ];
  for (const d of deny) {
    if (within(workdir, d)) throw new PreflightError(`workdir ${workdir} is inside the hidden path ${d}`);
  }
  if (deny.some((d) => within(process.execPath, d))) {
    throw new PreflightError(`node (${process.execPath}) is inside a deny path; the sandbox init needs it`);
  }
  const creatable = readWrite.filter((p) => !deny.some((d) => within(p, d)));
  const notes = createMissingWritable(creatable, home).map(
    (p) => `created ${p} (owner only): the policy lists it as writable and the home is hidden`,
  );
  // The file must exist to be mounted; the sandbox's CA is added before the command may start.
  const stateFiles = sandboxFiles(spec.stateDir);
  const bundlePath = stateFiles.caBundle;
  writeFileSync(bundlePath, systemCaPem(), { mode: 0o644 });
  const emptyFile = stateFiles.empty;
  const selfCommondir = stateFiles.commondir;
  for (const [file, content] of [
    [emptyFile, ""],
    [selfCommondir, SELF_COMMONDIR],
  ] as const) {
    rmSync(file, { force: true }); // read-only once made: replaced, not rewritten
    writeFileSync(file, content, { mode: 0o444 });
  }
  const emptyDir = stateFiles.emptyDir;
  rmSync(emptyDir, { recursive: true, force: true });
  mkdirSync(emptyDir, { mode: 0o555 });
  const agentState = makeAgentStateCopies(home, hostEnv, readWrite, deny, stateFiles.agentState);
  const scans = scanWritable(includeWorkdir && !spec.overlay ? workdir : null, readWrite, home);
  const tree = treeFacts(scans);
  const view = homeView({
    home,
    env: hostEnv,
    nodePath: process.execPath,
    program: spec.command[0],
    airlockBin: packagePath("bin"),
  });
  // A linked worktree or submodule whose repository lies in a hidden home: shown read-only, so
  // git works inside (writes to it fail).
  for (const dir of tree.gitDirs) {
    const hiddenHere = view.hidden.some((h) => within(dir, h));
    const shown = [...view.visible.map((v) => v.path), ...readWrite, workdir].some((v) => within(dir, v));
    if (hiddenHere && !shown) view.visible.push({ path: dir, reason: "a worktree's git directory" });
  }
  const codex = codexEtc();
  const plan = planMounts({
    workdir: includeWorkdir ? workdir : null,
    readWrite,
    readOnly: expand(fs?.read_only),
    deny: [...deny, ...scans.flatMap((s) => s.airlockHomes)],
    home,
    agentHomes: movedAgentHomes(hostEnv).map((h) => ({ ...h, path: realOrSelf(h.path) })),
    hidden: view.hidden,
    visible: view.visible,
    tree,
    etc: [...etcEntries(), ...codex.etcEntries],
    airlockFiles: {
      "init.cjs": INIT_SOURCE,
      "ca-bundle.pem": bundlePath,
      "skills/policy_advisor.md": SKILL_SOURCE,
      "certs/ca-bundle.pem": bundlePath,
      "node-proxy.cjs": NODE_PROXY_SOURCE,
      "node/undici": undiciDir(),
      ...codex.airlockFiles,
    },
    probe: hostProbe,
    emptyFile,
    emptyDir,
    selfCommondir,
    isLink,
    list: listDir,
    ...(spec.overlay && includeWorkdir ? { workdirSource: overlayLayers(spec.overlay).merged } : {}),
    privateCopies: agentState.flatMap((c) => c.shownAt.map((path) => ({ path, src: c.copy }))),
  });
  plan.notes.unshift(
    ...notes,
    ...scans
      .flatMap((s) => s.symlinked)
      .map((p) => `${p} is a symbolic link: not pinned; a change to what it names is not seen at the end`),
  );
  const unshare = spec.overlay ? null : findExecutable("unshare", hostEnv["PATH"]);
  // privateTcpTable's namespace maps the user to root: bubblewrap is told the ids to keep.
  const kept = unshare ? { uid: process.getuid?.(), gid: process.getgid?.() } : {};
  const { uid, gid } = { ...kept, ...ids(spec.policy) };
  const args = bwrapArgs({
    name: spec.name,
    mounts: plan.ops,
    chdir: spec.cwd === undefined ? workdir : realpathSync(spec.cwd),
    uid,
    gid,
    nodePath: process.execPath,
    command: spec.command,
  });
  const env = sandboxEnv(hostEnv, spec.name);
  const base = { bwrap, args, env, plan, caBundlePath: bundlePath, uid, gid, scans, agentState, view, home };
  if (!spec.overlay) return unshare ? { ...base, execVia: privateTcpTable(unshare) } : base;
  if (!includeWorkdir) throw new PreflightError("an overlay needs filesystem_policy.include_workdir");
  // Tells the command its writes to the workdir are staged (a contained run).
  env["AIRLOCK_CONTAINED"] = "1";
  return { ...base, wrapper: overlayCommand(spec.overlay, workdir, bwrap, args) };
}

/**
 * Completes the sandbox's CA bundle with its CA (certificate only; the key never enters the
 * sandbox) and the extra CAs the proxy trusts upstream. Written in place, so the bind mount shows it; call before `release()`.
 */
export function writeCaBundle(
  prepared: PreparedSandbox,
  caCertPem: string,
  upstreamCaPems: readonly string[] = [],
): void {
  writeFileSync(prepared.caBundlePath, caBundle(systemCaPem(), caCertPem, upstreamCaPems), { mode: 0o644 });
}

export async function startSandbox(
  spec: SandboxSpec,
  prepared = prepareSandbox(spec),
): Promise<RunningSandbox> {
  writeFileSync(sandboxFiles(spec.stateDir).mountPoints, `${JSON.stringify(prepared.plan.createdOnHost)}\n`);
  for (const { path, content } of prepared.plan.prefill) {
    try {
      writeFileSync(path, content, { flag: "wx" });
    } catch {
      // made meanwhile (another sandbox's placeholder, or git's own): bound as it is
    }
  }
  const launched = launchSandbox({
    bwrap: prepared.bwrap,
    args: prepared.args,
    env: prepared.env,
    via: prepared.wrapper,
    execVia: prepared.execVia,
    startTimeoutMs: spec.startTimeoutMs,
    stdio: spec.stdio,
  });
  if (!spec.overlay) return launched;
  return launched.catch((error: unknown) => {
    const code = error instanceof SandboxStartError ? error.status?.code : undefined;
    if (code === OVERLAY_EXIT.tmpfs || code === OVERLAY_EXIT.overlay) {
      throw new SandboxStartError(
        `cannot put the workdir on an overlay (${code === OVERLAY_EXIT.tmpfs ? "tmpfs" : "overlayfs"} mount in a user namespace failed)`,
        (error as SandboxStartError).status,
      );
    }
    throw error;
  });
}

/**
 * The sandboxes that still have a mount-point record, with their sandbox record; a folder that
 * is not a sandbox, or has no record yet, is skipped. `mountpoints.json` lives from the start of
 * a sandbox until its mount points are cleaned up, so only live sandboxes and ones whose
 * supervisor died have one: the scans read those sandboxes' records and no others, however many
 * ended sandboxes keep their logs.
 */
function* sandboxesWithMountPoints(
  airlockHome: string,
): Generator<{ dir: string; info: StoredSandboxRecord }> {
  for (const name of sandboxNames(airlockHome)) {
    const dir = sandboxDir(airlockHome, name);
    if (!existsSync(sandboxFiles(dir).mountPoints)) continue;
    const info = readSandboxRecord(dir);
    if (info) yield { dir, info };
  }
}

function recordedMountPoints(dir: string): string[] {
  return JSON.parse(readFileSync(sandboxFiles(dir).mountPoints, "utf8")) as string[];
}

/** Mount points still needed by another running sandbox (same workdir, started concurrently). */
function inUseElsewhere(airlockHome: string, self: string): Set<string> {
  const used = new Set<string>();
  for (const { dir, info } of sandboxesWithMountPoints(airlockHome)) {
    if (dir === self || info.ended || info.pid === undefined || !alive(info.pid)) continue;
    try {
      for (const p of recordedMountPoints(dir)) used.add(p);
    } catch {
      // its record went away meanwhile: it has ended
    }
  }
  return used;
}

function isSelfCommondir(path: string): boolean {
  try {
    return path.endsWith("/commondir") && readFileSync(path, "utf8") === SELF_COMMONDIR;
  } catch {
    return false;
  }
}

/** Removes the empty files and directories bubblewrap created on the host as mount points for
 * absent protected paths, unless they gained content or another live sandbox still uses them;
 * then the sandbox's record of them. */
export function removeHostMountPoints(paths: readonly string[], airlockHome: string, stateDir: string): void {
  const keep = paths.length > 0 ? inUseElsewhere(airlockHome, stateDir) : new Set<string>();
  for (const path of paths) {
    if (keep.has(path)) continue;
    try {
      const st = statSync(path);
      if (st.isFile() && (st.size === 0 || isSelfCommondir(path))) unlinkSync(path);
      else if (st.isDirectory()) rmdirSync(path); // fails (and stays) unless empty
    } catch {
      // gone already, or not empty: leave it
    }
  }
  rmSync(sandboxFiles(stateDir).mountPoints, { force: true });
}

/**
 * After a supervisor was killed (SIGKILL, power loss) its placeholders stay in the workdir.
 * Every start clears those of sandboxes whose supervisor is gone and that never recorded an end.
 */
export function recoverStaleMountPoints(airlockHome: string): void {
  for (const { dir, info } of sandboxesWithMountPoints(airlockHome)) {
    // Ended before records were removed at the end (older versions): nothing left to clear.
    if (info.ended) rmSync(sandboxFiles(dir).mountPoints, { force: true });
    if (info.ended || info.pid === undefined || alive(info.pid)) continue;
    try {
      removeHostMountPoints(recordedMountPoints(dir), airlockHome, dir);
      writeSandboxRecord(dir, { ...info, ended: new Date().toISOString(), exit_code: null, lost: true });
    } catch {
      // its record went away meanwhile, or the folder is not ours to write
    }
  }
}
