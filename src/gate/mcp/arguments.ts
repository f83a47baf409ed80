// What an MCP call's arguments name: every string in them, the paths, URLs and hosts those may
// be, and the normalised text content rules match. The tool's own argument names are chosen by
// the server (and its values by the agent), so nothing here trusts a name: every string is
// looked at. Pure; where the paths really lead comes from the edge's path facts (`Paths.real`),
// gathered for every path a string may name, as for the other tool kinds.
import { fileURLToPath } from "node:url";
import { nestsDeeperThan } from "../../policy/json-depth.ts";
import { type Paths, pathForms, rawPath } from "../paths.ts";

/** How many strings of one call are looked at; a call with more is not knowable. */
const MAX_STRINGS = 512;

interface ArgumentString {
  /** Where it sits: `path`, `files[0]`, `opts.dir`. */
  at: string;
  /** The last key on the way (`path` for `opts.path`), "" inside arrays at the top. */
  key: string;
  value: string;
}

/** Every string in the arguments (keys too: a server may read a path from a key), at most MAX_STRINGS. */
export function argumentStrings(args: Record<string, unknown>): {
  strings: ArgumentString[];
  complete: boolean;
} {
  const strings: ArgumentString[] = [];
  const stack: Array<[unknown, string, string]> = [[args, "", ""]];
  while (stack.length > 0) {
    const [value, at, key] = stack.pop() as [unknown, string, string];
    if (strings.length >= MAX_STRINGS) return { strings, complete: false };
    if (typeof value === "string") {
      strings.push({ at, key, value });
      // JSON inside a string is read by many servers: its strings count too.
      const inner = embeddedJson(value);
      if (inner !== undefined) stack.push([inner, `${at} (json)`, key]);
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) stack.push([v, `${at}[${i}]`, key]);
    } else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        const where = at ? `${at}.${k}` : k;
        strings.push({ at: `${where} (key)`, key: k, value: k });
        stack.push([v, where, k]);
      }
    } else if (value !== undefined && value !== null) {
      strings.push({ at, key, value: String(value) });
    }
  }
  return { strings, complete: true };
}

function embeddedJson(value: string): unknown {
  if (!/^\s*[[{]/.test(value)) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return nestsDeeperThan(parsed) ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/** Text as content rules compare it: NFKC, lower case, SQL comments and runs of space as one space. */
export function normalizeContent(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\/\*[\s\S]*?(\*\/|$)/g, " ")
    .replace(/--[^\n]*/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$/i;
/** A host name with a port or path after it (`pastebin.com/raw/x`): a server may add the scheme. */
const HOST_THEN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?[/?#]/i;
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Does a string, by its form, name a file (so an allow must cover it)? */
function looksLikePath(value: string, key: string): boolean {
  if (/^(\/|~(\/|$)|\.\.?(\/|$)|file:)/i.test(value)) return true;
  return (
    /path|file|dir|folder|root|cwd|source|src|dest|target|location/i.test(key) && !URL_SCHEME.test(value)
  );
}

function filePath(paths: Paths, value: string): string | null {
  if (/^file:/i.test(value)) {
    try {
      return fileURLToPath(value);
    } catch {
      // file://HOST/p names no local file for Node; a server may still open /p.
      try {
        return decodeURIComponent(new URL(value).pathname);
      } catch {
        return null;
      }
    }
  }
  return URL_SCHEME.test(value) ? null : rawPath(paths, value);
}

/**
 * The ways a server may read a string as a path: as written, trimmed, percent-decoded, with
 * `$HOME` expanded. A hard stop looks at all of them; an allow only at plain paths.
 */
function pathSpellings(value: string, home: string): string[] {
  const out = new Set([value, value.trim()]);
  try {
    out.add(decodeURIComponent(value).trim());
  } catch {}
  for (const v of [...out]) out.add(v.replace(/\$\{HOME\}|\$HOME\b/g, home));
  return [...out].filter((v) => v !== "");
}

/** A path an allow can vouch for: no expansions, escapes or control characters a server may act on. */
function plainPath(value: string): boolean {
  return !/[$%`\\\p{Cc}]|^\s|\s$|.~/u.test(value);
}

function webUrl(value: string): string | null {
  if (!/^https?:\/\//i.test(value)) return null;
  try {
    return new URL(value).href;
  } catch {
    return null;
  }
}

export interface NamedTargets {
  /** Every path a string may name, as the kernel would be handed it (the path facts' keys). */
  keys: string[];
  /** Every absolute path a string may name, in every form (as written, resolved, other names). */
  paths: string[];
  /** The keys an allow must cover: strings that by form or key are paths. */
  namedPaths: string[];
  /** http(s) URLs, and `https://HOST/` for strings that are host names. */
  urls: string[];
  /** URLs written as URLs (an allow must cover them); bare host names are not in here. */
  namedUrls: string[];
  /** Named paths that are not plain (`$HOME/x`, `%2e%2e`, ` x`): no allow can cover them. */
  unplain: string[];
  /** Fewer than all strings were looked at. */
  complete: boolean;
}

const targetCache = new WeakMap<object, { key: string; real: Paths["real"]; targets: NamedTargets }>();

/** The paths, URLs and hosts an MCP call's arguments may name (worked out once per call and context). */
export function namedTargets(args: Record<string, unknown>, paths: Paths): NamedTargets {
  const key = `${paths.cwd}\0${paths.workdir}\0${paths.home}`;
  const cached = targetCache.get(args);
  if (cached && cached.key === key && cached.real === paths.real) return cached.targets;
  const targets = findTargets(args, paths);
  targetCache.set(args, { key, real: paths.real, targets });
  return targets;
}

function findTargets(args: Record<string, unknown>, paths: Paths): NamedTargets {
  const { strings, complete } = argumentStrings(args);
  const out: NamedTargets = {
    keys: [],
    paths: [],
    namedPaths: [],
    urls: [],
    namedUrls: [],
    unplain: [],
    complete,
  };
  for (const { key, value, at } of strings) {
    const isKey = at.endsWith(" (key)");
    const url = webUrl(value);
    if (url) {
      out.urls.push(url);
      if (!isKey) out.namedUrls.push(url);
      continue;
    }
    if (HOST.test(value)) out.urls.push(`https://${value.replace(/\.$/, "")}/`);
    else if (HOST_THEN.test(value)) out.urls.push(`https://${value}`);
    const named = !isKey && looksLikePath(value, key);
    if (named && !plainPath(value)) out.unplain.push(value);
    for (const spelling of pathSpellings(value, paths.home)) {
      const key = filePath(paths, spelling);
      if (!key) continue;
      out.keys.push(key);
      out.paths.push(...pathForms(paths, key));
      if (named) out.namedPaths.push(key);
    }
  }
  return out;
}
