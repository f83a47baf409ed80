// Agent state files the policy makes writable that also hold commands: Claude Code keeps its state
// in ~/.claude.json, and the MCP servers it starts (user scope, and per project) in the same file.
// The agent must write the file, so it cannot be read-only; instead the entries that hold commands
// are compared with the start at the end of a run and put back as they were (or kept, with the
// policy's `host_run_files: keep`), the rest of the file untouched.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { within } from "./mounts.ts";

/** Relative to the user's home: the file, and the key whose values are commands. */
const COMMAND_KEYS: ReadonlyArray<{ path: string; key: string; tool: string }> = [
  { path: ".claude.json", key: "mcpServers", tool: "Claude Code" },
];

const MAX_DEPTH = 6;

export interface CommandKeySnapshot {
  file: string;
  key: string;
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

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The command entries of the files listed as writable (a file, or inside a writable directory). */
export function snapshotCommandKeys(home: string, writable: readonly string[]): CommandKeySnapshot[] {
  const out: CommandKeySnapshot[] = [];
  for (const { path, key, tool } of COMMAND_KEYS) {
    const file = join(home, path);
    if (!writable.some((w) => within(file, w))) continue;
    let entries = new Map<string, string>();
    try {
      entries = commandEntries(readJson(file), key);
    } catch {
      // absent or not JSON at start: every entry found at the end is new
    }
    out.push({ file, key, tool, entries });
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
    const now = commandEntries(doc, snap.key);
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
        const tmp = `${snap.file}.airlock-restore-${process.pid}`;
        writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
        renameSync(tmp, snap.file);
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
