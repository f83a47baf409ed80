// YAML → validated values, with every problem located as file:line:col and a key path. A policy
// has one entry point per input kind, each returning `Loaded<Policy>`: YAML text (loadPolicyText),
// a document already read (loadPolicySource), an already parsed value (loadPolicyValue); a file
// is read by file.ts, the folder's one edge, then given to loadPolicyText.
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
// zod/mini, as schema.ts; its functional safeParse takes classic schemas (the gate's) as well.
import { type core, safeParse } from "zod/mini";
import { matchesEveryBinary } from "./engine.ts";
import { type Policy, PolicySchema } from "./schema.ts";

export interface Problem {
  file: string;
  /** 0 when the problem has no position: an unreadable file, a value that was never text. */
  line: number;
  col: number;
  path: string;
  message: string;
}

export type Loaded<T> =
  | { ok: true; value: T; warnings: Problem[] }
  | { ok: false; errors: Problem[]; warnings: Problem[] };

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** What a command prints when a file does not load: every problem on its line, then the count. */
export function formatLoadErrors(errors: readonly Problem[], where: string): string {
  const n = errors.length;
  return `${errors.map(formatProblem).join("\n")}\n${n} error${n === 1 ? "" : "s"} in ${where}`;
}

/** Problems of a value as one line (an API error's detail): `path: message; ...`. */
export function formatProblemsInline(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path || "(root)"}: ${p.message}`).join("; ");
}

export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

export interface Located {
  doc: Document;
  lines: LineCounter;
  file: string;
}

type Position = { line: number; col: number };

/** Where problems are reported: positions in a document, or none for a value. */
interface Locator {
  file: string;
  /** The value at a key path (or the deepest ancestor that exists). */
  at(path: ReadonlyArray<PropertyKey>): Position;
  /** A key of the mapping at mapPath. */
  keyAt(mapPath: ReadonlyArray<PropertyKey>, key: string): Position;
}

function inDocument(src: Located): Locator {
  return {
    file: src.file,
    at: (path) => position(src, nodeAt(src, path).offset),
    keyAt: (mapPath, key) => position(src, keyOffset(src, mapPath, key)),
  };
}

function unplaced(file: string): Locator {
  const none = { line: 0, col: 0 };
  return { file, at: () => none, keyAt: () => none };
}

function position(src: Located, offset: number | undefined): Position {
  if (offset === undefined) return { line: 1, col: 1 };
  const { line, col } = src.lines.linePos(offset);
  return { line, col };
}

/**
 * Where a key path points: a scalar at its value, a block collection at its key (a collection
 * starts on the line after its key, and the key is where a reader looks), or the deepest
 * ancestor that exists.
 */
function nodeAt(src: Located, path: ReadonlyArray<PropertyKey>): { offset: number | undefined } {
  let node: unknown = src.doc.contents;
  let offset = isNode(node) ? node.range?.[0] : undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) return { offset };
      const keyStart = isNode(pair.key) ? pair.key.range?.[0] : undefined;
      node = pair.value;
      offset = isNode(node) && !isMap(node) && !isSeq(node) ? node.range?.[0] : (keyStart ?? offset);
    } else if (isSeq(node)) {
      node = node.items[Number(key)];
      if (!isNode(node)) return { offset };
      offset = node.range?.[0];
    } else return { offset };
  }
  return { offset };
}

function keyOffset(src: Located, mapPath: ReadonlyArray<PropertyKey>, key: string): number | undefined {
  const parent = mapPath.length === 0 ? src.doc.contents : src.doc.getIn(mapPath as unknown[], true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && isNode(pair.key)) return pair.key.range?.[0];
  }
  return nodeAt(src, mapPath).offset;
}

function describeIssue(issue: core.$ZodIssue): string {
  if (issue.code !== "custom" && "input" in issue && issue.input === undefined) return "is required";
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `expected ${issue.expected}, got ${issue.input === null ? "null" : Array.isArray(issue.input) ? "a list" : typeof issue.input === "object" ? "a mapping" : `${typeof issue.input} ${JSON.stringify(issue.input)}`}`;
    case "invalid_value":
      if (issue.message.startsWith("Invalid")) {
        return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(issue.input)}`;
      }
      return issue.message;
    default:
      return issue.message;
  }
}

