// Tool pins: a hash of every field a listed tool shows the client (name, title, description,
// schemas, annotations, _meta...), kept per server in one JSON file under $AIRLOCK_HOME. A
// changed tool is a "rug pull": the store keeps what it changed into as a pending change, for
// the developer to review (old against new) and accept or refuse (`airlock gate mcp`); nothing
// else re-pins a tool. The store fails closed: a file it cannot read or parse, or cannot write,
// is an error with the reason, never an empty store that re-pins everything.
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
  /** The definition as pinned, for review (absent: pinned by an older Airlock, or too large). */
  tool?: ListedTool;
  /** Changed definitions the developer refused: seen again, they are withheld without a new review. */
  refused?: string[];
}

/** What a pinned tool changed into, waiting for the developer. */
export interface PinChange {
  /** The new definition's pin (its hash is what accepting names). */
  pin: ToolPin;
  fields: string[];
  /** When the proxy first saw this definition. */
  seen_at: string;
}

/**
 * Definitions are kept for review only up to this size each, and this much per server in all:
 * a server may list thousands of tools of any size, and the pin file must stay small.
 */
const MAX_KEPT_TOOL_BYTES = 64 * 1024;
const MAX_KEPT_SERVER_BYTES = 1024 * 1024;
/** Refused hashes remembered per tool. */
const MAX_REFUSED = 20;

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

/** What a server's kept definitions may still take (bytes of their JSON). */
interface KeptBudget {
  left: number;
}

function keptBudget(all: PinFile, server: string): KeptBudget {
  const kept = [
    ...Object.values(entry(all.servers, server) ?? {}),
    ...Object.values(entry(all.changes, server) ?? {}).map((c) => c.pin),
  ];
  const used = kept.reduce((sum, p) => sum + (p.tool ? stableJson(p.tool).length : 0), 0);
  return { left: MAX_KEPT_SERVER_BYTES - used };
}

/** The pin as stored: with the definition, when it is small enough and the server's budget allows. */
function keptPin(tool: ListedTool, budget: KeptBudget): ToolPin {
  const pin = pinOf(tool);
  const size = stableJson(tool).length;
  if (size > MAX_KEPT_TOOL_BYTES || size > budget.left) return pin;
  budget.left -= size;
  return { ...pin, tool };
}

/** The fields whose value differs from the pin (added and removed fields included). */
export function changedFields(pin: ToolPin, now: ToolPin): string[] {
  const keys = new Set([...Object.keys(pin.fields), ...Object.keys(now.fields)]);
  return [...keys].filter((k) => pin.fields[k] !== now.fields[k]).sort();
}

export type PinStatus =
  | { status: "same" }
  | { status: "new"; pinned: boolean }
  | { status: "changed"; fields: string[]; refused?: boolean };

export class PinStoreError extends Error {}

interface PinFile {
  v: 1;
  servers: Record<string, Record<string, ToolPin>>;
  /** Pending changes per server and tool (absent in files written before reviews existed). */
  changes?: Record<string, Record<string, PinChange>>;
}

/** An entry named by a server or a tool: own properties only (a tool may be called `__proto__`). */
function entry<T>(map: Record<string, T> | undefined, key: string): T | undefined {
  return map && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A copy of a map keyed by names a server chose, with no prototype to write through. */
function table<T>(from: Record<string, T> | undefined): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from ?? {});
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function isPin(value: unknown): value is ToolPin {
  const p = value as ToolPin;
  return (
    isObject(p) &&
    typeof p.hash === "string" &&
    isObject(p.fields) &&
    Object.values(p.fields).every((h) => typeof h === "string") &&
    (p.tool === undefined || (isObject(p.tool) && typeof p.tool.name === "string")) &&
    (p.refused === undefined || (Array.isArray(p.refused) && p.refused.every((h) => typeof h === "string")))
  );
}

function isChange(value: unknown): value is PinChange {
  const c = value as PinChange;
  return (
    isObject(c) &&
    isPin(c.pin) &&
    Array.isArray(c.fields) &&
    c.fields.every((f) => typeof f === "string") &&
    typeof c.seen_at === "string"
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
    if (!isObject(tools)) throw new PinStoreError(`${file}: servers.${server} is not an object`);
    for (const [tool, pin] of Object.entries(tools))
      if (!isPin(pin)) throw new PinStoreError(`${file}: servers.${server}.${tool} is not a pin`);
  }
  if (v.changes !== undefined && !isObject(v.changes))
    throw new PinStoreError(`${file}: changes is not an object`);
  for (const [server, tools] of Object.entries(v.changes ?? {})) {
    if (!isObject(tools)) throw new PinStoreError(`${file}: changes.${server} is not an object`);
    for (const [tool, change] of Object.entries(tools))
      if (!isChange(change))
        throw new PinStoreError(`${file}: changes.${server}.${tool} is not a pin change`);
  }
  return v;
}

/** A pending change under review: the pin it would replace and what it would become. */
export interface PinReview {
  server: string;
  tool: string;
  pinned: ToolPin;
  change: PinChange;
}

