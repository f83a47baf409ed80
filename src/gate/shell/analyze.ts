// A bash line → every simple command it would run, its redirections, and what cannot be known.
import type { Node, Tree } from "web-tree-sitter";
import { DANGEROUS_ENV, grammarProblem } from "./grammar.ts";
import type { EnvAssignment, Redirect, ShellAnalysis, SimpleCommand, Word } from "./types.ts";
import { dynamicWord, literalWord, wordOf } from "./words.ts";
import { basename, findExecs, unwrap } from "./wrappers.ts";

export type ParseFn = (text: string) => Tree | null;

const MAX_DEPTH = 8;

/** Commands whose argument is code run in the current shell: never statically known. */
const CODE_RUNNERS: Record<string, string> = {
  eval: "eval runs text assembled at run time",
  source: "source runs a file whose content is not known here",
  ".": "source (.) runs a file whose content is not known here",
  trap: "trap registers code to run later",
  alias: "alias changes what later words mean",
  enable: "enable can load builtins",
  shopt: "shopt changes how later words are expanded",
  set: "set changes shell options",
  coproc: "coproc runs a command in the background",
  fc: "fc re-runs history",
  hash: "hash changes command lookup",
};

/**
 * Reserved words never run as commands when unquoted: seeing one as a command name means
 * tree-sitter-bash read the line differently from bash (it does for `! for ...`, `! ! cmd`).
 */
const RESERVED = new Set([
  "!",
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "for",
  "while",
  "until",
  "do",
  "done",
  "case",
  "esac",
  "in",
  "select",
  "function",
  "{",
  "}",
  "[[",
  "]]",
]);

const WRITE_OPS = new Set([">", ">>", ">|", "&>", "&>>", "<>", ">&"]);

class Walker {
  readonly commands: SimpleCommand[] = [];
  readonly redirects: Redirect[] = [];
  readonly cdTargets: Word[] = [];
  readonly unknowns: string[] = [];
  parseError: string | undefined;

  constructor(private readonly parse: ParseFn) {}

  analyzeText(text: string, via: string[], depth: number): void {
    if (depth > MAX_DEPTH) {
      this.unknowns.push(`shell nesting deeper than ${MAX_DEPTH}`);
      return;
    }
    const lexical = lexicalAmbiguity(text);
    if (lexical) this.parseError ??= lexical;
    const tree = this.parse(text);
    if (!tree) {
      this.parseError ??= "the shell parser gave no tree";
      return;
    }
    try {
      const root = tree.rootNode;
      if (root.hasError) this.parseError ??= describeError(root);
      const outside = grammarProblem(root);
      if (outside) this.unknowns.push(outside);
      this.walk(root, via, depth);
    } finally {
      tree.delete();
    }
  }