function zodProblems(src: Locator, error: core.$ZodError): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push({
          file: src.file,
          ...src.keyAt(issue.path, key),
          path: formatKeyPath(path),
          message: `unknown key "${key}"`,
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      const key = String(issue.path[issue.path.length - 1]);
      const parent = issue.path.slice(0, -1);
      const message = issue.issues[0]?.message ?? "invalid key";
      out.push({
        file: src.file,
        ...src.keyAt(parent, key),
        path: formatKeyPath(issue.path),
        message,
      });
      continue;
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0 && !issue.message.startsWith("Invalid")) {
      out.push({
        file: src.file,
        ...src.at(issue.path),
        path: formatKeyPath(issue.path),
        message: issue.message,
      });
      continue;
    }
    out.push({
      file: src.file,
      ...src.at(issue.path),
      path: formatKeyPath(issue.path),
      message: describeIssue(issue),
    });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** A YAML document read once, so several schemas can check it without parsing it again. */
export interface YamlSource {
  located: Located;
  data: object;
  /** Problems that still leave a usable document (duplicate keys): reported with any others. */
  syntax: Problem[];
}

/** Reads YAML text strictly (duplicate keys are errors); the top level must be a mapping. */
export function readYaml(
  text: string,
  file: string,
): { ok: true; source: YamlSource } | { ok: false; errors: Problem[]; warnings: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    uniqueKeys: true,
    lineCounter: lines,
    prettyErrors: false,
    strict: true,
  });
  const located: Located = { doc, lines, file };
  const syntax = [...doc.errors].map((e) => ({
    file,
    ...position(located, e.pos[0]),
    path: "",
    message:
      e.code === "DUPLICATE_KEY"
        ? `duplicate key ${JSON.stringify(/^[^:\n]*/.exec(text.slice(e.pos[0]))?.[0]?.trim())}`
        : (e.message.split("\n")[0] ?? e.code),
  }));
  // Duplicate keys leave a usable document: keep validating so every problem is reported at once.
  if (doc.errors.some((e) => e.code !== "DUPLICATE_KEY")) return { ok: false, errors: syntax, warnings: [] };
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      errors: [{ file, line: 1, col: 1, path: "", message: "the file must be a YAML mapping (key: value)" }],
      warnings: [],
    };
  }
  return { ok: true, source: { located, data, syntax } };
}

/**
 * `__proto__` as a key: zod's records and objects drop it without a word (a rule of that name
 * would vanish and `policy check` say "ok, 0 rules"), so it is refused wherever it appears.
 */
function reservedKeyProblems(src: Locator, data: unknown): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<object>();
  const walk = (value: unknown, path: PropertyKey[]) => {
    if (value === null || typeof value !== "object" || seen.has(value)) return;
    seen.add(value);
    for (const key of Object.keys(value)) {
      const at = [...path, Array.isArray(value) ? Number(key) : key];
      if (key === "__proto__") {
        out.push({
          file: src.file,
          ...src.keyAt(path, key),
          path: formatKeyPath(at),
          message: `the key "__proto__" is not allowed`,
        });
      } else walk((value as Record<string, unknown>)[key], at);
    }
  };
  walk(data, []);
  return out;
}

/** A strict object reports `__proto__` as an unknown key too: one problem per key is enough. */
function withoutReserved(problems: Problem[], reserved: readonly Problem[]): Problem[] {
  return problems.filter((p) => !reserved.some((r) => r.path === p.path));
}

/** Validates a document read by readYaml against a schema, with positions for every problem. */
export function checkYaml<S extends core.$ZodType>(
  schema: S,
  source: YamlSource,
): Loaded<core.output<S>> & { located?: Located } {
  const result = safeParse(schema, source.data, { reportInput: true });
  const reserved = reservedKeyProblems(inDocument(source.located), source.data);
  if (!result.success || source.syntax.length > 0 || reserved.length > 0) {
    const schemaErrors = result.success
      ? []
      : withoutReserved(zodProblems(inDocument(source.located), result.error), reserved);
    return {
      ok: false,
      errors: [...source.syntax, ...reserved, ...schemaErrors].sort(
        (a, b) => a.line - b.line || a.col - b.col,
      ),
      warnings: [],
    };
  }
  return { ok: true, value: result.data, warnings: [], located: source.located };
}

