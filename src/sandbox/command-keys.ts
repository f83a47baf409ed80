// Agent state files the policy makes writable that also hold what the agent obeys: Claude Code
// keeps its state in ~/.claude.json, and in the same file the MCP servers it starts (user scope,
// and per project), the environment it gives every process it starts (`env`: BASH_ENV,
// NODE_OPTIONS, ANTHROPIC_BASE_URL...), the command it runs for an API key, and which folders and
// servers it trusts. The agent must write the file, so it cannot be read-only; instead those
// entries are compared with the start at the end of a run and put back as they were (or kept,
// with the policy's `host_run_files: keep`), the rest of the file untouched.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../protocol/atomic-write.ts";
import { within } from "./mounts.ts";

interface ObeyedEntries {
  /** Relative to the user's home. */
  path: string;
  tool: string;
  /** An object whose every entry is a command (at any depth). */
  key: string;
  /** Settings obeyed at the top level: Claude Code's configuration keys (`claude config`) that
   * run a program, set its environment, send data out, connect it or grant trust. */
  global: readonly string[];
  /** The same, per project (`projects.<path>.<name>`). */
  project: readonly string[];
}

const OBEYED: readonly ObeyedEntries[] = [
  {
    path: ".claude.json",
    tool: "Claude Code",
    key: "mcpServers",
    global: [
      "env",
      "apiKeyHelper",
      "customApiKeyResponses",
      "autoUploadSessions",
      "remoteControlAtStartup",
      "autoAddRemoteControlDaemonWorker",
      "autoConnectIde",
      "autoInstallIdeExtension",
      "bypassPermissionsModeAccepted",
    ],
    project: [
      "allowedTools",
      "hasTrustDialogAccepted",
      "enabledMcpjsonServers",
      "disabledMcpjsonServers",
      "enableAllProjectMcpServers",
      "hasClaudeMdExternalIncludesApproved",
      "mcpContextUris",
    ],
  },
];

const MAX_DEPTH = 6;

export interface CommandKeySnapshot {
  file: string;
  spec: ObeyedEntries;
  tool: string;
  /** JSON path (segments as a JSON array) of each entry under `key` → its JSON text. */
  entries: Map<string, string>;
}

/** Every entry under an object named `key`, at any depth up to MAX_DEPTH. Pure. */
export function commandEntries(value: unknown, key: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: unknown, path: string[], depth: number) => {
    if (node === null || typeof node !== "object" || Array.isArray(node) || depth > MAX_DEPTH) return;
    for (const [name, child] of Object.entries(node)) {
      if (name === key && child !== null && typeof child === "object" && !Array.isArray(child)) {
        for (const [entry, body] of Object.entries(child))
          out.set(JSON.stringify([...path, name, entry]), JSON.stringify(body));
      } else walk(child, [...path, name], depth + 1);
    }
  };
  walk(value, [], 0);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The obeyed settings present in the document, top level and per project. Pure. */
function settingEntries(
  value: unknown,
  spec: Pick<ObeyedEntries, "global" | "project">,
): Map<string, string> {
  const out = new Map<string, string>();
  if (!isObject(value)) return out;
  for (const name of spec.global)
    if (Object.hasOwn(value, name)) out.set(JSON.stringify([name]), JSON.stringify(value[name]));
  const projects = value["projects"];
  if (isObject(projects))
    for (const [dir, project] of Object.entries(projects)) {
      if (!isObject(project)) continue;
      for (const name of spec.project)
        if (Object.hasOwn(project, name))
          out.set(JSON.stringify(["projects", dir, name]), JSON.stringify(project[name]));
    }
  return out;
}

const obeyedEntries = (doc: unknown, spec: ObeyedEntries) =>
  new Map([...commandEntries(doc, spec.key), ...settingEntries(doc, spec)]);

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The obeyed entries of the files listed as writable (a file, or inside a writable directory). */
export function snapshotCommandKeys(home: string, writable: readonly string[]): CommandKeySnapshot[] {
  const out: CommandKeySnapshot[] = [];
  for (const spec of OBEYED) {
    const file = join(home, spec.path);
    if (!writable.some((w) => within(file, w))) continue;
    let entries = new Map<string, string>();
    try {
      entries = obeyedEntries(readJson(file), spec);
    } catch {
      // absent or not JSON at start: every entry found at the end is new
    }
    out.push({ file, spec, tool: spec.tool, entries });
  }
  return out;
}

export interface CommandKeyChange {
  file: string;
  /** The entry, as `mcpServers.x` or `projects./w.mcpServers.x`. */
  entry: string;
  tool: string;
  change: "created" | "changed";
  restored: boolean;
  error?: string;
}

/** Compares with the start; with `restore`, puts each changed entry back (a new one is removed). */
export function reviewCommandKeys(
  snaps: readonly CommandKeySnapshot[],
  restore: boolean,
): CommandKeyChange[] {
  const changes: CommandKeyChange[] = [];
  for (const snap of snaps) {
    let doc: unknown;
    try {
      doc = readJson(snap.file);
    } catch {
      continue; // gone or unreadable: nothing a host tool would load from it
    }
    const now = obeyedEntries(doc, snap.spec);
    const found: Array<{ pointer: string[]; before: string | undefined }> = [];
    for (const [pointer, body] of now) {
      const before = snap.entries.get(pointer);
      if (before !== body) found.push({ pointer: JSON.parse(pointer) as string[], before });
    }
    let error: string | undefined;
    if (restore && found.length > 0) {
      for (const { pointer, before } of found) {
        const holder = pointer
          .slice(0, -1)
          .reduce<Record<string, unknown>>(
            (node, name) => node[name] as Record<string, unknown>,
            doc as Record<string, unknown>,
          );
        const name = pointer[pointer.length - 1] as string;
        if (before === undefined) delete holder[name];
        else holder[name] = JSON.parse(before);
      }
      try {
        writeAtomically(snap.file, `${JSON.stringify(doc, null, 2)}\n`);
      } catch (e) {
        error = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      }
    }
    for (const { pointer, before } of found) {
      changes.push({
        file: snap.file,
        entry: pointer.join("."),
        tool: snap.tool,
        change: before === undefined ? "created" : "changed",
        restored: restore && error === undefined,
        ...(error ? { error } : {}),
      });
    }
  }
  return changes;
}
