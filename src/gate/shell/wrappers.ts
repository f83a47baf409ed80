// Commands that run another command: what they run, so the inner command is judged on its own.
import type { EnvAssignment, Word } from "./types.ts";
import { literalWord } from "./words.ts";

export type Unwrapped =
  | { kind: "none" }
  | {
      kind: "argv";
      /** Does the wrapper add nothing but the inner command (time, nice, env...)? */
      transparent: boolean;
      argv: Word[];
      env: EnvAssignment[];
      appendedArgs: boolean;
    }
  | { kind: "script"; transparent: boolean; script: Word }
  | { kind: "unknown"; reason: string };

export function basename(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

/**
 * Skips leading options. `withValue` options take the next word (or `=value`/attached).
 * Returns the index of the first operand, or -1 on a dynamic option.
 */
function skipOptions(args: Word[], withValue: ReadonlySet<string>, start = 0): number {
  let i = start;
  while (i < args.length) {
    const arg = args[i] as Word;
    if (arg.dynamic) return -1;
    const v = arg.value;
    if (v === "--") return i + 1;
    if (!v.startsWith("-") || v === "-") return i;
    if (v.startsWith("--")) {
      const name = v.slice(2);
      i += withValue.has(`--${name}`) ? 2 : 1;
      continue;
    }
    // short cluster: a value-taking letter consumes the rest, or the next word
    let consumed = 1;
    for (let k = 1; k < v.length; k++) {
      if (withValue.has(`-${v[k]}`)) {
        if (k === v.length - 1) consumed = 2;
        break;
      }
    }
    i += consumed;
  }
  return i;
}

const set = (...items: string[]) => new Set(items);

const SIMPLE_WRAPPERS: Record<
  string,
  { withValue: Set<string>; transparent: boolean; extraOperand?: number }
> = {
  nohup: { withValue: set(), transparent: true },
  time: { withValue: set("-f", "--format", "-o", "--output"), transparent: true },
  nice: { withValue: set("-n", "--adjustment"), transparent: true },
  ionice: { withValue: set("-c", "-n", "-p", "-P", "-u", "--class", "--classdata"), transparent: true },
  setsid: { withValue: set(), transparent: true },
  command: { withValue: set(), transparent: true },
  builtin: { withValue: set(), transparent: true },
  exec: { withValue: set("-a"), transparent: true },
  stdbuf: { withValue: set("-i", "-o", "-e", "--input", "--output", "--error"), transparent: true },
  timeout: { withValue: set("-s", "--signal", "-k", "--kill-after"), transparent: true, extraOperand: 1 },
  sudo: {
    withValue: set("-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group"),
    transparent: false,
  },
  doas: { withValue: set("-u", "-C"), transparent: false },
  chroot: { withValue: set("--userspec", "--groups"), transparent: false, extraOperand: 1 },
  flock: {
    withValue: set("-w", "-E", "--timeout", "--conflict-exit-code"),
    transparent: false,
    extraOperand: 1,
  },
  unshare: { withValue: set("-S", "-G", "--setuid", "--setgid", "--wd", "--root"), transparent: false },
  strace: { withValue: set("-e", "-o", "-p", "-s", "-u", "-E"), transparent: false },
  ltrace: { withValue: set("-e", "-o", "-p", "-s", "-u"), transparent: false },
};

const SHELLS = set("bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox");

function unwrapShell(name: string, args: Word[]): Unwrapped {
  let i = 0;
  if (name === "busybox") {
    if (args[0]?.value !== "sh" && args[0]?.value !== "ash") return { kind: "none" };
    i = 1;
  }
  let hasC = false;
  for (; i < args.length; i++) {
    const arg = args[i] as Word;
    if (arg.dynamic) return { kind: "unknown", reason: `${name} with a dynamic option` };
    const v = arg.value;
    if (v === "--" || (!v.startsWith("-") && !v.startsWith("+"))) break;
    if (v === "-o" || v === "+o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file") {
      i++;
      continue;
    }
    if (!v.startsWith("--") && v.slice(1).includes("c")) hasC = true;
  }
  if (!hasC) return { kind: "none" };
  const script = args[i];
  if (!script) return { kind: "unknown", reason: `${name} -c without a command string` };
  return { kind: "script", transparent: true, script };
}

function unwrapEnv(args: Word[]): Unwrapped {
  const env: EnvAssignment[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as Word;
    if (arg.dynamic) return { kind: "unknown", reason: "env with a dynamic argument" };
    const v = arg.value;
    if (v === "--") {
      i++;
      break;
    }
    if (v === "-S" || v.startsWith("--split-string") || /^-[^-]*S/.test(v)) {
      return { kind: "unknown", reason: "env -S splits a string into a command at run time" };
    }
    if (v === "-u" || v === "--unset" || v === "-C" || v === "--chdir") {
      i++;
      continue;
    }
    if (v.startsWith("-")) continue;
    const eq = v.indexOf("=");
    if (eq > 0) {
      env.push({ name: v.slice(0, eq), value: literalWord(v.slice(eq + 1)) });
      continue;
    }
    break;
  }
  return { kind: "argv", transparent: true, argv: args.slice(i), env, appendedArgs: false };
}

function unwrapXargs(args: Word[]): Unwrapped {
  const withValue = set(
    "-a",
    "-d",
    "-E",
    "-I",
    "-L",
    "-n",
    "-P",
    "-s",
    "--arg-file",
    "--delimiter",
    "--max-lines",
    "--max-args",
    "--max-procs",
    "--max-chars",
  );
  const start = skipOptions(args, withValue);
  if (start < 0) return { kind: "unknown", reason: "xargs with a dynamic option" };
  const argv = start < args.length ? args.slice(start) : [literalWord("echo")];
  return { kind: "argv", transparent: true, argv, env: [], appendedArgs: true };
}

function unwrapWatch(args: Word[]): Unwrapped {
  const withValue = set("-n", "--interval", "-d", "-q", "--equexit");
  let exec = false;
  for (const a of args) if (a.value === "-x" || a.value === "--exec") exec = true;
  const start = skipOptions(args, withValue);
  if (start < 0) return { kind: "unknown", reason: "watch with a dynamic option" };
  const rest = args.slice(start);
  if (rest.length === 0) return { kind: "none" };
  if (exec) return { kind: "argv", transparent: true, argv: rest, env: [], appendedArgs: false };
  // Without -x, watch joins its arguments and runs them with sh -c.
  return {
    kind: "script",
    transparent: true,
    script: {
      value: rest.map((w) => w.value).join(" "),
      dynamic: rest.some((w) => w.dynamic),
      glob: false,
    },
  };
}

function unwrapSu(args: Word[]): Unwrapped {
  const index = args.findIndex((a) => a.value === "-c" || a.value === "--command");
  const script = index >= 0 ? args[index + 1] : undefined;
  if (!script) return { kind: "none" };
  return { kind: "script", transparent: false, script };
}

/** What `name args...` runs besides itself, if anything. */
export function unwrap(nameWord: Word, args: Word[]): Unwrapped {
  if (nameWord.dynamic) return { kind: "none" };
  const name = basename(nameWord.value);
  if (SHELLS.has(name)) return unwrapShell(name, args);
  if (name === "env") return unwrapEnv(args);
  if (name === "xargs") return unwrapXargs(args);
  if (name === "watch") return unwrapWatch(args);
  if (name === "su") return unwrapSu(args);
  if (name === "command" && args.some((a) => /^-[pvV]*[vV]/.test(a.value))) return { kind: "none" };
  const spec = SIMPLE_WRAPPERS[name];
  if (!spec) return { kind: "none" };
  let start = skipOptions(args, spec.withValue);
  if (start < 0) return { kind: "unknown", reason: `${name} with a dynamic option` };
  if (name === "nice" && args[0] && /^-\d+$/.test(args[0].value)) start = Math.max(start, 1);
  start += spec.extraOperand ?? 0;
  const argv = args.slice(start);
  if (argv.length === 0) return { kind: "none" };
  return { kind: "argv", transparent: spec.transparent, argv, env: [], appendedArgs: false };
}

/** find's -exec/-execdir/-ok/-okdir commands (each up to `;` or `+`). */
export function findExecs(args: Word[]): Word[][] {
  const out: Word[][] = [];
  for (let i = 0; i < args.length; i++) {
    const v = (args[i] as Word).value;
    if (v !== "-exec" && v !== "-execdir" && v !== "-ok" && v !== "-okdir") continue;
    const argv: Word[] = [];
    for (i++; i < args.length; i++) {
      const w = args[i] as Word;
      if (w.value === ";" || w.value === "+") break;
      argv.push(w);
    }
    out.push(argv);
  }
  return out;
}
