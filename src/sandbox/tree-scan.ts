// A bounded walk of a writable root: the git directories in it (nested repositories, submodules,
// linked worktrees, bare repositories), the protected entries below its top, other Airlock homes,
// and a signature of every file a host tool runs or obeys on its own (protected.ts). Taken at
// start (to protect) and again at the end of a run (to see what the sandbox created or changed).
import { type Dirent, lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { HOME_MARKERS, SANDBOXES, sandboxDir, sandboxFiles, sandboxNames } from "../protocol/home.ts";
import { within } from "./mounts.ts";
import {
  configReferences,
  GIT_DIR_PROTECTED,
  GIT_DIR_SKIPPED,
  hostRunTool,
  PROTECTED,
  SKIPPED_DIRS,
} from "./protected.ts";

export interface ScanBounds {
  /** Directories visited at most. */
  maxDirs: number;
  /** Levels below the root walked at most. */
  maxDepth: number;
}

/** The workdir: every level, up to this many directories (past it a start is refused). */
export const WORKDIR_BOUNDS: ScanBounds = { maxDirs: 20_000, maxDepth: 64 };
/** Other writable roots (caches, agent homes): their top levels. */
export const SHALLOW_BOUNDS: ScanBounds = { maxDirs: 2_000, maxDepth: 3 };

/** The tool named for a git directory or a `.git` file: a repository git would use. */
export const GIT_REPOSITORY = "git repository";

export interface HostRunEntry {
  tool: string;
  /** Identity and content: inode, size and change time (a change time cannot be set back). */
  signature: string;
}

export interface TreeScan {
  root: string;
  bounds: ScanBounds;
  /** Git directories below the root, and those `.git` files below it point to (anywhere). */
  gitDirs: string[];
  /** `.git` files: linked worktrees and submodule checkouts. */
  gitFiles: string[];
  /** What the repositories' config names (core.hooksPath, included files), resolved. */
  namedByConfig: string[];
  /** Protected entries that exist in a directory below the root (not in the root itself). */
  nested: string[];
  /** Directories holding an Airlock home's files (tokens, keys, sandboxes). */
  airlockHomes: string[];
  /** Symbolic links found where a protected entry would be (they cannot be made mount points). */
  symlinked: string[];
  hostRun: Map<string, HostRunEntry>;
  /** False when the walk stopped at its bounds: what lies beyond was not seen. */
  complete: boolean;
  dirs: number;
  /** Every directory walked. */
  walked: Set<string>;
  /** Directories seen but not walked (the bounds): none of them lies inside another. */
  unwalked: string[];
}

function signature(path: string): string | null {
  try {
    const st = lstatSync(path);
    // A directory's change time moves with every file made in it: only its identity counts.
    if (st.isDirectory()) return `dir:${st.ino}`;
    return `${st.isSymbolicLink() ? "link" : "file"}:${st.ino}:${st.size}:${st.ctimeMs}`;
  } catch {
    return null;
  }
}

function names(entries: readonly Dirent[]): Map<string, Dirent> {
  return new Map(entries.map((e) => [e.name, e]));
}

/** A git directory by its layout: `HEAD` and either an object store or a `commondir` link. */
function isGitDir(entries: Map<string, Dirent>): boolean {
  const head = entries.get("HEAD");
  if (!head || head.isDirectory()) return false;
  if (entries.get("commondir")?.isFile()) return true;
  return entries.get("objects")?.isDirectory() === true && entries.get("refs")?.isDirectory() === true;
}

function isAirlockHome(dir: string, entries: Map<string, Dirent>): boolean {
  if (HOME_MARKERS.some((marker) => entries.has(marker))) return true;
  if (!entries.get(SANDBOXES)?.isDirectory()) return false;
  return sandboxNames(dir)
    .slice(0, 16)
    .some((name) => signature(sandboxFiles(sandboxDir(dir, name)).record) !== null);
}

/** Where a `.git` file points (`gitdir: PATH`, relative to the file's directory), or null. */
function gitFileTarget(file: string): string | null {
  try {
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(file, "utf8").slice(0, 4096));
    if (!m) return null;
    const target = m[1] as string;
    return realpathSync(isAbsolute(target) ? target : resolve(dirname(file), target));
  } catch {
    return null;
  }
}

/** The common git directory a linked worktree's git directory names (`commondir`), or null. */
function commonDirOf(gitDir: string): string | null {
  try {
    const text = readFileSync(join(gitDir, "commondir"), "utf8").trim();
    if (text === "") return null;
    return realpathSync(isAbsolute(text) ? text : resolve(gitDir, text));
  } catch {
    return null;
  }
}

/**
 * What a git directory's config names that git obeys like the config itself: the hooks
 * directory (relative to the top of the worktree, a `.git` directory's parent) and included
 * config files (relative to the config's directory).
 */
function namedByConfig(gitDir: string, home: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(gitDir, "config"), "utf8");
  } catch {
    return [];
  }
  const refs = configReferences(text);
  const resolveFrom = (base: string, value: string) => {
    if (value === "~" || value.startsWith("~/")) return join(home, value.slice(1));
    return isAbsolute(value) ? value : resolve(base, value);
  };
  return [
    ...(refs.hooksPath ? [resolveFrom(dirname(gitDir), refs.hooksPath)] : []),
    ...refs.includes.map((p) => resolveFrom(gitDir, p)),
  ];
}

