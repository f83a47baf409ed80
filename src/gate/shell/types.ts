// What a shell line would run, as far as it can be known without running it.

/** One word after quote removal. `dynamic`: its value is only known at run time. */
export interface Word {
  value: string;
  dynamic: boolean;
  /** Unquoted *, ? or [ : the shell expands it against the filesystem. */
  glob: boolean;
}

export interface EnvAssignment {
  name: string;
  value: Word;
}

export interface SimpleCommand {
  /** The command word as written (after quote removal). */
  name: Word;
  args: Word[];
  env: EnvAssignment[];
  /** Wrappers this command runs under, outermost first (`sudo`, `env`, `bash -c`...). */
  via: string[];
  /** A wrapper that only runs its inner command (time, nice, env...): judged through the inner one. */
  transparent: boolean;
  /** Arguments are appended at run time (xargs, find -exec {}). */
  appendedArgs: boolean;
  text: string;
  /**
   * Where the command's words end in the line itself (character offsets), when it is written
   * there directly (not inside a `bash -c` string or a wrapper): lets a call be rewritten.
   */
  at?: { nameEnd: number; argEnds: number[] };
}

export interface Redirect {
  op: "read" | "write";
  path: Word;
}

export interface ShellAnalysis {
  source: string;
  commands: SimpleCommand[];
  redirects: Redirect[];
  /** Directories the line changes into (`cd`, `pushd`); `~` for a bare `cd`. */
  cdTargets: Word[];
  /** Reasons the line cannot be fully known statically; non-empty means never allowlisted. */
  unknowns: string[];
  /** Set when the line does not parse as bash. */
  parseError?: string;
}
