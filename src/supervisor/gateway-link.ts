// The supervisor's side of the gateway session (docs/design.md §6): register the sandbox, hold the
// watch stream, apply new revisions as they are pushed and report loaded/failed, follow settings,
// and when the gateway goes away keep the last loaded policy, reconnect with backoff, catch up.
import { EventEmitter } from "node:events";
import { policyHash } from "../policy/canonical.ts";
import { formatProblemsInline, loadPolicyValue } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import {
  GatewayClient,
  GatewayRequestError,
  GatewayUnavailableError,
  resolveClientOptions,
} from "../protocol/client.ts";
import type { GatewayEvent, Revision, Settings } from "../protocol/types.ts";

export type ApplyPolicy = (policy: Policy, version: number) => Promise<"loaded" | "failed">;

export interface LinkOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:7411 */
  gateway: string;
  /** Used once, to register; the link then acts only with its own sandbox token. */
  operatorToken: string;
  sandbox: string;
  /** The policy the sandbox started with (already enforced): registered as revision 1. */
  policy: Policy;
  /** Validate and swap atomically; the sandbox keeps its old policy on "failed". */
  applyPolicy: ApplyPolicy;
  backoff?: { initialMs?: number; maxMs?: number };
  log?: (line: string) => void;
  /** Also log connection progress (disconnects, retries); reloads and failures are always logged. */
  verbose?: boolean;
}

/**
 * Events: "connected", "disconnected" (error), "event" (GatewayEvent), "loaded" (version),
 * "settings" (Settings), "resync" (after every (re)connect's catch-up: re-check what you wait on).
 */
export class GatewayLink extends EventEmitter {
  connected = false;
  /** The revision the sandbox enforces now, once the gateway has told us its number. */
  loadedVersion: number | null = null;
  loadedHash: string;
  /** Last settings pushed by the gateway; null until the first connection. */
  settings: Settings | null = null;

  private token: string | null = null;
  private lastEventId: number | undefined;
  private stopped = false;
  private abort: AbortController | null = null;
  private tasks: Promise<void> = Promise.resolve();
  private unreported = new Map<number, { status: "loaded" | "failed"; detail?: string }>();
  private readonly opClient: GatewayClient;
  private loop: Promise<void> | null = null;
  private sleeping: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  constructor(private readonly opts: LinkOptions) {
    super();
    this.setMaxListeners(0);
    this.loadedHash = policyHash(opts.policy);
    this.opClient = new GatewayClient({ url: opts.gateway.replace(/\/+$/, ""), token: opts.operatorToken });
  }

  /** A link to the gateway named by AIRLOCK_GATEWAY / AIRLOCK_TOKEN or the $AIRLOCK_HOME files. */
  static fromEnv(
    opts: Omit<LinkOptions, "gateway" | "operatorToken">,
    env: NodeJS.ProcessEnv = process.env,
  ): GatewayLink {
    const { url, token } = resolveClientOptions(env);
    return new GatewayLink({ ...opts, gateway: url, operatorToken: token });
  }

