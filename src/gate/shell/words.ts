// Tree-sitter word nodes → literal values, marking whatever only the running shell could know.
import type { Node } from "web-tree-sitter";
import type { Word } from "./types.ts";

export const dynamicWord = (text: string): Word => ({ value: text, dynamic: true, glob: false });
export const literalWord = (value: string): Word => ({ value, dynamic: false, glob: false });

/** Unquoted word: backslash escapes removed; braces make it dynamic (brace expansion). */
function unquoted(text: string): Word {
  let value = "";
  let glob = false;
  // `~user`, `~+`, `~-` expand to directories only the running shell knows (`~` and `~/` are the home).
  let dynamic = text.startsWith("~") && text.length > 1 && text[1] !== "/";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "\\") {
      const next = text[i + 1];
      if (next === "\n") i++;
      else if (next !== undefined) {
        value += next;
        i++;
      }
      continue;
    }
    if (ch === "*" || ch === "?" || ch === "[") glob = true;
    // `{a,b}` and `{1..3}` expand into several words; `{}` alone is find's placeholder.
    if ((ch === "{" || ch === "}") && text !== "{}") dynamic = true;
    if (ch === "$" || ch === "`") dynamic = true;
    value += ch;
  }
  return { value, dynamic, glob };
}

function doubleQuotedContent(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === "\n" ? "" : c));
}

const ANSI_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  E: "\x1b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** Decodes the body of $'…'. */
export function decodeAnsiC(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (_, esc: string) => {
      const head = esc[0] as string;
      if (head === "x" || head === "u" || head === "U") {
        const code = Number.parseInt(esc.slice(1), 16);
        return code <= 0x10ffff ? String.fromCodePoint(code) : "";
      }
      if (/[0-7]/.test(head)) return String.fromCharCode(Number.parseInt(esc, 8) & 0xff);
      if (head === "c") return String.fromCharCode((esc.charCodeAt(1) & 0x1f) >>> 0);
      return ANSI_ESCAPES[head] ?? `\\${esc}`;
    },
  );
}

export function wordOf(node: Node): Word {
  switch (node.type) {
    case "word":
      return unquoted(node.text);
    case "number":
      return literalWord(node.text);
    case "raw_string":
      return literalWord(node.text.slice(1, -1));
    case "ansi_c_string":
      return literalWord(decodeAnsiC(node.text.slice(2, -1)));
    case "string":
    case "translated_string": {
      let value = "";
      let dynamic = node.type === "translated_string";
      for (const child of node.children) {
        if (child.type === '"' || child.type === '$"') continue;
        if (child.type === "string_content") value += doubleQuotedContent(child.text);
        else {
          dynamic = true;
          value += child.text;
        }
      }
      return { value, dynamic, glob: false };
    }
    case "concatenation": {
      const parts = node.children.map(wordOf);
      return {
        value: parts.map((p) => p.value).join(""),
        dynamic: parts.some((p) => p.dynamic),
        glob: parts.some((p) => p.glob),
      };
    }
    default:
      // Expansions, substitutions, arithmetic, brace expressions: only known at run time.
      return dynamicWord(node.text);
  }
}
