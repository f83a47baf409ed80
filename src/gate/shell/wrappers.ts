// Commands that run another command: what they run, so the inner command is judged on its own.
import type { EnvAssignment, Word } from "./types.ts";
import { literalWord } from "./words.ts";

/**
 * What a wrapper runs. `unknown` says why it cannot be known exactly (a dynamic option, say):
 * the inner command is still unwrapped as well as it can be, so hard stops still see it.
 */
export type Unwrapped =
  | { kind: "none"; unknown?: string }
  | {
      kind: "argv";
      /** Does the wrapper add nothing but the inner command (time, nice, env...)? */
      transparent: boolean;
      argv: Word[];
      env: EnvAssignment[];
      appendedArgs: boolean;
      unknown?: string;
    }
  | { kind: "script"; transparent: boolean; script: Word; unknown?: string };

export function basename(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

/**
 * Skips leading options. `withValue` options take the next word (or `=value`/attached).
 * A dynamic word that looks like an option is skipped; one that does not is taken as the
 * first operand. `dynamic` reports either, since `$X` may expand to options.
 */
function skipOptions(
  args: Word[],
  withValue: ReadonlySet<string>,
  start = 0,
): { index: number; dynamic: boolean } {
  let i = start;
  let dynamic = false;
  while (i < args.length) {
    const arg = args[i] as Word;
    const v = arg.value;
    if (arg.dynamic) {
      dynamic = true;
      if (v.startsWith("-")) {
        i++;
        continue;
      }
      return { index: i, dynamic };
    }
    if (v === "--") return { index: i + 1, dynamic };
    if (!v.startsWith("-") || v === "-") return { index: i, dynamic };
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
  return { index: i, dynamic };
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
  let dynamicOption = false;
  for (; i < args.length; i++) {
    const arg = args[i] as Word;
    const v = arg.value;
    if (arg.dynamic) {
      if (!v.startsWith("-")) break;
      dynamicOption = true; // `bash $OPTS "cmd"`: $OPTS may hold -c
      continue;
    }
    if (v === "--" || (!v.startsWith("-") && !v.startsWith("+"))) break;
    if (v === "-o" || v === "+o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file") {
      i++;
      continue;
    }
    if (!v.startsWith("--") && v.slice(1).includes("c")) hasC = true;
  }
  if (args[i]?.value === "--" && !args[i]?.dynamic) i++;
  const script = args[i];
  if (!hasC && !dynamicOption) return { kind: "none" };
  if (!script) return { kind: "none", unknown: `${name} -c without a command string` };
  const unknown = dynamicOption ? `${name} with an option known only at run time` : undefined;
  return { kind: "script", transparent: true, script, ...(unknown ? { unknown } : {}) };
}

function unwrapEnv(args: Word[]): Unwrapped {
  const env: EnvAssignment[] = [];
  let unknown: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as Word;
    const v = arg.value;
    if (v === "--" && !arg.dynamic) {
      i++;
      break;
    }
    if (v === "-S" || v.startsWith("--split-string") || /^-[^-]*S/.test(v)) {
      return { kind: "none", unknown: "env -S splits a string into a command at run time" };
    }
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(v);
    if (assignment) {
      // A value known only at run time is still an assignment: the command after it runs.
      env.push({ name: assignment[1] as string, value: { ...arg, value: v.slice(assignment[0].length) } });
      continue;
    }
    if (v === "-C" || v === "--chdir" || v.startsWith("--chdir=") || /^-[^-]*C/.test(v)) {
      // Relative paths of the inner command resolve elsewhere: not something a rule can see.
      unknown = "env -C runs its command in another directory";
      if (v === "-C" || v === "--chdir") i++;
      continue;
    }
    if (v === "-u" || v === "--unset") {
      i++;
      continue;
    }
    if (v.startsWith("-")) {
      if (arg.dynamic) unknown = "env with an option known only at run time";
      continue;
    }
    break;
  }
  return {
    kind: "argv",
    transparent: true,
    argv: args.slice(i),
    env,
    appendedArgs: false,
    ...(unknown ? { unknown } : {}),
  };
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
  const { index, dynamic } = skipOptions(args, withValue);
  const argv = index < args.length ? args.slice(index) : [literalWord("echo")];
  return {
    kind: "argv",
    transparent: true,
    argv,
    env: [],
    appendedArgs: true,
    ...(dynamic ? { unknown: "xargs with an option known only at run time" } : {}),
  };
}

function unwrapWatch(args: Word[]): Unwrapped {
  const withValue = set("-n", "--interval", "-d", "-q", "--equexit");
  let exec = false;
  for (const a of args) if (a.value === "-x" || a.value === "--exec") exec = true;
  const { index, dynamic } = skipOptions(args, withValue);
  const unknown = dynamic ? { unknown: "watch with an option known only at run time" } : {};
  const rest = args.slice(index);
  if (rest.length === 0) return { kind: "none", ...unknown };
  if (exec) return { kind: "argv", transparent: true, argv: rest, env: [], appendedArgs: false, ...unknown };
  // Without -x, watch joins its arguments and runs them with sh -c.
  return {
    kind: "script",
    transparent: true,
    script: {
      value: rest.map((w) => w.value).join(" "),
      dynamic: rest.some((w) => w.dynamic),
      glob: false,
    },
    ...unknown,
  };
}

function unwrapSu(args: Word[]): Unwrapped {
  const index = args.findIndex((a) => a.value === "-c" || a.value === "--command");
  const script = index >= 0 ? args[index + 1] : undefined;
  if (!script) return { kind: "none" };
  return { kind: "script", transparent: false, script };
}

/**
 * What `name args...` runs besides itself, if anything. A wrapper given nothing to run is the
 * program itself, judged by its own rule: `env` alone prints the environment (its secrets).
 */
export function unwrap(nameWord: Word, args: Word[]): Unwrapped {
  const unwrapped = unwrapCommand(nameWord, args);
  if (unwrapped.kind !== "argv" || unwrapped.argv.length > 0) return unwrapped;
  return { kind: "none", ...(unwrapped.unknown ? { unknown: unwrapped.unknown } : {}) };
}

function unwrapCommand(nameWord: Word, args: Word[]): Unwrapped {
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
  const skipped = skipOptions(args, spec.withValue);
  let start = skipped.index;
  if (name === "nice" && args[0] && /^-\d+$/.test(args[0].value)) start = Math.max(start, 1);
  start += spec.extraOperand ?? 0;
  const writes =
    name === "time" && args.slice(0, start).some((a) => /^(-o|--output|-a|--append)/.test(a.value));
  const unknown = skipped.dynamic
    ? { unknown: `${name} with an option known only at run time` }
    : writes
      ? { unknown: "time -o writes a file" }
      : {};
  const argv = args.slice(start);
  if (argv.length === 0) return { kind: "none", ...unknown };
  return { kind: "argv", transparent: spec.transparent, argv, env: [], appendedArgs: false, ...unknown };
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
