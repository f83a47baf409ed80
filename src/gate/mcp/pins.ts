// Tool descriptions pinned by hash on first listing: a changed description (a "rug pull") is caught.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stableJson } from "../../policy/canonical.ts";

export interface ListedTool {
  name: string;
  description?: string | undefined;
  inputSchema?: unknown;
}

export function toolHash(tool: ListedTool): string {
  const pinned = {
    name: tool.name,
    description: tool.description ?? "",
    inputSchema: tool.inputSchema ?? null,
  };
  return `sha256:${createHash("sha256").update(stableJson(pinned)).digest("hex")}`;
}

export type PinStatus = "new" | "same" | "changed";

/** Pins per server: `{server: {tool: hash}}` in one JSON file. */
export class PinStore {
  constructor(private readonly file: string) {}

  private read(): Record<string, Record<string, string>> {
    try {
      return JSON.parse(readFileSync(this.file, "utf8")) as Record<string, Record<string, string>>;
    } catch {
      return {};
    }
  }

  /** Compares each listed tool with its pin; pins tools seen for the first time. */
  check(server: string, tools: ListedTool[]): Map<string, PinStatus> {
    const all = this.read();
    const pins = all[server] ?? {};
    const out = new Map<string, PinStatus>();
    let added = false;
    for (const tool of tools) {
      const hash = toolHash(tool);
      const pinned = pins[tool.name];
      if (pinned === undefined) {
        pins[tool.name] = hash;
        added = true;
        out.set(tool.name, "new");
      } else out.set(tool.name, pinned === hash ? "same" : "changed");
    }
    if (added) {
      all[server] = pins;
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
    }
    return out;
  }
}