/** `path` relative to `dir`, which holds it (path.relative, without its cost per entry). */
function below(dir: string, path: string): string {
  return path.slice(dir === "/" ? 1 : dir.length + 1);
}

/** Walks `root` breadth-first within `bounds`; never follows symbolic links. */
export function scanTree(
  root: string,
  bounds: ScanBounds,
  home: string,
  /** At start: an Airlock home is hidden as a whole, so not walked. At the end every directory is
   * walked: a sandbox could make any directory look like a home to have it skipped. */
  skipAirlockHomes = true,
  /** Walked before any other (the directories the start walked): a sandbox that makes many new
   * directories cannot push one that existed past the bounds. */
  known: ReadonlySet<string> = new Set(),
): TreeScan {
  const scan: TreeScan = {
    root,
    bounds,
    gitDirs: [],
    gitFiles: [],
    namedByConfig: [],
    nested: [],
    airlockHomes: [],
    symlinked: [],
    hostRun: new Map(),
    complete: true,
    dirs: 0,
    walked: new Set(),
    unwalked: [],
  };
  // Only what lies below the root: a repository's config may name any directory as its hooks.
  const record = (path: string, tool: string) => {
    if (!within(path, root)) return;
    const sig = signature(path);
    if (sig !== null) scan.hostRun.set(path, { tool, signature: sig });
  };
  const addGitDir = (dir: string) => {
    if (scan.gitDirs.includes(dir)) return;
    scan.gitDirs.push(dir);
    for (const path of namedByConfig(dir, home))
      if (!scan.namedByConfig.includes(path)) scan.namedByConfig.push(path);
  };
  type Entry = { dir: string; depth: number; gitDir: string | null };
  // Known directories first, then the others, each breadth-first (a head index: no shift per entry).
  const queues: [Entry[], Entry[]] = [[], [{ dir: root, depth: 0, gitDir: null }]];
  const heads = [0, 0];
  const enqueue = (e: Entry) => queues[known.has(e.dir) ? 0 : 1].push(e);
  const next = (): Entry | undefined => {
    for (const i of [0, 1] as const) {
      const e = queues[i][heads[i] as number];
      if (e) {
        heads[i] = (heads[i] as number) + 1;
        return e;
      }
    }
    return undefined;
  };
  for (let e = next(); e !== undefined; e = next()) {
    if (scan.dirs >= bounds.maxDirs) {
      scan.complete = false;
      scan.unwalked.push(e.dir);
      for (let rest = next(); rest !== undefined; rest = next()) scan.unwalked.push(rest.dir);
      break;
    }
    const { dir, depth, gitDir: insideGit } = e;
    scan.dirs++;
    scan.walked.add(dir);
    let list: Dirent[];
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const entries = names(list);
    let gitDir = insideGit;
    // By name too: a `.git` directory git does not accept yet becomes a repository with one file.
    if (isGitDir(entries) || (insideGit === null && dir !== root && basename(dir) === ".git")) {
      addGitDir(dir);
      record(dir, GIT_REPOSITORY);
      gitDir = dir;
    } else if (skipAirlockHomes && insideGit === null && isAirlockHome(dir, entries)) {
      scan.airlockHomes.push(dir);
      continue; // hidden as a whole: nothing in it is shown
    }
    for (const entry of list) {
      const path = join(dir, entry.name);
      if (gitDir !== null) {
        const rel = below(gitDir, path);
        if (GIT_DIR_PROTECTED.includes(rel) && rel !== "hooks") record(path, "git");
        if (rel.startsWith("hooks/")) record(path, "git hook");
      } else {
        const tool = hostRunTool(below(root, path));
        if (tool !== null) record(path, tool);
        if (entry.name === ".git" && entry.isFile()) {
          scan.gitFiles.push(path);
          record(path, GIT_REPOSITORY);
          const target = gitFileTarget(path);
          if (target !== null) {
            addGitDir(target);
            const common = commonDirOf(target);
            if (common !== null) addGitDir(common);
          }
        }
        if (dir !== root) {
          for (const p of PROTECTED) {
            if (p.path.split("/")[0] !== entry.name) continue;
            const full = join(dir, p.path);
            if (entry.isSymbolicLink()) scan.symlinked.push(path);
            else if (signature(full) !== null) scan.nested.push(full);
          }
        }
      }
      if (!entry.isDirectory() || SKIPPED_DIRS.has(entry.name)) continue;
      if (gitDir !== null && dir === gitDir && GIT_DIR_SKIPPED.has(entry.name)) continue;
      if (depth >= bounds.maxDepth) {
        scan.complete = false;
        scan.unwalked.push(path);
        continue;
      }
      enqueue({ dir: path, depth: depth + 1, gitDir });
    }
  }
  for (const path of scan.namedByConfig) {
    try {
      const real = realpathSync(path);
      if (real !== path) continue; // through a link: not listed (the start refuses to pin it, too)
      record(path, "git");
      for (const name of readdirSync(path)) record(join(path, name), "git hook");
    } catch {
      // absent: it is blocked at start, and a new one shows at the end
    }
  }
  return scan;
}