/** Parses YAML text strictly (duplicate keys are errors) and validates it against a schema. */
export function parseYamlAgainst<S extends core.$ZodType>(
  schema: S,
  text: string,
  file: string,
): Loaded<core.output<S>> & { located?: Located } {
  const read = readYaml(text, file);
  return read.ok ? checkYaml(schema, read.source) : read;
}

function policyWarnings(src: Locator, policy: Policy): Problem[] {
  const warn = (path: PropertyKey[], message: string): Problem => ({
    file: src.file,
    ...src.at(path),
    path: formatKeyPath(path),
    message,
  });
  const out: Problem[] = [];
  if (policy.landlock !== undefined)
    out.push(
      warn(
        ["landlock"],
        "accepted for OpenShell compatibility but not enforced: Airlock confines the filesystem with bubblewrap mounts",
      ),
    );
  if (policy.network_middlewares !== undefined)
    out.push(
      warn(["network_middlewares"], "accepted for OpenShell compatibility but not enforced by Airlock"),
    );
  for (const [key, rule] of Object.entries(policy.network_policies)) {
    if (rule.binaries.length === 0)
      out.push(
        warn(
          ["network_policies", key],
          "lists no binaries, so it allows nothing (add binaries: [{path: ...}])",
        ),
      );
    for (const [i, binary] of rule.binaries.entries()) {
      if (matchesEveryBinary(binary.path))
        out.push(
          warn(
            ["network_policies", key, "binaries", i, "path"],
            `"${binary.path}" matches every binary, so this rule identifies no program; name the binaries that need it`,
          ),
        );
      if (binary.harness !== undefined)
        out.push(
          warn(["network_policies", key, "binaries", i, "harness"], "deprecated OpenShell flag; ignored"),
        );
    }
    for (const [i, ep] of rule.endpoints.entries()) {
      if (ep.protocol === "tcp")
        out.push(
          warn(
            ["network_policies", key, "endpoints", i, "protocol"],
            "OpenShell's plain TCP: loaded as an L4 endpoint (host:port by binary, through the proxy; transparent TCP is not supported yet)",
          ),
        );
      for (const field of [
        "websocket_credential_rewrite",
        "request_body_credential_rewrite",
        "allow_uninspected_credentials",
      ] as const) {
        if (ep[field])
          out.push(
            warn(
              ["network_policies", key, "endpoints", i, field],
              "Airlock injects no credentials; this switch has no effect",
            ),
          );
      }
    }
  }
  return out;
}

/** Loads a policy from YAML text. Pure: the caller reads the file. */
export function loadPolicyText(text: string, file = "<policy>"): Loaded<Policy> {
  const read = readYaml(text, file);
  return read.ok ? loadPolicySource(read.source) : read;
}

/** A policy from a document already read (a policy file that also holds a `gate:` section). */
export function loadPolicySource(source: YamlSource): Loaded<Policy> {
  const parsed = checkYaml(PolicySchema, source);
  if (!parsed.ok) return parsed;
  const warnings = parsed.located
    ? policyWarnings(inDocument(parsed.located), parsed.value).sort((a, b) => a.line - b.line)
    : [];
  return { ok: true, value: parsed.value, warnings };
}

/**
 * A policy given as a value (JSON from the wire, a merge, a proposal): the same checks and
 * warnings as a file's, each problem named by its key path (there is no position).
 */
export function loadPolicyValue(value: unknown): Loaded<Policy> {
  const src = unplaced("<value>");
  const result = safeParse(PolicySchema, value, { reportInput: true });
  const reserved = reservedKeyProblems(src, value);
  if (!result.success || reserved.length > 0)
    return {
      ok: false,
      errors: [
        ...reserved,
        ...(result.success ? [] : withoutReserved(zodProblems(src, result.error), reserved)),
      ],
      warnings: [],
    };
  return { ok: true, value: result.data, warnings: policyWarnings(src, result.data) };
}

/** The policy when none is given: no rules, so nothing leaves (`airlock run` without --policy). */
export function denyAllPolicy(): Policy {
  const loaded = loadPolicyValue({ version: 1 });
  if (!loaded.ok) throw new Error(`the built-in policy is invalid: ${formatProblemsInline(loaded.errors)}`);
  return loaded.value;
}
