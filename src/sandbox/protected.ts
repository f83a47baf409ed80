// What a host tool runs or obeys on its own (docs/design.md §4.1): a sandboxed agent that
// could write `.bashrc`, a git hook or an agent settings file would escape on the developer's
// next shell, commit or agent start. Pure data and pure functions; the walk that finds these on
// disk is in tree-scan.ts, the mounts that keep them read-only in mounts.ts.

/**
 * Read-only relative to every writable root (the workdir, `read_write` directories) and to the
 * user's home, **including when they do not exist yet** (an empty read-only file is bound where
 * the path would start). A directory here is read-only as a whole and is a mount point, so it
 * cannot be renamed or replaced either. `inner` is what stays read-only when the policy lists
 * the directory itself as writable (an agent's own home, `~/.claude`); a name there ending in
 * `/` is a directory, blocked when absent by an empty read-only directory (what its absence means
 * to the agent: a file there is an error, "Not a directory").
 */
export interface ProtectedEntry {
  path: string;
  inner?: readonly string[];
  /** More of `inner`, by name, among what the directory holds at start (names the agent reads as
   * configuration that cannot all be listed ahead). */
  innerNames?: (name: string) => boolean;
}

export const PROTECTED: readonly ProtectedEntry[] = [
  // Shell startup files.
  { path: ".bashrc" },
  { path: ".bash_profile" },
  { path: ".bash_login" },
  { path: ".bash_logout" },
  { path: ".profile" },
  { path: ".zshrc" },
  { path: ".zshenv" },
  { path: ".zprofile" },
  { path: ".zlogin" },
  { path: ".config/fish" },
  { path: ".envrc" }, // direnv runs it on `cd`
  { path: ".gitconfig" },
  // Agent configuration: settings grant permissions and run hooks; MCP files start servers.
  // In the agent's own home: its settings, the hook scripts they run, installed plugins (hooks,
  // MCP servers), and what Claude Code itself names as run or acted on without asking anyone:
  // the shell snapshot each Bash command first sources (a running host session's too), the
  // session-env scripts run ahead of Bash commands, background jobs and the daemon's workers,
  // the npm-local install (`local/`: `~/.claude/local/claude` is what the user's `claude`
  // alias runs), the user's skills, subagents and commands (what plugins bundle, and as able to
  // run code: a skill's `!` shell lines and frontmatter hooks run when the model uses it); and
  // the legacy global config `.config.json`, which Claude Code reads instead of ~/.claude.json
  // whenever it holds anything (an empty read-only placeholder it ignores); and `backups/`, the
  // copies of ~/.claude.json Claude Code tells the developer to copy over a missing or corrupt
  // one (it carries on when it cannot write one).
  {
    path: ".claude",
    inner: [
      ".config.json",
      "settings.json",
      "settings.local.json",
      "hooks/",
      "plugins/",
      "shell-snapshots/",
      "session-env/",
      "jobs/",
      "daemon/",
      "daemon.json",
      "local/",
      "skills/",
      "agents/",
      "commands/",
      "backups/",
    ],
    innerNames: isClaudeSettings,
  },
  { path: ".mcp.json" },
  // Codex's home: its config (hook trust) and config profiles (`<name>.config.toml`), the `.env`
  // it loads into its own environment at every start (so into every command, hook and MCP server
  // it starts: a BASH_ENV, LD_PRELOAD or NODE_OPTIONS there runs code), the hooks it runs
  // (Airlock's gate among them: an empty hooks.json would leave the next host session ungated),
  // plugins (their hooks and MCP servers), and what a running session sources or executes from
  // its home: `shell_snapshots/` (sourced before every command) and `tmp/` (the helpers it runs
  // every command through, `tmp/arg0-linux/*/codex-linux-sandbox`); and its exec-policy `rules/`:
  // a command an `allow` rule matches runs without asking and outside Codex's own sandbox (its
  // hooks, the gate among them, still decide first).
  {
    path: ".codex",
    inner: ["config.toml", ".env", "hooks.json", "hooks/", "plugins/", "shell_snapshots/", "tmp/", "rules/"],
    innerNames: (name) => name.endsWith(".toml"),
  },
  { path: ".vscode" },
  // Airlock's own project configuration.
  { path: ".airlock" },
];

/**
 * The agents whose home the environment can move, by the variable that does it: the host's agent
 * then obeys that folder instead of `~/.claude` / `~/.codex`, so it is protected as they are.
 */
const AGENT_HOME_VARIABLES: ReadonlyArray<readonly [string, string]> = [
  [".claude", "CLAUDE_CONFIG_DIR"],
  [".codex", "CODEX_HOME"],
];

/** An agent's home where the environment moved it, with the PROTECTED entry that says what in it
 * the host's agent obeys. */
export interface MovedAgentHome {
  path: string;
  entry: ProtectedEntry;
}

/** The agents' homes the host's environment names (absolute paths only, as agent-state.ts reads
 * them: a relative one names another folder from every directory the agent starts in). */
