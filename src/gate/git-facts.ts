// The imperative edge of the git rule: what the repository a git command runs in configures
// itself. Asks git itself (`git config --list`), which reads config and follows includes but
// runs nothing; a config it cannot parse fails the listing, and so is not inert. For callers
// that run git as written, also every other scope git reads and whether the index holds
// submodules (`git ls-files --stage`, which runs nothing either).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { CallContext } from "./call.ts";
import { type GitRepoFacts, gitDirs, isGit } from "./git.ts";
import { baseDirs, pathsOf } from "./paths.ts";
import type { ShellAnalysis } from "./shell/types.ts";

/** At most this many directories are inspected per call; the others stay unknown (not tier 0). */
const MAX_REPOS = 8;

/** Settings that run programs, disarmed for the one git command the edge runs on the index. */
const EDGE_OVERRIDES = [
  "-c",
  "core.fsmonitor=false",
  "-c",
  "core.hooksPath=/dev/null",
  "--no-optional-locks",
];

/** Runs git in `dir` with none of the caller's GIT_* variables, in the agent's home; null when it fails. */
function gitOutput(
  home: string,
  dir: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): string | null {
  const env: Record<string, string> = { HOME: home };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("GIT_")) env[k] = v;
  try {
    return execFileSync("git", args, {
      cwd: dir,
      env: { ...env, HOME: home, ...extraEnv },
      encoding: "utf8",
      timeout: 2000,
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch {
    return null;
  }
}

/** Config keys by scope: the repository's own (local, worktree) and the others (system, global). */
function configKeys(home: string, dir: string, ownOnly: boolean): { own: string[]; others: string[] } | null {
  const out = gitOutput(
    home,
    dir,
    ["config", "--list", "--show-scope", "--includes", "-z"],
    ownOnly ? { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } : {},
  );
  if (out === null) return null;
  const fields = out.split("\0");
  const keys = { own: [] as string[], others: [] as string[] };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const scope = fields[i] as string;
    const key = ((fields[i + 1] as string).split("\n", 1)[0] as string).toLowerCase();
    (scope === "system" || scope === "global" ? keys.others : keys.own).push(key);
  }
  return keys;
}

/** Keys of the config that belongs to the repository in `dir`, and for git as written, the rest. */
function repoFacts(home: string, dir: string, asWritten: boolean): GitRepoFacts {
  // git cannot start in a directory that does not exist: there is no config it could obey.
  if (!existsSync(dir)) return { localKeys: [], userKeys: [], submodules: false };
  // Rewritten, the overrides win over system and global settings: only the repository's own count.
  const keys = configKeys(home, dir, !asWritten);
  const facts: GitRepoFacts = { localKeys: keys ? keys.own : null };
  if (!asWritten) return facts;
  facts.userKeys = keys ? keys.others : null;
  // Reading the index may start the fsmonitor the config names: listed only with it disarmed.
  const index = gitOutput(home, dir, [...EDGE_OVERRIDES, "ls-files", "--stage", "-z"]);
  facts.submodules = index === null ? null : index.split("\0").some((e) => e.startsWith("160000 "));
  return facts;
}

export function gatherGitFacts(
  analysis: ShellAnalysis | undefined,
  ctx: CallContext,
): Map<string, GitRepoFacts> {
  const repos = new Map<string, GitRepoFacts>();
  if (!analysis) return repos;
  const paths = pathsOf(ctx);
  const bd = baseDirs(paths, analysis);
  for (const cmd of analysis.commands.filter(isGit)) {
    for (const dir of gitDirs(cmd, paths, bd)) {
      if (repos.has(dir) || repos.size >= MAX_REPOS) continue;
      repos.set(dir, repoFacts(ctx.home, dir, ctx.canRewrite !== true));
    }
  }
  return repos;
}
