// The end of a run: what the sandbox created or changed that a host tool runs or obeys on its
// own (a new repository, a hook, `.envrc`, agent or editor settings...), found by walking the
// writable roots again and comparing with the start. By default each is moved aside under a
// name no tool reads (`filesystem_policy.host_run_files: keep` leaves them in place).
import { lstatSync, renameSync } from "node:fs";
import { join } from "node:path";
import { within } from "./mounts.ts";
import { disarmedName, GIT_DIR_PROTECTED } from "./protected.ts";
import { GIT_REPOSITORY, type HostRunEntry, scanTree, type TreeScan } from "./tree-scan.ts";

export interface HostRunFinding {
  path: string;
  tool: string;
  change: "created" | "changed";
  directory: boolean;
  /** Where it was moved (absent: kept, or the move failed). */
  disarmedTo?: string;
  error?: string;
}

/** The tool named for a new directory the end walk did not reach: nobody knows what reads it. */
const NOT_CHECKED = "not checked: past the walk's bounds";

export interface HostRunReview {
  findings: HostRunFinding[];
  /** Roots whose walk stopped at its bounds: what lies beyond was not checked. */
  incomplete: string[];
}

/**
 * New or changed entries between two scans, outermost first; what lies inside a new directory
 * (a whole new repository) is that directory's finding. Pure.
 */
export function hostRunChanges(
  before: ReadonlyMap<string, HostRunEntry>,
  after: ReadonlyMap<string, HostRunEntry>,
  ignore: ReadonlySet<string> = new Set(),
): Array<Omit<HostRunFinding, "disarmedTo" | "error">> {
  const out: Array<Omit<HostRunFinding, "disarmedTo" | "error">> = [];
  const created: string[] = [];
  for (const path of [...after.keys()].sort()) {
    if (ignore.has(path) || created.some((c) => within(path, c))) continue;
    const now = after.get(path) as HostRunEntry;
    const then = before.get(path);
    if (then?.signature === now.signature) continue;
    const directory = now.signature.startsWith("dir:");
    out.push({ path, tool: now.tool, change: then ? "changed" : "created", directory });
    if (!then && directory) created.push(path);
  }
  return out;
}

/**
 * A git directory keeps its layout under any name (git takes a directory holding HEAD, objects
 * and refs for a bare repository when started in it): what git obeys in it is moved aside too.
 */
function disarm(change: { path: string; tool: string }, time: number): void {
  if (change.tool !== GIT_REPOSITORY) return;
  for (const name of GIT_DIR_PROTECTED) {
    const inner = join(change.path, name);
    try {
      lstatSync(inner);
    } catch {
      continue;
    }
    renameSync(inner, disarmedName(inner, time));
  }
}

export function reviewHostRun(
  scans: readonly TreeScan[],
  options: { home: string; disarm: boolean; time: number; ignore?: ReadonlySet<string> },
): HostRunReview {
  const review: HostRunReview = { findings: [], incomplete: [] };
  for (const start of scans) {
    // Wider than at start (the sandbox may have made many directories to bury a file), but bounded.
    const bounds = { maxDirs: start.bounds.maxDirs * 10, maxDepth: start.bounds.maxDepth };
    const end = scanTree(start.root, bounds, options.home, false, start.walked);
    // A root only ever walked in part (a cache's top levels) is not news; a workdir the sandbox
    // filled past the bounds is. Every directory the start walked is walked again first, so what
    // was not walked is new: unchecked, it is moved aside whole (fail closed).
    const changes = hostRunChanges(start.hostRun, end.hostRun, options.ignore);
    if (start.complete && !end.complete) {
      review.incomplete.push(start.root);
      for (const path of end.unwalked)
        if (!start.walked.has(path))
          changes.push({ path, tool: NOT_CHECKED, change: "created", directory: true });
    }
    for (const change of changes) {
      const finding: HostRunFinding = { ...change };
      if (options.disarm) {
        const to = disarmedName(change.path, options.time);
        try {
          disarm(change, options.time);
          renameSync(change.path, to);
          finding.disarmedTo = to;
        } catch (error) {
          finding.error = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        }
      }
      review.findings.push(finding);
    }
  }
  return review;
}