export function movedAgentHomes(env: Readonly<Record<string, string | undefined>>): MovedAgentHome[] {
  const out: MovedAgentHome[] = [];
  for (const [name, variable] of AGENT_HOME_VARIABLES) {
    const value = env[variable];
    const entry = PROTECTED.find((p) => p.path === name);
    if (entry && value?.startsWith("/")) out.push({ path: value.replace(/(?<=.)\/+$/, ""), entry });
  }
  return out;
}

/**
 * What git obeys inside a git directory. `config` and `config.worktree` can name programs
 * (core.fsmonitor, core.hooksPath, aliases); `commondir` points git at another git directory
 * (and its config); `hooks/` run on commit, checkout, merge. An absent one is blocked like any
 * protected path: an empty `config.worktree` means what its absence means, a `commondir` holding `.` too.
 */
export const GIT_DIR_PROTECTED: readonly string[] = ["config", "config.worktree", "commondir", "hooks"];

/**
 * What a placeholder for an absent `commondir` holds, on the host too: git refuses an empty one,
 * and `.` names the git directory itself, which is what its absence means.
 */
export const SELF_COMMONDIR = ".\n";

/** Every protected path as a relative name, the git ones as in a repository's `.git` (the contain
 * rules refuse to commit these). */
export const PROTECTED_NAMES: readonly string[] = [
  ...PROTECTED.map((p) => p.path),
  ...GIT_DIR_PROTECTED.map((name) => `.git/${name}`),
];

/** Below a git directory: big, and nothing in them is run. Not walked. */
export const GIT_DIR_SKIPPED: ReadonlySet<string> = new Set(["objects", "refs", "logs", "lfs"]);

/**
 * Regenerable package caches skipped by the walk: repositories and host-run files inside them are
 * neither protected at start nor reported at the end (no host tool starts in them by itself).
 */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set(["node_modules", "__pycache__"]);

/** Names that exist inside `.claude/` and match `settings*.json` are protected too. */
function isClaudeSettings(name: string): boolean {
  return /^settings.*\.json$/.test(name);
}

/**
 * Files that a host tool reads on its own (on `cd`, on opening a folder, on start, on install)
 * and that can make it run a program, by what reads them. Matched against the path's last
 * components anywhere below a scanned root. Git directories are found by their layout instead
 * (see tree-scan.ts), wherever they are and whatever they are called.
 */
const HOST_RUN: ReadonlyArray<readonly [string, string]> = [
  // Shells and environment loaders.
  [".bashrc", "shell startup"],
  [".bash_profile", "shell startup"],
  [".bash_login", "shell startup"],
  [".bash_logout", "shell startup"],
  [".profile", "shell startup"],
  [".zshrc", "shell startup"],
  [".zshenv", "shell startup"],
  [".zprofile", "shell startup"],
  [".zlogin", "shell startup"],
  [".config/fish/**", "shell startup"],
  [".envrc", "direnv"],
  ["mise.toml", "mise"],
  [".mise.toml", "mise"],
  ["mise.local.toml", "mise"],
  [".mise.local.toml", "mise"],
  [".config/mise/**", "mise"],
  // Git outside a git directory, and the hook managers: what the hooks they install run at every
  // commit, checkout or push (husky 9's `.husky/_` stubs run `.husky/<hook>`; lefthook's and
  // lint-staged's configs name commands), and `.githooks/`, the usual `core.hooksPath`.
  [".gitconfig", "git"],
  [".pre-commit-config.yaml", "pre-commit"],
  [".husky/**", "husky"],
  [".githooks/**", "git hooks"],
  ["lefthook.yml", "lefthook"],
  ["lefthook.yaml", "lefthook"],
  [".lefthook.yml", "lefthook"],
  [".lefthook.yaml", "lefthook"],
  ["lefthook-local.yml", "lefthook"],
  [".lefthook-local.yml", "lefthook"],
  [".lefthook/**", "lefthook"],
  [".lintstagedrc", "lint-staged"],
  [".lintstagedrc.*", "lint-staged"],
  ["lint-staged.config.*", "lint-staged"],
  [".overcommit.yml", "overcommit"],
  // Agents.
  [".claude/settings*.json", "Claude Code"],
  [".claude/.config.json", "Claude Code"],
  // Skills, subagents and commands carry shell lines and hooks Claude Code runs when they are used.
  [".claude/skills/**", "Claude Code"],
  [".claude/agents/**", "Claude Code"],
  [".claude/commands/**", "Claude Code"],
  [".mcp.json", "MCP client"],
  [".cursor/mcp.json", "MCP client"],
  [".codex/config.toml", "Codex"],
  [".gemini/settings.json", "Gemini CLI"],
  [".aider.conf.yml", "aider"],
  [".airlock/**", "Airlock"],
  // Editors.
  [".vscode/settings.json", "VS Code"],
  [".vscode/tasks.json", "VS Code"],
  [".vscode/launch.json", "VS Code"],
  ["*.code-workspace", "VS Code"],
  [".devcontainer.json", "dev container"],
  [".devcontainer/**", "dev container"],
  [".idea/workspace.xml", "JetBrains"],
  [".zed/settings.json", "Zed"],
  [".zed/tasks.json", "Zed"],
  [".nvim.lua", "Neovim"],
  [".nvimrc", "Neovim"],
  [".exrc", "Vim"],
  [".dir-locals.el", "Emacs"],
  // Package managers and build tools: settings that name programs or code to load.
  [".npmrc", "npm"],
  [".yarnrc", "yarn"],
  [".yarnrc.yml", "yarn"],
  [".pnpmfile.cjs", "pnpm"],
  [".cargo/config", "cargo"],
  [".cargo/config.toml", "cargo"],
  ["rust-toolchain", "rustup"],
  ["rust-toolchain.toml", "rustup"],
  [".mvn/**", "Maven"],
  ["gradle/wrapper/gradle-wrapper.properties", "Gradle"],
  // Python runs these at every interpreter start (a .pth only in a site directory: a model
  // checkpoint named x.pth elsewhere is data).
  ["site-packages/*.pth", "Python"],
  ["dist-packages/*.pth", "Python"],
  ["sitecustomize.py", "Python"],
  ["usercustomize.py", "Python"],
];

