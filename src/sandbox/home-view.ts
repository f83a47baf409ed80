// What the sandbox sees of the home directories (docs/sandbox.md "Home directories"): /home,
// /root and the user's home are fresh and empty inside, except the paths the policy lists and the
// toolchains the user runs from there (the PATH entries under a home and what they resolve to),
// shown read-only so commands keep working. The shell side: it reads PATH and the host's layout.
import { lstatSync, mkdirSync, readdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { within } from "./mounts.ts";

export interface VisiblePath {
  path: string;
  /** Why it is shown: said in the run summary. */
  reason: string;
}

export interface HomeView {
  /** Replaced by an empty tmpfs inside (those that exist, outermost first). */
  hidden: string[];
  /** Shown read-only inside a hidden directory. */
  visible: VisiblePath[];
}

const TOOLCHAIN_BIN = new Set(["bin", "sbin", "shims"]);
/** A prefix laid out like /usr, or a version manager's root (pyenv, nvm, rbenv...). */
const PREFIX_MARKERS = ["lib", "lib64", "libexec", "versions"];
const MAX_LINKS_PER_DIR = 4000;

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** The user's own data, state, configuration and cache (in that order): never part of a toolchain. */
function userDataDirs(home: string, env: NodeJS.ProcessEnv): string[] {
  const xdg = (name: string, fallback: string) => {
    const value = env[name];
    return value?.startsWith("/") ? value : join(home, fallback);
  };
  return [
    xdg("XDG_DATA_HOME", ".local/share"),
    xdg("XDG_STATE_HOME", ".local/state"),
    xdg("XDG_CONFIG_HOME", ".config"),
    xdg("XDG_CACHE_HOME", ".cache"),
  ].map((p) => real(p) ?? p);
}

/**
 * The directory to show for a program directory: `<prefix>/bin` shows the whole prefix when it
 * is laid out as one (its libraries and version directories come along: nvm's
 * `versions/node/vX`, `~/.pyenv`), unless the prefix is a home itself or holds the user's data
 * (`~/.local`: its share/ and state/ are not a toolchain). Otherwise the directory alone.
 */
function toolchainRoot(dir: string, hidden: readonly string[], dataDirs: readonly string[]): string {
  const prefix = dirname(dir);
  if (!TOOLCHAIN_BIN.has(basename(dir)) || hidden.includes(prefix)) return dir;
  if (dataDirs.some((d) => within(d, prefix))) return dir;
  return PREFIX_MARKERS.some((m) => isDir(join(prefix, m))) ? prefix : dir;
}

export interface HomeViewInput {
  home: string;
  env: NodeJS.ProcessEnv;
  /** The node that runs the init inside. */
  nodePath: string;
  /** The command's program, when given as a path. */
  program?: string;
  /** Airlock's own bin/: the gate's hook (bin/airlock-hook) runs from there for an agent inside. */
  airlockBin?: string;
}

export function homeView(input: HomeViewInput): HomeView {
  const hidden: string[] = [];
  for (const dir of ["/home", "/root", input.home]) {
    const path = real(dir);
    if (path === null || !isDir(path) || path === "/") continue;
    if (!hidden.some((h) => within(path, h))) hidden.push(path);
  }
  const dataDirs = userDataDirs(input.home, input.env);
  const visible: VisiblePath[] = [];
  const show = (path: string, reason: string) => {
    if (!hidden.some((h) => within(path, h) && path !== h)) return;
    if (visible.some((v) => within(path, v.path))) return;
    for (let i = visible.length - 1; i >= 0; i--)
      if (within((visible[i] as VisiblePath).path, path)) visible.splice(i, 1);
    visible.push({ path, reason });
  };
  const nodeDir = real(dirname(input.nodePath));
  if (nodeDir)
    show(toolchainRoot(nodeDir, hidden, dataDirs), `node (${input.nodePath}) runs the sandbox's init`);
  // The folder alone (the hook is a bash script), not the package it belongs to.
  const airlockBin = input.airlockBin ? real(input.airlockBin) : null;
  if (airlockBin) show(airlockBin, "Airlock's gate hook (bin/airlock-hook) for an agent inside");
  if (input.program?.startsWith("/")) {
    const dir = real(dirname(input.program));
    if (dir) show(toolchainRoot(dir, hidden, dataDirs), `the command ${input.program}`);
  }
  for (const entry of (input.env["PATH"] ?? "").split(":")) {
    if (!entry.startsWith("/")) continue;
    const dir = real(entry);
    if (dir === null || !isDir(dir) || !hidden.some((h) => within(dir, h) && dir !== h)) continue;
    show(toolchainRoot(dir, hidden, dataDirs), `PATH entry ${entry}`);
    // Programs linked from elsewhere (~/.local/bin/claude -> ~/.local/share/claude/versions/X).
    let names: string[];
    try {
      names = readdirSync(dir).slice(0, MAX_LINKS_PER_DIR);
    } catch {
      continue;
    }
    for (const name of names) {
      const link = join(dir, name);
      try {
        if (!lstatSync(link).isSymbolicLink()) continue;
      } catch {
        continue;
      }
      const target = real(link);
      if (target === null) continue;
      const targetDir = isDir(target) ? target : dirname(target);
      // Not through a link: a home's own top level or the user's configuration (~/.ssh, ~/.config/gh).
      if (hidden.includes(dirname(targetDir)) || within(targetDir, dataDirs[2] as string)) continue;
      show(toolchainRoot(targetDir, hidden, dataDirs), `${link} points there`);
    }
  }
  return { hidden, visible };
}

/**
 * A writable path the policy lists under the user's home that does not exist yet (a first-time
 * user has no `~/.claude`): made now, owner-only, so the agent's state persists across runs. A
 * name with an extension is a file (`~/.claude.json`; JSON files start as `{}`), else a directory.
 * Returns what was made.
 */
export function createMissingWritable(paths: readonly string[], home: string): string[] {
  const made: string[] = [];
  for (const path of paths) {
    if (!within(path, home) || path === home) continue;
    try {
      lstatSync(path);
      continue;
    } catch {
      // absent: made below
    }
    try {
      if (extname(path) !== "") {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileSync(path, extname(path) === ".json" ? "{}\n" : "", { mode: 0o600, flag: "wx" });
      } else {
        mkdirSync(path, { recursive: true, mode: 0o700 });
      }
      made.push(path);
    } catch {
      // not ours to make: the plan notes it as missing
    }
  }
  return made;
}
