// The imperative edge of the git rule: what the repository a git command runs in configures
// itself. Asks git itself (`git config --list`), which reads config and follows includes but
// runs nothing.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { CallContext } from "./call.ts";
import { type GitRepoFacts, gitDirs, isGit } from "./git.ts";
import { baseDirs, pathsOf } from "./paths.ts";
import type { ShellAnalysis } from "./shell/types.ts";

/** At most this many directories are inspected per call; the others stay unknown (not tier 0). */
const MAX_REPOS = 8;

/** Keys of the config that belongs to the repository in `dir` (local and worktree scope). */
function repoFacts(dir: string): GitRepoFacts {
  // git cannot start in a directory that does not exist: there is no config it could obey.
  if (!existsSync(dir)) return { localKeys: [] };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("GIT_")) env[k] = v;
  try {
    const out = execFileSync("git", ["config", "--list", "--show-scope", "--includes", "-z"], {
      cwd: dir,
      env: { ...env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
      encoding: "utf8",
      timeout: 2000,
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 4 * 1024 * 1024,
    });
    const fields = out.split("\0");
    const localKeys: string[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const scope = fields[i] as string;
      const key = (fields[i + 1] as string).split("\n", 1)[0] as string;
      if (scope !== "system" && scope !== "global") localKeys.push(key.toLowerCase());
    }
    return { localKeys };
  } catch {
    return { localKeys: null };
  }
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
      repos.set(dir, repoFacts(dir));
    }
  }
  return repos;
}