/** The developer's answer to a change (`airlock gate mcp accept|refuse`). */
export interface PinAnswer {
  server: string;
  tool: string;
  /** The hash of the change reviewed: a change that moved on since is not answered. */
  hash: string;
  accept: boolean;
  /** Runs under the store's lock before anything is written (the receipt); a throw writes nothing. */
  record: (review: PinReview) => void;
}

export class PinStore {
  constructor(
    readonly file: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

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
    return this.locked(() => this.checkLocked(server, tools, pinNew));
  }

  /** Every pending change, server by server. */
  reviews(): PinReview[] {
    const all = this.locked(() => this.read());
    return Object.entries(all.changes ?? {}).flatMap(([server, tools]) =>
      Object.entries(tools).flatMap(([tool, change]) => {
        const pinned = entry(entry(all.servers, server), tool);
        return pinned ? [{ server, tool, pinned, change }] : [];
      }),
    );
  }

  /**
   * Accepts (the tool is pinned as it is now) or refuses (the old pin stays; this definition is
   * withheld without another review) one pending change, after `answer.record` has succeeded.
   */
  answer(answer: PinAnswer): PinReview {
    return this.locked(() => {
      const all = this.read();
      const change = entry(entry(all.changes, answer.server), answer.tool);
      const pinned = entry(entry(all.servers, answer.server), answer.tool);
      const name = `${answer.server}/${answer.tool}`;
      if (!change || !pinned) throw new PinStoreError(`no pending change of ${name} in ${this.file}`);
      if (change.pin.hash !== answer.hash)
        throw new PinStoreError(
          `${name} changed again since ${answer.hash} was shown (now ${change.pin.hash}); review it again`,
        );
      const review = { server: answer.server, tool: answer.tool, pinned, change };
      try {
        answer.record(review);
      } catch (error) {
        throw new PinStoreError(
          `nothing changed: the answer could not be recorded (${(error as Error).message})`,
        );
      }
      const servers = table(entry(all.servers, answer.server));
      servers[answer.tool] = answer.accept
        ? change.pin
        : { ...pinned, refused: [...(pinned.refused ?? []), change.pin.hash].slice(-MAX_REFUSED) };
      all.servers[answer.server] = servers;
      const pending = table(entry(all.changes, answer.server));
      delete pending[answer.tool];
      if (all.changes) all.changes[answer.server] = pending;
      this.write(all);
      return review;
    });
  }

  private locked<T>(fn: () => T): T {
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      return withLock(this.file, fn);
    } catch (error) {
      if (error instanceof PinStoreError) throw error;
      throw new PinStoreError(`pin store ${this.file}: ${(error as Error).message}`);
    }
  }

  private write(all: PinFile): void {
    for (const [server, tools] of Object.entries(all.changes ?? {}))
      if (Object.keys(tools).length === 0) delete all.changes?.[server];
    if (all.changes && Object.keys(all.changes).length === 0) delete all.changes;
    writeAtomically(this.file, `${JSON.stringify(all, null, 2)}\n`);
  }

  /** Keeps what a pinned tool changed into for review; true when the file must be written. */
  private noteChange(
    all: PinFile,
    server: string,
    tool: ListedTool,
    fields: string[],
    budget: KeptBudget,
  ): boolean {
    if (!all.changes) all.changes = {};
    const tools = table(entry(all.changes, server));
    all.changes[server] = tools;
    if (entry(tools, tool.name)?.pin.hash === pinOf(tool).hash) return false;
    tools[tool.name] = { pin: keptPin(tool, budget), fields, seen_at: this.clock().toISOString() };
    return true;
  }

  private checkLocked(server: string, tools: ListedTool[], pinNew: boolean): Map<string, PinStatus> {
    const all = this.read();
    const pins = table(entry(all.servers, server));
    const out = new Map<string, PinStatus>();
    const seen = new Map<string, string>();
    let added = false;
    let noted = false;
    const budget = keptBudget(all, server);
    for (const tool of tools) {
      const now = pinOf(tool);
      // Two entries under one name, differing: whichever the client keeps, one is unpinned.
      const twin = seen.get(tool.name);
      seen.set(tool.name, now.hash);
      if (twin !== undefined && twin !== now.hash) {
        out.set(tool.name, { status: "changed", fields: ["(listed twice, differently)"] });
        continue;
      }
      const pin = entry(pins, tool.name);
      if (!pin) {
        if (pinNew) {
          pins[tool.name] = keptPin(tool, budget);
          added = true;
        }
        out.set(tool.name, { status: "new", pinned: pinNew });
      } else if (pin.hash === now.hash) out.set(tool.name, { status: "same" });
      else if (pin.refused?.includes(now.hash))
        out.set(tool.name, { status: "changed", fields: changedFields(pin, now), refused: true });
      else {
        const fields = changedFields(pin, now);
        noted = this.noteChange(all, server, tool, fields, budget) || noted;
        out.set(tool.name, { status: "changed", fields });
      }
    }
    if (added) all.servers[server] = pins;
    if (added || noted) this.write(all);
    return out;
  }
}
