// An agent's state file the policy makes writable (~/.claude.json) also holds what the host's
// agent obeys (agent-state-merge.ts). The sandbox never writes the host's file: it gets a private
// copy in its own folder, made at start and bound where the file is. Claude Code writes the file
// by renaming a temporary file over it, which a mount point refuses (EBUSY, EXDEV); it then
// writes the file in place, and the copy takes the write. When the run ends, the copy is merged
// into the host's current file entry by entry: what nothing obeys lands, the rest is held back
// (reported, and the copy kept aside for the developer) unless `host_run_files: keep`.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { writeAtomically } from "../protocol/atomic-write.ts";
import {
  CLAUDE_CODE_STATE,
  type EntryChange,
  type HarmlessEntries,
  isObject,
  mergeAgentState,
} from "./agent-state-merge.ts";
import { within } from "./mounts.ts";
import { PreflightError } from "./preflight.ts";
import { disarmedName } from "./protected.ts";

interface AgentStateFile {
  /** Where the host's agent keeps it, given the user's home and the host's environment. */
  files: (home: string, env: NodeJS.ProcessEnv) => string[];
  tool: string;
  harmless: HarmlessEntries;
}

/** Claude Code's global config: `~/.claude.json`, or where its environment moves it (a config
 * directory of its own, the custom OAuth endpoint's file), as the client picks it. */
function claudeCodeConfigs(home: string, env: NodeJS.ProcessEnv): string[] {
  const dir = env["CLAUDE_CONFIG_DIR"]?.startsWith("/") ? env["CLAUDE_CONFIG_DIR"] : home;
  const suffix = env["CLAUDE_CODE_CUSTOM_OAUTH_URL"] ? "-custom-oauth" : "";
  return [...new Set([join(home, ".claude.json"), join(dir, `.claude${suffix}.json`)])];
}

const AGENT_STATE: readonly AgentStateFile[] = [
  { files: claudeCodeConfigs, tool: "Claude Code", harmless: CLAUDE_CODE_STATE },
];

/** Larger is refused (the copy is not merged, the host's file not read): a state file is small. */
const MAX_STATE_BYTES = 32 * 1024 * 1024;
/** Claude Code's own lock on the file (a directory beside it), older than this is stale. */
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
/** Entries listed per file; the rest are counted in one more (a copy can hold any number). */
const MAX_REPORTED = 100;

export interface AgentStateCopy {
  /** The host's file. */
  file: string;
  /** The sandbox's private copy, bound at `file` inside. */
  copy: string;
  /** Where the copy is bound: `file`, and what it links to when that is writable too (a
   * `~/.claude.json` kept in `~/.claude/`: the sandbox would write the host's file there). */
  shownAt: string[];
  tool: string;
  harmless: HarmlessEntries;
  /** The host's document when the copy was made; null when it had none or it was not JSON. */
  start: unknown;
}

class TooLarge extends Error {}

/** The text of a regular file, or null when there is none; throws past MAX_STATE_BYTES. */
function readState(path: string): string | null {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (size > MAX_STATE_BYTES) throw new TooLarge(`larger than ${MAX_STATE_BYTES / 1024 / 1024} MiB`);
  return readFileSync(path, "utf8");
}