  /** Starts the session in the background; resolves on the first successful connection. */
  start(): Promise<void> {
    const ready = this.connected
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.once("connected", () => resolve()));
    this.loop ??= this.run();
    return ready;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.resolve();
    }
    await this.loop;
    await this.tasks;
  }

  /** A client acting as this sandbox (its own token), for proposals and reports. */
  client(): GatewayClient {
    if (!this.token)
      throw new GatewayUnavailableError(this.opts.gateway, new Error("sandbox not registered yet"));
    return this.opClient.withToken(this.token);
  }

  get sandbox(): string {
    return this.opts.sandbox;
  }

  /** Resolves true once the loaded policy is at `version` or later; false on timeout/abort. */
  waitLoaded(version: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.loadedVersion !== null && this.loadedVersion >= version) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off("loaded", onLoaded);
        signal?.removeEventListener("abort", onAbort);
        resolve(ok);
      };
      const onLoaded = (v: number) => v >= version && done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.on("loaded", onLoaded);
      signal?.addEventListener("abort", onAbort);
    });
  }

  private log(line: string, progress = false): void {
    if (progress && !this.opts.verbose) return;
    this.opts.log?.(`gateway-link[${this.opts.sandbox}]: ${line}`);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.tasks = this.tasks.then(task).catch((error) => this.log(`task failed: ${String(error)}`));
    return this.tasks;
  }

  private async run(): Promise<void> {
    const initial = this.opts.backoff?.initialMs ?? 100;
    const max = this.opts.backoff?.maxMs ?? 5000;
    let delay = initial;
    while (!this.stopped) {
      try {
        if (!this.token)
          this.token = (await this.opClient.register(this.opts.sandbox, this.opts.policy)).token;
        const client = this.client();
        this.abort = new AbortController();
        const stream = client.watch({
          sandbox: this.opts.sandbox,
          after: this.lastEventId,
          signal: this.abort.signal,
          onOpen: () => {
            // Catch up after the stream is open, so nothing falls between the two.
            void this.enqueue(() => this.catchUp(client)).then(() => {
              if (this.stopped) return;
              delay = initial;
              this.connected = true;
              this.emit("connected");
              this.emit("resync");
            });
          },
        });
        for await (const event of stream) {
          this.lastEventId = event.id;
          void this.enqueue(() => this.handle(client, event));
        }
        if (!this.stopped) throw new Error("event stream ended");
      } catch (error) {
        if (error instanceof GatewayRequestError && error.status === 401) this.token = null;
        if (!this.stopped)
          this.log(`disconnected: ${error instanceof Error ? error.message : String(error)}`, true);
      }
      if (this.connected) {
        this.connected = false;
        this.emit("disconnected");
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.sleeping = { timer: setTimeout(resolve, delay), resolve };
      });
      this.sleeping = null;
      delay = Math.min(max, delay * 2);
    }
  }

  /** On every (re)connect: settings, the head revision, and any status report still owed. */
  private async catchUp(client: GatewayClient): Promise<void> {
    await this.refreshSettings(client);
    const head = await client.getPolicy(this.opts.sandbox);
    await this.consider(client, head.version, head.hash, head.policy, head.status);
    for (const [version, report] of this.unreported) {
      await client.reportRevision(this.opts.sandbox, version, report.status, report.detail);
      this.unreported.delete(version);
    }
  }

  private async refreshSettings(client: GatewayClient): Promise<void> {
    this.settings = (await client.settings()).effective;
    this.emit("settings", this.settings);
  }

  private async handle(client: GatewayClient, event: GatewayEvent): Promise<void> {
    this.emit("event", event);
    if (event.type === "settings.changed") await this.refreshSettings(client);
    else if (event.type === "policy.revision") {
      const { version, hash, policy } = event.data as { version: number; hash: string; policy?: Policy };
      if (this.loadedVersion !== null && version <= this.loadedVersion) return;
      const full = policy ?? (await client.getPolicy(this.opts.sandbox, version)).policy;
      await this.consider(client, version, hash, full, "pending");
    }
  }

  /** Load a revision newer than what runs (or just claim its number if the content is the same). */
  private async consider(
    client: GatewayClient,
    version: number,
    hash: string,
    policy: Policy,
    status: Revision["status"],
  ): Promise<void> {
    if (this.loadedVersion !== null && version < this.loadedVersion) return;
    if (this.loadedVersion === version && status === "loaded") return;
    if (status === "failed" || status === "superseded") return;
    let result: "loaded" | "failed" = "loaded";
    let detail: string | undefined;
    if (hash !== this.loadedHash) {
      try {
        // Validate what arrived before anything swaps: the gateway is trusted, the wire is not.
        const checked = loadPolicyValue(policy);
        if (!checked.ok)
          throw new Error(
            `revision ${version} is not a valid policy: ${formatProblemsInline(checked.errors)}`,
          );
        if (policyHash(checked.value) !== hash)
          throw new Error(`revision ${version} does not match its hash`);
        result = await this.opts.applyPolicy(checked.value, version);
      } catch (error) {
        result = "failed";
        detail = error instanceof Error ? error.message : String(error);
      }
    }
    if (result === "loaded") {
      this.loadedVersion = version;
      this.loadedHash = hash;
    } else detail ??= "the supervisor refused the policy; the sandbox keeps its previous one";
    this.log(`revision ${version} ${result}`);
    if (result === "loaded") this.emit("loaded", version);
    try {
      await client.reportRevision(this.opts.sandbox, version, result, detail);
    } catch {
      this.unreported.set(version, { status: result, detail });
    }
  }
}
