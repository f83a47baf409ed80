// Git obeys configuration a read-only command cannot see: the repository's own config (which
// the agent may have written, or pointed to with a `.git` file), hooks, pagers, filters. A git
// command is allowed at tier 0 only rewritten with overrides for every setting that runs a
// program, and only in a repository whose own config holds nothing but known inert keys. Pure:
// the repository facts are gathered at the edge (git-facts.ts).
import { subcommandIndex } from "./match.ts";
import { type BaseDirs, type Paths, rawPath } from "./paths.ts";
import type { ShellAnalysis, SimpleCommand } from "./shell/types.ts";
import { basename } from "./shell/wrappers.ts";

/** Inserted before the subcommand: no pager, no index writes, and every exec-capable setting disarmed. */
const GIT_GLOBAL_OVERRIDES = [
  "--no-pager",
  "--no-optional-locks",
  "-c core.fsmonitor=false",
  "-c core.hooksPath=/dev/null",
  "-c core.sshCommand=false",
  "-c credential.helper=",
  "-c protocol.allow=never",
  "-c log.showSignature=false",
  "-c gpg.program=false",
  "-c core.editor=false",
  "-c diff.submodule=short",
];

/** Inserted after the subcommand: no external diff programs, no text conversion, no submodules. */
const SUBCOMMAND_OVERRIDES: Record<string, string[]> = {
  status: ["--ignore-submodules=all"],
  diff: ["--no-ext-diff", "--no-textconv", "--ignore-submodules=all"],
  log: ["--no-ext-diff", "--no-textconv"],
  show: ["--no-ext-diff", "--no-textconv"],
};

/** Keys a repository's own config may hold for its git commands to be allowed (lower case). */
const INERT_LOCAL_KEYS = [
  /^core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks|autocrlf|eol|safecrlf|quotepath|abbrev|untrackedcache|commitgraph|multipackindex|sharedrepository)$/,
  /^remote\..+\.(url|pushurl|fetch|push|tagopt|prune|mirror|skipdefaultupdate)$/,
  /^branch\..+\.(remote|merge|rebase|pushremote|description)$/,
  /^user\.(name|email|signingkey)$/,
  /^(init\.defaultbranch|pull\.(rebase|ff)|push\.(default|autosetupremote)|fetch\.prune|merge\.ff)$/,
  /^(commit|tag)\.gpgsign$/,
  /^(extensions\.(objectformat|worktreeconfig)|index\.version|feature\.manyfiles|gc\.auto)$/,
  /^(color|column|advice)\.[a-z.]+$/,
  /^log\.(date|decorate|abbrevcommit)$/,
  /^diff\.(renames|algorithm|colormoved|mnemonicprefix|noprefix|context|indentheuristic)$/,
  /^status\.(short|branch|showstash|relativepaths)$/,
];

/** What the edge found about the repository git runs in (keyed by directory). */
export interface GitRepoFacts {
  /** Keys of the repository's own config (local and worktree scope, includes followed); null: unreadable. */
  localKeys: string[] | null;
}

/** The directories one git command runs in: each base, moved by its `-C` options. */
export function gitDirs(cmd: SimpleCommand, paths: Paths, bd: BaseDirs): string[] {
  const end = subcommandIndex(cmd);
  const moves: string[] = [];
  for (let i = 0; i < (end < 0 ? cmd.args.length : end); i++) {
    const next = cmd.args[i + 1];
    if (cmd.args[i]?.value === "-C" && next) moves.push(next.value);
  }
  return bd.bases.map((base) => moves.reduce((dir, move) => rawPath(paths, move, dir), base));
}

export const isGit = (cmd: SimpleCommand) => !cmd.name.dynamic && basename(cmd.name.value) === "git";

export type GitTier0 = { ok: true; command: string | undefined } | { ok: false; reason: string };

/**
 * For a line the allowlist covers: the rewritten line (undefined when it runs no git), or why
 * its git commands cannot run at tier 0. `repos` undefined: facts were not gathered (examples).
 */
export function gitTier0(
  analysis: ShellAnalysis,
  paths: Paths,
  bd: BaseDirs,
  repos: ReadonlyMap<string, GitRepoFacts> | undefined,
  canRewrite: boolean,
): GitTier0 {
  const gits = analysis.commands.filter(isGit);
  if (gits.length === 0) return { ok: true, command: undefined };
  if (!canRewrite)
    return {
      ok: false,
      reason: "git runs only with its settings disarmed, and this caller cannot rewrite the call",
    };
  const inserts: Array<[number, string]> = [];
  for (const cmd of gits) {
    if (!cmd.at) return { ok: false, reason: "git inside a wrapper or a command string cannot be rewritten" };
    for (const dir of repos ? gitDirs(cmd, paths, bd) : []) {
      const facts = repos?.get(dir);
      if (!facts || facts.localKeys === null)
        return { ok: false, reason: `cannot read the git config of ${dir}` };
      const risky = facts.localKeys.find((k) => !INERT_LOCAL_KEYS.some((re) => re.test(k)));
      if (risky) return { ok: false, reason: `the repository's own config sets ${risky}` };
    }
    // The overrides go last among git's own options, so that they win over any given before.
    const sub = subcommandIndex(cmd);
    const globalEnd = sub > 0 ? cmd.at.argEnds[sub - 1] : cmd.at.nameEnd;
    inserts.push([globalEnd ?? cmd.at.nameEnd, ` ${GIT_GLOBAL_OVERRIDES.join(" ")}`]);
    const extra = sub >= 0 ? SUBCOMMAND_OVERRIDES[cmd.args[sub]?.value ?? ""] : undefined;
    const subEnd = cmd.at.argEnds[sub];
    if (extra && subEnd !== undefined) inserts.push([subEnd, ` ${extra.join(" ")}`]);
  }
  let out = analysis.source;
  for (const [at, text] of inserts.sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + text + out.slice(at);
  return { ok: true, command: out };
}
