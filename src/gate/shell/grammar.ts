// The part of bash the allowlist understands: a positive grammar. A line is a tier-0 candidate
// only when every node of its tree is one of these, used the way described here; anything else
// (expansions, substitutions, loops, declarations, arithmetic on names...) is reported and the
// line goes on down the cascade. Hard stops do not depend on this: they see every command.
import type { Node } from "web-tree-sitter";

/** Nodes whose meaning is fully known from their text and their (checked) children. */
const PLAIN = new Set([
  "program",
  "comment",
  "list",
  "pipeline",
  "command",
  "command_name",
  "word",
  "string",
  "string_content",
  "raw_string",
  "ansi_c_string",
  "concatenation",
  "number",
  "redirected_statement",
  "file_redirect",
  "file_descriptor",
  "heredoc_redirect",
  "heredoc_start",
  "heredoc_body",
  "heredoc_end",
  "herestring_redirect",
  "subshell",
  "negated_command",
  "if_statement",
  "elif_clause",
  "else_clause",
]);

/** `[[ -X word ]]` operators that only look at a file or a string (not -v/-R: they evaluate subscripts). */
const UNARY_TESTS = new Set(
  "-a -b -c -d -e -f -g -h -k -p -r -s -t -u -w -x -G -L -N -O -S -z -n -o !".split(" "),
);
/** String, pattern and file comparisons; `&&`/`||` join tests. */
const STRING_TESTS = new Set(["==", "=", "!=", "<", ">", "=~", "-nt", "-ot", "-ef", "&&", "||"]);
/** Arithmetic comparisons: bash evaluates each side as an arithmetic expression (names, subscripts...). */
const ARITHMETIC_TESTS = new Set(["-eq", "-ne", "-lt", "-le", "-gt", "-ge"]);

/**
 * Variables that change which program runs, what it loads or how words are split: assigning one
 * makes a line unknowable, and a policy may never declare one inert.
 */
export const DANGEROUS_ENV =
  /^(PATH|IFS|ENV|BASH_\w+|CDPATH|GLOBIGNORE|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|LD_\w+|DYLD_\w+|BASH_FUNC_.*|GCONV_PATH|LOCPATH|NLSPATH|GLIBC_TUNABLES|MALLOC_\w+|HOSTALIASES|TERMINFO\w*|PYTHON\w*|NODE_\w+|PERL\w*|RUBY\w*|GIT_\w+|PAGER|MANPAGER|EDITOR|VISUAL|LESS\w*|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|HOME|TMPDIR|XDG_\w+|ZDOTDIR|SHELL|RIPGREP_CONFIG_PATH|GREP_OPTIONS|POSIXLY_CORRECT)$/;

/** Variables a command prefix may set at tier 0: they change formatting, never which code runs. */
export const DEFAULT_INERT_ENV = [
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_COLLATE",
  "LC_CTYPE",
  "LC_MESSAGES",
  "LC_MONETARY",
  "LC_NUMERIC",
  "LC_TIME",
  "TZ",
  "NO_COLOR",
  "FORCE_COLOR",
  "CLICOLOR",
  "CLICOLOR_FORCE",
  "COLUMNS",
  "LINES",
  "CI",
];

/**
 * An inert variable's value is a name (`C.UTF-8`, `Europe/Paris`), never a path: locale and
 * time-zone values with a leading `/`, `:` or a `.` segment make libc open that file.
 */
export const INERT_VALUE = /^$|^(?!\.)[A-Za-z0-9_@+,-][A-Za-z0-9_.@+,-]*(\/(?!\.)[A-Za-z0-9_.@+,-]+)*$/;

const isLiteralNumber = (node: Node) => node.type === "number" && /^[0-9]+$/.test(node.text);

/** `(( … ))` and arithmetic test operands: only literal decimal numbers and operators. */
function literalArithmetic(node: Node): boolean {
  if (isLiteralNumber(node)) return true;
  if (
    node.type !== "binary_expression" &&
    node.type !== "unary_expression" &&
    node.type !== "parenthesized_expression"
  )
    return false;
  return node.namedChildren.every((c) => c !== null && literalArithmetic(c));
}

function testProblem(node: Node): string | undefined {
  switch (node.type) {
    case "unary_expression": {
      const op = node.childForFieldName("operator")?.text ?? node.child(0)?.text ?? "";
      if (!UNARY_TESTS.has(op)) return `the test ${op} is not understood`;
      for (const c of node.namedChildren) {
        if (!c || c.type === "test_operator") continue;
        const p = testProblem(c);
        if (p) return p;
      }
      return undefined;
    }
    case "binary_expression": {
      const op = node.childForFieldName("operator")?.text ?? "";
      const left = node.childForFieldName("left");
      const right = node.childForFieldName("right");
      if (ARITHMETIC_TESTS.has(op)) {
        if (left && right && isLiteralNumber(left) && isLiteralNumber(right)) return undefined;
        return `the arithmetic test ${op} has an operand that is not a literal number`;
      }
      if (!STRING_TESTS.has(op)) return `the test ${op || node.text.slice(0, 20)} is not understood`;
      for (const c of [left, right]) {
        const p = c ? testProblem(c) : undefined;
        if (p) return p;
      }
      return undefined;
    }
    case "parenthesized_expression":
      for (const c of node.namedChildren) {
        const p = c ? testProblem(c) : undefined;
        if (p) return p;
      }
      return undefined;
    case "extglob_pattern":
    case "regex":
      return undefined;
    default:
      return grammarProblem(node);
  }
}

/** Why the subtree is outside the tier-0 grammar, or undefined when all of it is understood. */
export function grammarProblem(node: Node): string | undefined {
  const type = node.type;
  if (type === "variable_assignment") return "assigns a variable";
  if (type === "test_command") {
    for (const c of node.namedChildren) {
      const p = c ? testProblem(c) : undefined;
      if (p) return p;
    }
    return undefined;
  }
  if (type === "compound_statement") {
    if (node.child(0)?.type === "((") {
      return node.namedChildren.every((c) => c !== null && (c.type === "comment" || literalArithmetic(c)))
        ? undefined
        : "arithmetic on something other than literal numbers";
    }
  } else if (!PLAIN.has(type)) return `${type.replaceAll("_", " ")} is not understood by the allowlist`;
  for (const child of node.namedChildren) {
    if (!child) continue;
    // Prefix assignments of a command are judged with the command (inert names only).
    if (type === "command" && child.type === "variable_assignment") {
      const p = prefixAssignmentProblem(child);
      if (p) return p;
      continue;
    }
    const p = grammarProblem(child);
    if (p) return p;
  }
  return undefined;
}

/** `NAME=literal` with a plain name and a literal value; which names are inert is policy. */
function prefixAssignmentProblem(node: Node): string | undefined {
  const name = node.childForFieldName("name");
  if (name?.type !== "variable_name") return `assigns ${node.text.slice(0, 40)} (not a plain name)`;
  if (node.children.some((c) => c?.type === "+=")) return `appends to ${name.text}`;
  const value = node.childForFieldName("value");
  if (value?.type === "array") return `assigns an array to ${name.text}`;
  return value ? grammarProblem(value) : undefined;
}
