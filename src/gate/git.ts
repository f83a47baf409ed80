// Git obeys configuration a read-only command cannot see: the repository's own config (which
// the agent may have written, or pointed to with a `.git` file), hooks, pagers, filters. A git
// command is allowed at tier 0 in one of two ways. Rewritten (callers that can substitute the
// command): overrides for every setting that runs a program, in a repository whose own config
// holds nothing but known inert keys. As written (Codex, POST /v1/gate/decide): only when every
// config scope git reads (system, global, local, worktree, includes followed) holds nothing but
// those keys, and the index holds no submodule (whose own config a status would obey). An
// attribute (`filter=x`, `diff=x`) runs a program only through a driver configured under a key
// of its own (`filter.x.clean`, `diff.x.textconv`), which is never inert: with every scope
// inert, no attribute can run anything. Pure: the repository facts are gathered at the edge
// (git-facts.ts).
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

/**
 * Keys a config may hold for the allowed git commands (status, log, diff, show, rev-parse, a
 * branch listing) to run nothing it names (lower case). Aliases never hide a built-in command,
 * editors open only for commands that edit a message, and credentials and difftools are used
 * only by commands these are not (a partial clone, which could fetch, sets keys not listed).
 */
const INERT_CONFIG_KEYS = [
  /^alias\.[^.]+$/,
  /^(core|sequence)\.editor$/,
  /^credential\.(.+\.)?(helper|username|usehttppath)$/,
  /^(diff|merge)\.(tool|guitool)$/,
  /^(difftool|mergetool)\.(prompt|keepbackup|.+\.(cmd|path|trustexitcode))$/,
  /^(safe\.directory|core\.(excludesfile|attributesfile)|merge\.conflictstyle|rerere\.enabled)$/,
  /^rebase\.(autosquash|autostash|updaterefs)$/,
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
  /** For callers that cannot rewrite: keys of the scopes around it (system, global); null: unreadable. */
  userKeys?: string[] | null;
  /** For callers that cannot rewrite: does the index hold submodules (gitlinks)? null: unknown. */
  submodules?: boolean | null;
}

const inert = (key: string) => INERT_CONFIG_KEYS.some((re) => re.test(key));

/** Why git may run a program its config names in this repository, if it may. */
function configProblem(dir: string, facts: GitRepoFacts | undefined, asWritten: boolean): string | undefined {
  if (!facts || facts.localKeys === null) return `cannot read the git config of ${dir}`;
  const risky = facts.localKeys.find((k) => !inert(k));
  if (risky) return `the repository's own config sets ${risky}`;
  if (!asWritten) return undefined;
  if (!facts.userKeys) return `cannot read every git config that applies in ${dir}`;
  const user = facts.userKeys.find((k) => !inert(k));
  if (user) return `git runs as written here, and its config sets ${user}`;
  if (facts.submodules !== false)
    return `git runs as written here, and ${dir} ${facts.submodules ? "has submodules" : "cannot be checked for submodules"}`;
  return undefined;
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
  const dirsOf = (cmd: SimpleCommand) => (repos ? gitDirs(cmd, paths, bd) : []);
  if (!canRewrite) {
    // As written: every scope must be shown inert (facts are always gathered here).
    for (const cmd of gits)
      for (const dir of dirsOf(cmd)) {
        const problem = configProblem(dir, repos?.get(dir), true);
        if (problem) return { ok: false, reason: problem };
      }
    return { ok: true, command: undefined };
  }
  const inserts: Array<[number, string]> = [];
  for (const cmd of gits) {
    if (!cmd.at) return { ok: false, reason: "git inside a wrapper or a command string cannot be rewritten" };
    for (const dir of dirsOf(cmd)) {
      const problem = configProblem(dir, repos?.get(dir), false);
      if (problem) return { ok: false, reason: problem };
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