  private walk(node: Node, via: string[], depth: number): void {
    switch (node.type) {
      case "command":
        this.command(node, via, depth);
        return;
      case "file_redirect":
        this.redirect(node, via, depth);
        return;
      case "function_definition":
        this.unknowns.push("defines a shell function (it can shadow any command)");
        break;
      case "variable_assignment":
        this.assignment(node);
        break;
      case "word":
        // tree-sitter-bash can fold "ls<newline>\\rm -rf /" into one command whose argument
        // starts with the newline; bash runs two commands. A bare newline in a word means the
        // parse cannot be trusted.
        if (/(^|[^\\])\n/.test(node.text)) this.parseError ??= "a line break inside a word (ambiguous parse)";
        return;
      case "command_substitution":
        // Inside backticks bash removes one level of \\, \` and \$ before parsing the
        // command; tree-sitter does not, so `\\curl` would hide curl. Re-parse the text as bash sees it.
        if (node.child(0)?.type === "`") {
          const inner = node.text.slice(1, node.text.endsWith("`") ? -1 : undefined);
          this.analyzeText(inner.replace(/\\([\\`$])/g, "$1"), via, depth + 1);
          return;
        }
        break;
      case "test_command":
        // In `[ a > b ]` bash sees a redirection (it writes the file b); tree-sitter sees a test.
        if (node.child(0)?.type === "[" && hasRedirectLikeOperator(node)) {
          this.parseError ??= "< or > inside [ ] is a redirection to bash (ambiguous parse)";
        }
        break;
      case "heredoc_body":
        // Unquoted here-doc bodies expand substitutions; the walker finds them as children.
        break;
    }
    for (const child of node.namedChildren) if (child) this.walk(child, via, depth);
  }

  private assignment(node: Node): void {
    const name = node.childForFieldName("name");
    if (name && DANGEROUS_ENV.test(name.text)) this.unknowns.push(`assigns ${name.text}`);
  }

  private redirect(node: Node, via: string[], depth: number): void {
    const dest = node.childForFieldName("destination");
    const op = node.children.find((c) => c && !c.isNamed)?.type ?? ">";
    if (dest) {
      for (const child of dest.namedChildren) if (child) this.walk(child, via, depth);
      const word = wordOf(dest);
      const isFd = op === ">&" || op === "<&" ? /^\d+-?$|^-$/.test(word.value) && !word.dynamic : false;
      const opKind = WRITE_OPS.has(op) ? "write" : "read";
      if (!isFd) this.redirects.push({ op: opKind, path: word });
      else if (/^\d+/.test(word.value) && Number.parseInt(word.value, 10) > 2) {
        // A descriptor the line did not open: whatever the caller left there (seen as /dev/fd/N).
        this.redirects.push({ op: opKind, path: literalWord(`/dev/fd/${Number.parseInt(word.value, 10)}`) });
      }
    }
  }

  private command(node: Node, via: string[], depth: number): void {
    const env: EnvAssignment[] = [];
    let name: Word | undefined;
    const args: Word[] = [];
    let nameEnd = -1;
    const argEnds: number[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === "variable_assignment") {
        const n = child.childForFieldName("name");
        const v = child.childForFieldName("value");
        env.push({ name: n?.text ?? "", value: v ? wordOf(v) : literalWord("") });
        if (v) this.walk(v, via, depth);
      } else if (child.type === "command_name") {
        const inner = child.namedChildren[0];
        if (inner?.type === "word" && RESERVED.has(inner.text)) {
          this.parseError ??= `the reserved word "${inner.text}" where a command should be (ambiguous parse)`;
        }
        name = inner ? wordOf(inner) : dynamicWord(child.text);
        nameEnd = child.endIndex;
        for (const c of child.namedChildren) if (c) this.walk(c, via, depth);
      } else if (
        child.type === "file_redirect" ||
        child.type === "heredoc_redirect" ||
        child.type === "herestring_redirect"
      ) {
        this.walk(child, via, depth);
      } else {
        args.push(wordOf(child));
        argEnds.push(child.endIndex);
        this.walk(child, via, depth);
      }
    }
    if (!name) {
      for (const a of env) if (DANGEROUS_ENV.test(a.name)) this.unknowns.push(`assigns ${a.name}`);
      return;
    }
    const at = depth === 0 && via.length === 0 ? { nameEnd, argEnds } : undefined;
    this.simple(name, args, env, via, depth, false, node.text, at);
  }

  private simple(
    name: Word,
    args: Word[],
    env: EnvAssignment[],
    via: string[],
    depth: number,
    appendedArgs: boolean,
    text: string,
    at?: SimpleCommand["at"],
  ): void {
    if (name.dynamic)
      this.unknowns.push(`the command name ${JSON.stringify(name.value)} is only known at run time`);
    if (name.glob) this.unknowns.push(`the command name ${JSON.stringify(name.value)} is a glob`);
    const base = basename(name.value);
    if ((base === "cd" || base === "pushd") && !name.dynamic) {
      const target = args.find((a) => a.dynamic || !a.value.startsWith("-") || a.value === "-");
      this.cdTargets.push(
        target ? (target.value === "-" ? { ...target, dynamic: true } : target) : literalWord("~"),
      );
    }
    const reason = CODE_RUNNERS[base];
    if (reason && !name.dynamic) this.unknowns.push(reason);
    const unwrapped = unwrap(name, args);
    const cmd: SimpleCommand = {
      name,
      args,
      env,
      via,
      transparent: unwrapped.kind !== "none" && unwrapped.transparent,
      appendedArgs,
      text,
      ...(at ? { at } : {}),
    };
    this.commands.push(cmd);
    const innerVia = [...via, base];
    if (unwrapped.unknown) this.unknowns.push(unwrapped.unknown);
    if (unwrapped.kind === "script") {
      if (unwrapped.script.dynamic)
        this.unknowns.push(`${base} runs a command string only known at run time`);
      else this.analyzeText(unwrapped.script.value, innerVia, depth + 1);
    } else if (unwrapped.kind === "argv") {
      const [innerName, ...innerArgs] = unwrapped.argv;
      if (innerName) {
        this.simple(
          innerName,
          innerArgs,
          unwrapped.env,
          innerVia,
          depth + 1,
          unwrapped.appendedArgs,
          unwrapped.argv.map((w) => w.value).join(" "),
        );
      }
    }
    if (base === "find" && !name.dynamic) {
      for (const argv of findExecs(args)) {
        const [innerName, ...innerArgs] = argv;
        if (!innerName) {
          this.unknowns.push("find -exec without a command");
          continue;
        }
        const usesPlaceholder = innerArgs.some((a) => a.value.includes("{}"));
        this.simple(
          innerName,
          innerArgs.map((a) => (a.value.includes("{}") ? { ...a, dynamic: true } : a)),
          [],
          innerVia,
          depth + 1,
          usesPlaceholder,
          argv.map((w) => w.value).join(" "),
        );
      }
    }
  }
}

function hasRedirectLikeOperator(node: Node): boolean {
  if (node.type === "binary_expression" && node.children.some((c) => c && !c.isNamed && /^[<>]/.test(c.type)))
    return true;
  return node.namedChildren.some((c) => c !== null && hasRedirectLikeOperator(c));
}

function describeError(root: Node): string {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    if (node.type === "ERROR" || node.isMissing) {
      const at = node.startPosition;
      return `bash syntax error near ${JSON.stringify(node.text.slice(0, 40))} (line ${at.row + 1}, column ${at.column + 1})`;
    }
    for (const child of node.children) if (child?.hasError || child?.isMissing) stack.push(child);
  }
  return "bash syntax error";
}

/**
 * Where tree-sitter-bash and bash read the same characters differently the tree cannot be
 * trusted. Bash's blanks are space and tab; tree-sitter also skips CR, VT and FF, so `a\r` is
 * one word to bash and `\` CR LF is a newline to bash but a line continuation to tree-sitter
 * (what follows runs as a command it never sees). And tree-sitter ends a word at a line
 * continuation, which bash removes, joining the word (`~/.s\<newline>sh/id_rsa` is one path).
 * Only continuations after a blank, between words, read the same to both.
 */
function lexicalAmbiguity(text: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  const control = /[\x01-\x08\x0b-\x1f\x7f]/.exec(text)?.[0];
  if (control) {
    const code = control.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase();
    return `a control character (U+${code}) that bash and the parser read differently (ambiguous parse)`;
  }
  if (/[^ \t\n\\](?:\\\\)*\\\n/.test(text)) {
    return "a line continuation inside a word: bash joins the word, the parser splits it (ambiguous parse)";
  }
  return undefined;
}

/** Analyzes one shell line. Pure given the parser; the tree is freed before returning. */
export function analyzeShell(parse: ParseFn, source: string): ShellAnalysis {
  const walker = new Walker(parse);
  if (source.includes("\0")) {
    return {
      source,
      commands: [],
      redirects: [],
      cdTargets: [],
      unknowns: ["NUL byte"],
      parseError: "NUL byte in command",
    };
  }
  walker.analyzeText(source, [], 0);
  const out: ShellAnalysis = {
    source,
    commands: walker.commands,
    redirects: walker.redirects,
    cdTargets: walker.cdTargets,
    unknowns: [...new Set(walker.unknowns)],
  };
  if (walker.parseError) out.parseError = walker.parseError;
  return out;
}
