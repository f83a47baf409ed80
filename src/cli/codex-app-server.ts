// Codex's own view of its hooks, and its own writes of hook trust, through `codex app-server`
// (JSON-RPC over stdio): `hooks/list` gives each hook's key and the hash Codex computes for it,
// `config/batchWrite` records `hooks.state."<key>".trusted_hash` the way Codex's /hooks does.
// Asking the installed Codex keeps the hash exactly Codex's, whatever its version does.
import { spawn } from "node:child_process";

export interface CodexHook {
  key: string;
  eventName: string;
  command: string | null;
  matcher: string | null;
  timeoutSec: number;
  sourcePath: string;
  source: string;
  enabled: boolean;
  currentHash: string;
  trustStatus: "trusted" | "untrusted" | "modified" | "managed" | string;
}

export interface CodexHookList {
  hooks: CodexHook[];
  warnings: string[];
  errors: unknown[];
}

export class CodexAppServer {
  private nextId = 1;
  private buffer = "";
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly child;
  private stderr = "";

  constructor(codex: string, env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(codex, ["app-server"], { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (chunk: Buffer) => this.onData(chunk.toString("utf8")));
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4000);
    });
    const fail = (why: string) => {
      for (const p of this.pending.values())
        p.reject(new Error(`codex app-server ${why}: ${this.stderr.trim()}`));
      this.pending.clear();
    };
    this.child.on("error", (e) => fail(`could not start (${e.message})`));
    this.child.on("exit", (code) => fail(`exited (${code})`));
  }

  static async open(codex: string, env: NodeJS.ProcessEnv, cwd: string): Promise<CodexAppServer> {
    const server = new CodexAppServer(codex, env, cwd);
    await server.call("initialize", { clientInfo: { name: "airlock", version: "0.1.0" } });
    server.notify("initialized");
    return server;
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl = this.buffer.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      nl = this.buffer.indexOf("\n");
      let msg: { id?: number; result?: unknown; error?: { message?: string } };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof msg.id !== "number") continue;
      const p = this.pending.get(msg.id);
      if (!p) continue;
      this.pending.delete(msg.id);
      if (msg.error)
        p.reject(new Error(`codex app-server: ${msg.error.message ?? JSON.stringify(msg.error)}`));
      else p.resolve(msg.result);
    }
  }

  private notify(method: string): void {
    this.child.stdin.write(`${JSON.stringify({ method })}\n`);
  }

  call<T>(method: string, params: unknown, timeoutMs = 20_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`codex app-server: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  async listHooks(cwd: string): Promise<CodexHookList> {
    const result = await this.call<{ data: Array<CodexHookList & { cwd: string }> }>("hooks/list", {
      cwds: [cwd],
    });
    const entry = result.data[0];
    return { hooks: entry?.hooks ?? [], warnings: entry?.warnings ?? [], errors: entry?.errors ?? [] };
  }

  /** Records Codex's own hash of each hook as trusted, in the user's config.toml (by Codex). */
  async trust(hooks: CodexHook[]): Promise<string | null> {
    if (hooks.length === 0) return null;
    const result = await this.call<{ filePath?: string }>("config/batchWrite", {
      edits: hooks.map((h) => ({
        keyPath: `hooks.state.${JSON.stringify(h.key)}.trusted_hash`,
        value: h.currentHash,
        mergeStrategy: "upsert",
      })),
    });
    return result.filePath ?? null;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill("SIGTERM");
  }
}
