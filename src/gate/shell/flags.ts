// Flag normalisation: `rm -fr`, `rm -r -f` and `rm --recursive --force` are the same call.
import type { SimpleCommand, Word } from "./types.ts";
import { basename } from "./wrappers.ts";

/** Long names and upper-case variants mapped onto one canonical flag, per command. */
const ALIASES: Record<string, Record<string, string>> = {
  rm: { recursive: "r", R: "r", force: "f", dir: "d", interactive: "i", verbose: "v" },
  cp: { recursive: "r", R: "r", force: "f", "no-clobber": "n", verbose: "v", archive: "a" },
  mv: { force: "f", "no-clobber": "n", verbose: "v" },
  chmod: { recursive: "R" },
  chown: { recursive: "R" },
  git: { force: "f", all: "a", delete: "d", mirror: "mirror", hard: "hard" },
  ln: { symbolic: "s", force: "f" },
  mkdir: { parents: "p" },
  sed: { "in-place": "i", expression: "e" },
  curl: { output: "o", data: "d", request: "X", "upload-file": "T", form: "F" },
  wget: { "output-document": "O", "post-data": "post-data" },
  tar: { extract: "x", create: "c", file: "f" },
  rsync: { delete: "delete", recursive: "r", archive: "a" },
  docker: { force: "f" },
  kubectl: { filename: "f" },
  npm: { global: "g", force: "f" },
};

/** Commands whose options are single-dash words (`find -delete`), not letter clusters. */
const SINGLE_DASH_LONG = new Set(["find", "java", "go", "terraform", "tofu", "xcodebuild"]);

export function canonicalFlag(command: string, flag: string): string {
  const aliases = ALIASES[basename(command)];
  const bare = flag.replace(/^-+/, "");
  return aliases?.[bare] ?? bare;
}

export interface ParsedArgs {
  flags: Set<string>;
  /** Operands (non-option words), including those after `--`. */
  operands: Word[];
  /** Long options as written (`pr` for `--pr=sh`): GNU getopt and git accept unambiguous prefixes. */
  longForms: string[];
  /** Every value given to an option as `--opt=value`: checked as paths like operands. */
  optionValues: Word[];
  /** An option word is only known at run time. */
  dynamicOption: boolean;
}

const parsedCache = new WeakMap<SimpleCommand, ParsedArgs>();

/** Flags and operands of one command; computed once per command however many rules look at it. */
export function parseArgs(cmd: SimpleCommand): ParsedArgs {
  let parsed = parsedCache.get(cmd);
  if (!parsed) {
    parsed = parseArgsUncached(cmd);
    parsedCache.set(cmd, parsed);
  }
  return parsed;
}

function parseArgsUncached(cmd: SimpleCommand): ParsedArgs {
  const command = basename(cmd.name.value);
  const flags = new Set<string>();
  const operands: Word[] = [];
  const optionValues: Word[] = [];
  const longForms: string[] = [];
  let dynamicOption = false;
  let endOfOptions = false;
  for (const arg of cmd.args) {
    const v = arg.value;
    if (endOfOptions || !v.startsWith("-") || v === "-") {
      if (arg.dynamic && !endOfOptions && !v.startsWith("-")) {
        // `$X` may expand to an option: unknowable, but keep it as an operand too.
        dynamicOption = true;
      }
      operands.push(arg);
      continue;
    }
    if (v === "--") {
      endOfOptions = true;
      continue;
    }
    if (arg.dynamic) dynamicOption = true;
    if (v.startsWith("--") || SINGLE_DASH_LONG.has(command)) {
      const body = v.replace(/^-+/, "");
      const eq = body.indexOf("=");
      longForms.push(eq >= 0 ? body.slice(0, eq) : body);
      flags.add(canonicalFlag(command, eq >= 0 ? body.slice(0, eq) : body));
      if (eq >= 0) optionValues.push({ ...arg, value: body.slice(eq + 1) });
      continue;
    }
    for (const letter of v.slice(1)) flags.add(canonicalFlag(command, letter));
  }
  return { flags, operands, optionValues, longForms, dynamicOption };
}

/** A flag a rule refuses: its canonical name and every long spelling that means it. */
export interface RefusedFlag {
  canonical: string;
  longNames: string[];
}

export function refusedFlag(command: string, flag: string): RefusedFlag {
  const bare = flag.replace(/^-+/, "");
  const canonical = canonicalFlag(command, bare);
  const aliases = ALIASES[basename(command)] ?? {};
  const longNames = [bare, canonical, ...Object.keys(aliases).filter((k) => aliases[k] === canonical)].filter(
    (n) => n.length > 1,
  );
  return { canonical, longNames: [...new Set(longNames)] };
}

/**
 * Is a refused flag given, in any spelling: exactly, bundled (`-ao` holds `-o`), or as a long
 * option abbreviated to a prefix (`--pr` is `--pre` to getopt_long when unambiguous; an
 * ambiguous prefix is an error, so counting it too refuses nothing that would run).
 */
export function hasRefusedFlag(parsed: ParsedArgs, refused: RefusedFlag): boolean {
  if (parsed.flags.has(refused.canonical)) return true;
  return parsed.longForms.some((given) => given !== "" && refused.longNames.some((n) => n.startsWith(given)));
}