function parse(text: string | null): { ok: true; doc: unknown } | { ok: false } {
  if (text === null) return { ok: true, doc: null };
  try {
    return { ok: true, doc: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * A private copy of each agent state file the policy makes writable (the file itself or a
 * directory holding it, and not denied), in `dir`: the host's content; a host without the file
 * gets `{}` first.
 */
export function makeAgentStateCopies(
  home: string,
  env: NodeJS.ProcessEnv,
  writable: readonly string[],
  deny: readonly string[],
  dir: string,
): AgentStateCopy[] {
  const out: AgentStateCopy[] = [];
  for (const spec of AGENT_STATE)
    for (const file of spec.files(home, env)) {
      if (!writable.some((w) => within(file, w)) || deny.some((d) => within(file, d))) continue;
      if (!isDirectory(dirname(file))) continue; // nowhere for the agent to keep it
      out.push(makeCopy(file, spec, writable, dir));
    }
  return out;
}

/** The copy of one file, named after the host's path (`%2Fhome%2Fu%2F.claude.json`). */
function makeCopy(
  file: string,
  spec: AgentStateFile,
  writable: readonly string[],
  dir: string,
): AgentStateCopy {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const copy = join(dir, encodeURIComponent(file));
  let text: string | null = null;
  try {
    text = readState(file);
    if (text === null) {
      // Made on the host as the agent makes it: otherwise the mount point bubblewrap would make
      // in a writable home stays behind as an empty file, which Claude Code refuses to start on.
      text = "{}\n";
      try {
        writeFileSync(file, text, { mode: 0o600, flag: "wx" });
      } catch {
        // not ours to make (or made meanwhile): the copy alone is shown
      }
    }
    writeAtomically(copy, text, 0o600);
  } catch (error) {
    if (!(error instanceof TooLarge))
      throw new PreflightError(`${file}: ${(error as Error).message}; the sandbox gets a copy of this file`);
    // Shown as it is; the end of the run refuses to merge a copy that large.
    copyFileSync(file, copy);
    chmodSync(copy, 0o600);
  }
  const start = parse(text);
  const shownAt = [file];
  try {
    const real = realpathSync(file);
    if (real !== file && writable.some((w) => within(real, w))) shownAt.push(real);
  } catch {
    // no file: nothing it links to
  }
  const found = { file, copy, shownAt, tool: spec.tool, harmless: spec.harmless };
  return { ...found, start: start.ok ? start.doc : null };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Runs `body` holding the lock Claude Code takes to write the file (`<file>.lock`, a directory). */
function withFileLock<T>(file: string, body: () => T): T {
  const lock = `${file}.lock`;
  for (let waited = 0; ; waited += 20) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmdirSync(lock);
    } catch {
      // released meanwhile
    }
    if (waited >= LOCK_WAIT_MS) throw new Error(`${lock} is held by another process`);
    pause(20);
  }
  try {
    return body();
  } finally {
    rmdirSync(lock);
  }
}

/** What the end of a run reports of a state file: an entry not proven harmless, or a failure. */
export interface AgentStateFinding {
  file: string;
  tool: string;
  /** The entry (`env`, `projects./w.allowedTools`); absent when nothing could be merged. */
  entry?: string;
  change: "created" | "changed" | "removed";
  /** Written into the host's file (`host_run_files: keep`). */
  applied: boolean;
  /** Where the sandbox's copy was kept (something was held back, or nothing could be merged). */
  keptAt?: string;
  /** Why nothing was merged. */
  error?: string;
}

/** Merges into the host's current file; throws (nothing written) when that cannot be done safely. */
function mergeIntoHost(entry: AgentStateCopy, copyDoc: unknown, applyAll: boolean): EntryChange[] {
  let target = entry.file;
  try {
    target = realpathSync(entry.file); // a symbolic link of the developer's stays one
  } catch {
    // no file yet: made below if anything lands
  }
  return withFileLock(target, () => {
    // Read again before the rename: a host write that bypassed the lock is never overwritten.
    for (let attempt = 0; attempt < 3; attempt++) {
      const text = readState(target);
      const host = parse(text);
      if (!host.ok) throw new Error("the host's file is not valid JSON now");
      if (host.doc !== null && !isObject(host.doc))
        throw new Error("the host's file is not a JSON object now");
      const result = mergeAgentState(entry.start, copyDoc, host.doc, entry.harmless, applyAll);
      if (result.merged === null) return result.changes;
      if (readState(target) !== text) continue;
      const mode = text === null ? 0o600 : statSync(target).mode & 0o777;
      writeAtomically(target, `${JSON.stringify(result.merged, null, 2)}\n`, mode);
      return result.changes;
    }
    throw new Error("the host's file kept changing while it was merged");
  });
}

/**
 * The end of a run: each copy merged back (harmless entries, or all with `applyAll`), then
 * removed, or kept aside under a name no tool reads when anything was held back or failed.
 * Returns what was not proven harmless, and the failures.
 */
export function mergeAgentStateBack(
  copies: readonly AgentStateCopy[],
  options: { applyAll: boolean; time: number },
): AgentStateFinding[] {
  const out: AgentStateFinding[] = [];
  for (const entry of copies) {
    let changes: EntryChange[] = [];
    let error: string | undefined;
    try {
      const text = readState(entry.copy);
      if (text === null) throw new Error("the sandbox's copy is gone");
      const copy = parse(text);
      if (!copy.ok) throw new Error("the sandbox's copy is not valid JSON");
      changes = mergeIntoHost(entry, copy.doc, options.applyAll);
    } catch (e) {
      error = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    const reported = changes.filter((c) => !c.harmless);
    let keptAt: string | undefined;
    try {
      if (error !== undefined || reported.some((c) => !c.applied)) {
        keptAt = disarmedName(entry.copy, options.time);
        renameSync(entry.copy, keptAt);
      } else rmSync(entry.copy, { force: true });
    } catch {
      keptAt = undefined; // the copy is gone: nothing to keep
    }
    const where = { file: entry.file, tool: entry.tool, ...(keptAt ? { keptAt } : {}) };
    if (error !== undefined) out.push({ ...where, change: "changed", applied: false, error });
    for (const c of reported.slice(0, MAX_REPORTED))
      out.push({ ...where, entry: c.entry, change: c.change, applied: c.applied });
    const more = reported.slice(MAX_REPORTED);
    if (more.length > 0)
      out.push({
        ...where,
        entry: `(${more.length} more)`,
        change: "changed",
        applied: more.every((c) => c.applied),
      });
  }
  return out;
}
