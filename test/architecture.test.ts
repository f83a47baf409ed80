// The layering of docs/design.md §2.1, enforced: every import in src/ is read (static, type-only,
// re-exports, dynamic import() and require) and each arrow between parts must point inward.
// Across a layer or outward is a failure, as is a cycle between parts. The named exceptions of
// §2.2 would be listed file by file (there are none), and an exception nothing uses any more
// fails too, so the list only shrinks.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const SRC = resolve("src");

/** docs/design.md §2.1: a part may import its own files and any part of a lower layer. */
const LAYERS: Record<string, number> = {
  policy: 0,
  audit: 1,
  protocol: 1,
  proxy: 2,
  sandbox: 2,
  gateway: 3,
  supervisor: 3,
  gate: 3,
  demo: 4,
  cli: 5,
};

interface Exception {
  from: string;
  to: string;
  why: string;
}

/**
 * docs/design.md §2.2: arrows allowed against §2.1, one file-to-file import each, so a new
 * crossing fails. None today: the gateway's client, wire types, decider port, the agents' hook
 * format and the home layout live in src/protocol/, below every part that shares them.
 */
const EXCEPTIONS: Exception[] = [];

interface Edge {
  /** Paths relative to src/, with forward slashes. */
  from: string;
  to: string;
}

/** The part a file belongs to: its first folder under src/, or null for a file directly in src/. */
function partOf(file: string): string | null {
  const slash = file.indexOf("/");
  return slash < 0 ? null : file.slice(0, slash);
}

/** Every import arrow that breaks §2.1 and is not an exception, as readable lines. */
function layeringViolations(edges: readonly Edge[], exceptions: readonly Exception[]): string[] {
  const problems: string[] = [];
  for (const { from, to } of edges) {
    if (to.startsWith("../")) {
      problems.push(`${from} → ${to}: src/ imports nothing outside src/`);
      continue;
    }
    const a = partOf(from);
    const b = partOf(to);
    if (a === null) {
      // A file directly in src/ (package-root.ts) is a leaf every part may use.
      if (b !== null) problems.push(`${from} → ${to}: a file directly in src/ imports no part`);
      continue;
    }
    const la = LAYERS[a];
    if (la === undefined) {
      problems.push(`${from}: src/${a}/ is not a part of docs/design.md §2.1 (add it to a layer)`);
      continue;
    }
    if (b === null || a === b) continue;
    const lb = LAYERS[b];
    if (lb === undefined) continue; // reported for the files of that folder
    if (lb < la) continue;
    if (exceptions.some((e) => e.from === from && e.to === to)) continue;
    const how = lb === la ? "across a layer" : "outward";
    problems.push(`${from} → ${to}: ${a} (layer ${la}) imports ${b} (layer ${lb}), ${how}`);
  }
  return problems;
}

/** Cycles between parts, each as `a → b → a`. */
function partCycles(edges: readonly Edge[]): string[] {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const a = partOf(from);
    const b = partOf(to);
    if (a === null || b === null || a === b || to.startsWith("../")) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)?.add(b);
  }
  const cycles: string[] = [];
  const done = new Set<string>();
  const walk = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    if (at >= 0) {
      cycles.push([...path.slice(at), node].join(" → "));
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) walk(next, [...path, node]);
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) walk(node, []);
  return cycles;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|cts|mts|js|cjs|mjs)$/.test(e.name) ? [path] : [];
  });
}

const toSrc = (path: string) => relative(SRC, path).split(sep).join("/");

function importEdges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) => {
    const imports = ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles;
    return imports
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith("."))
      .map((spec) => ({ from: toSrc(file), to: toSrc(resolve(dirname(file), spec)) }));
  });
}

const edges = importEdges();

test("every import in src/ points inward (docs/design.md §2.1)", () => {
  assert.ok(edges.length > 300, `only ${edges.length} imports found: is the reader broken?`);
  assert.deepEqual(layeringViolations(edges, EXCEPTIONS), []);
});

test("no cycle between parts", () => {
  assert.deepEqual(partCycles(edges), []);
});

test("every named exception is still needed (the list only shrinks)", () => {
  const stale = EXCEPTIONS.filter((e) => !edges.some((x) => x.from === e.from && x.to === e.to));
  assert.deepEqual(stale, []);
  for (const e of EXCEPTIONS) assert.ok(e.why.length > 0, `${e.from} → ${e.to} says why`);
});

test("docs/design.md §2.1 and §2.2 show these layers and name every exception", () => {
  const design = readFileSync("docs/design.md", "utf8");
  const drawn = [...design.matchAll(/^layer (\d)\s+(.+)$/gm)].flatMap(([, layer, parts]) =>
    (parts ?? "")
      .trim()
      .split(/\s+/)
      .map((part) => `${part}:${layer}`),
  );
  const coded = Object.entries(LAYERS).map(([part, layer]) => `${part}:${layer}`);
  assert.deepEqual(drawn.sort(), coded.sort());
  const section = design.slice(design.indexOf("### 2.2"), design.indexOf("### 2.3"));
  for (const e of EXCEPTIONS) {
    assert.ok(section.includes(e.from), `§2.2 names ${e.from}`);
    assert.ok(section.includes(e.to), `§2.2 names ${e.to}`);
  }
});

test("the checker itself catches outward, across, unknown and cyclic arrows", () => {
  const bad: Edge[] = [
    { from: "policy/engine.ts", to: "proxy/deny.ts" },
    { from: "proxy/deny.ts", to: "sandbox/bwrap.ts" },
    { from: "gateway/api.ts", to: "gate/cascade.ts" },
    { from: "newpart/x.ts", to: "policy/engine.ts" },
    { from: "package-root.ts", to: "policy/engine.ts" },
    { from: "cli/main.ts", to: "../test/helpers.ts" },
  ];
  const found = layeringViolations(bad, []);
  assert.equal(found.length, bad.length, found.join("\n"));
  assert.match(found[0] ?? "", /outward/);
  assert.match(found[1] ?? "", /across a layer/);
  const port = [{ from: "gate/decider.ts", to: "gateway/asks.ts", why: "a port" }];
  assert.deepEqual(
    layeringViolations([{ from: "gate/decider.ts", to: "gateway/asks.ts" }], port),
    [],
    "an exception is honoured for exactly its file pair",
  );
  assert.equal(layeringViolations([{ from: "gate/runtime.ts", to: "gateway/asks.ts" }], port).length, 1);
  assert.match(
    layeringViolations([{ from: "protocol/client.ts", to: "audit/ocsf.ts" }], [])[0] ?? "",
    /across a layer/,
  );
  assert.deepEqual(
    partCycles([
      { from: "demo/demo.ts", to: "cli/rule.ts" },
      { from: "cli/demo.ts", to: "demo/demo.ts" },
    ]),
    ["cli → demo → cli"],
  );
});