/**
 * The same files as path globs that match anywhere (`**\/.vscode/tasks.json`): how the gate's
 * hard stops name them (`$HOST_RUN_FILES`), so that the gate and the end-of-run scan agree on
 * what a host tool runs on its own.
 */
export function hostRunGlobs(): string[] {
  return HOST_RUN.map(([glob]) => `**/${glob}`);
}

/** One pattern segment: literal, or `*` within the name. */
function segmentMatcher(glob: string): (name: string) => boolean {
  if (!glob.includes("*")) return (name) => name === glob;
  const re = new RegExp(
    `^${glob
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]*")}$`,
  );
  return (name) => re.test(name);
}

interface HostRunPattern {
  /** The segments the path must end with; with `under`, a directory the path lies in (or is). */
  segments: ReadonlyArray<(name: string) => boolean>;
  under: boolean;
  tool: string;
}

// Indexed by last literal segment: the walk asks about every entry of the workdir.
const BY_NAME = new Map<string, HostRunPattern[]>();
const OTHER: HostRunPattern[] = [];
for (const [glob, tool] of HOST_RUN) {
  const under = glob.endsWith("/**");
  const parts = (under ? glob.slice(0, -3) : glob).split("/");
  const pattern = { segments: parts.map(segmentMatcher), under, tool };
  const last = parts[parts.length - 1] as string;
  if (!under && !last.includes("*")) BY_NAME.set(last, [...(BY_NAME.get(last) ?? []), pattern]);
  else OTHER.push(pattern);
}

function endsWith(parts: readonly string[], end: number, segments: HostRunPattern["segments"]): boolean {
  if (end < segments.length) return false;
  return segments.every((match, i) => match(parts[end - segments.length + i] as string));
}

/** The tool that would run or obey the file at `relative` (below a scanned root), or null. */
export function hostRunTool(relative: string): string | null {
  const parts = relative.split("/");
  const candidates = [...(BY_NAME.get(parts[parts.length - 1] as string) ?? []), ...OTHER];
  for (const p of candidates) {
    if (!p.under && endsWith(parts, parts.length, p.segments)) return p.tool;
    if (p.under)
      for (let end = parts.length; end > 0; end--) if (endsWith(parts, end, p.segments)) return p.tool;
  }
  return null;
}

/** Where a disarmed file goes: beside it, under a name no tool looks for. */
export function disarmedName(path: string, time: number): string {
  return `${path}.airlock-disarmed-${new Date(time).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "")}`;
}

export interface ConfigReferences {
  /** `core.hooksPath` (the last one wins, as in git), or null. */
  hooksPath: string | null;
  /** `include.path` and `includeIf.<cond>.path`: more config, obeyed like the file itself. */
  includes: string[];
}

/** What a git config file's text points git at, beyond itself. */
export function configReferences(configText: string): ConfigReferences {
  const refs: ConfigReferences = { hooksPath: null, includes: [] };
  let section = "";
  for (const raw of configText.split("\n")) {
    const line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"[^"]*")?\s*\]/.exec(line);
    if (header) {
      section = (header[1] as string).toLowerCase();
      continue;
    }
    const entry = /^(hookspath|path)\s*=\s*(.*?)\s*$/i.exec(line);
    if (!entry) continue;
    const key = (entry[1] as string).toLowerCase();
    const value = (entry[2] as string).replace(/^"(.*)"$/, "$1");
    if (section === "core" && key === "hookspath") refs.hooksPath = value;
    if ((section === "include" || section === "includeif") && key === "path" && value !== "")
      refs.includes.push(value);
  }
  return refs;
}
