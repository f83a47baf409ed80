// Files that stay read-only inside a writable directory (docs/design.md §4.1): anything a
// later process OUTSIDE the sandbox would execute or obey. A sandboxed agent that could write
// `.bashrc`, a git hook or an agent settings file would escape on the developer's next shell,
// commit or agent start. Pure data and one pure function.

/** Relative to every writable root (the workdir, `read_write` directories). */
export const PROTECTED_NAMES: readonly string[] = [
  // Shell startup files.
  ".bashrc",
  ".bash_profile",
  ".bash_login",
  ".profile",
  ".zshrc",
  ".zshenv",
  ".zprofile",
  ".zlogin",
  ".config/fish",
  ".envrc", // direnv runs it on `cd`
  // Git: hooks run code, config can name programs (core.fsmonitor, core.hooksPath, aliases).
  ".gitconfig",
  ".git/hooks",
  ".git/config",
  // Agent configuration: settings grant permissions and run hooks; MCP files start servers.
  ".claude/settings.json",
  ".claude/settings.local.json",
  ".mcp.json",
  ".codex",
  ".vscode/settings.json",
  ".vscode/tasks.json",
  // Airlock's own project configuration.
  ".airlock",
];

/** Names that exist inside `.claude/` and match `settings*.json` are protected too. */
export function isClaudeSettings(name: string): boolean {
  return /^settings.*\.json$/.test(name);
}
