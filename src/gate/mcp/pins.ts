// Tool pins: a hash of every field a listed tool shows the client (name, title, description,
// schemas, annotations, _meta...), kept per server in one JSON file under $AIRLOCK_HOME. A
// changed tool is a "rug pull". The store fails closed: a file it cannot read or parse, or
// cannot write, is an error with the reason, never an empty store that re-pins everything.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { stableJson } from "../../policy/canonical.ts";
import { writeAtomically } from "../../protocol/atomic-write.ts";
import { withLock } from "../receipt-store.ts";

/** A tool as listed: whatever fields the server sent, all of them pinned. */
export type ListedTool = { name: string } & Record<string, unknown>;

export interface ToolPin {
  /** Over the whole tool object. */
  hash: string;
  /** Per field, to say what changed. */
  fields: Record<string, string>;
}

const sha = (value: unknown) =>
  `sha256:${createHash("sha256")
    .update(stableJson(value ?? null))
    .digest("hex")}`;

export function pinOf(tool: ListedTool): ToolPin {
  return {
    hash: sha(tool),
    fields: Object.fromEntries(Object.keys(tool).map((k) => [k, sha(tool[k])])),
  };
}

/** The fields whose value differs from the pin (added and removed fields included). */
export function changedFields(pin: ToolPin, now: ToolPin): string[] {
  const keys = new Set([...Object.keys(pin.fields), ...Object.keys(now.fields)]);
  return [...keys].filter((k) => pin.fields[k] !== now.fields[k]).sort();
}

export type PinStatus =
  | { status: "same" }
  | { status: "new"; pinned: boolean }
  | { status: "changed"; fields: string[] };

export class PinStoreError extends Error {}

interface PinFile {
  v: 1;
  servers: Record<string, Record<string, ToolPin>>;
}

function isPin(value: unknown): value is ToolPin {
  const p = value as ToolPin;
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.hash === "string" &&
    typeof p.fields === "object" &&
    p.fields !== null &&
    !Array.isArray(p.fields) &&
    Object.values(p.fields).every((h) => typeof h === "string")
  );
}

/** The pin file's content checked shape by shape: anything else is refused with where it broke. */
export function parsePinFile(text: string, file: string): PinFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinStoreError(`${file} is not JSON (${(error as Error).message}); the pins cannot be checked`);
  }
  const v = value as PinFile;
  if (
    typeof v !== "object" ||
    v === null ||
    v.v !== 1 ||
    typeof v.servers !== "object" ||
    v.servers === null ||
    Array.isArray(v.servers)
  )
    throw new PinStoreError(`${file} is not a pin file (expected {"v":1,"servers":{...}})`);
  for (const [server, tools] of Object.entries(v.servers)) {
    if (typeof tools !== "object" || tools === null || Array.isArray(tools))
      throw new PinStoreError(`${file}: servers.${server} is not an object`);
    for (const [tool, pin] of Object.entries(tools))
      if (!isPin(pin)) throw new PinStoreError(`${file}: servers.${server}.${tool} is not a pin`);
  }
  return v;
}

export class PinStore {
  constructor(readonly file: string) {}

  private read(): PinFile {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { v: 1, servers: {} };
      throw new PinStoreError(`cannot read ${this.file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    return parsePinFile(text, this.file);
  }

  /**
   * Compares listed tools with their pins, under the store's lock. Tools without a pin are
   * pinned when `pinNew` (first listing of a session), else reported and left unpinned.
   */
  check(server: string, tools: ListedTool[], pinNew: boolean): Map<string, PinStatus> {
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      return withLock(this.file, () => this.checkLocked(server, tools, pinNew));
    } catch (error) {
      if (error instanceof PinStoreError) throw error;
      throw new PinStoreError(`pin store ${this.file}: ${(error as Error).message}`);
    }
  }

  private checkLocked(server: string, tools: ListedTool[], pinNew: boolean): Map<string, PinStatus> {
    const all = this.read();
    const pins = { ...(all.servers[server] ?? {}) };
    const out = new Map<string, PinStatus>();
    const seen = new Map<string, string>();
    let added = false;
    for (const tool of tools) {
      const now = pinOf(tool);
      // Two entries under one name, differing: whichever the client keeps, one is unpinned.
      const twin = seen.get(tool.name);
      seen.set(tool.name, now.hash);
      if (twin !== undefined && twin !== now.hash) {
        out.set(tool.name, { status: "changed", fields: ["(listed twice, differently)"] });
        continue;
      }
      const pin = pins[tool.name];
      if (!pin) {
        if (pinNew) {
          pins[tool.name] = now;
          added = true;
        }
        out.set(tool.name, { status: "new", pinned: pinNew });
      } else if (pin.hash === now.hash) out.set(tool.name, { status: "same" });
      else out.set(tool.name, { status: "changed", fields: changedFields(pin, now) });
    }
    if (added) {
      all.servers[server] = pins;
      writeAtomically(this.file, `${JSON.stringify(all, null, 2)}\n`);
    }
    return out;
  }
}
