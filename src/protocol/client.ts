// Typed client for the gateway API, used by the CLI and the supervisor. Finds the gateway from
// AIRLOCK_GATEWAY / AIRLOCK_TOKEN, else from $AIRLOCK_HOME/gateway.json and operator.token.
import type { Ask, CreateAskBody, GateDecideBody, GateDecideResult } from "./ask-types.ts";
import { readGatewayInfo } from "./gateway-info.ts";
import { airlockHome, homePaths, readOperatorToken } from "./home.ts";
import type {
  Chunk,
  Decision,
  Deny,
  GatewayEvent,
  Revision,
  Sandbox,
  SettingsView,
  SubmitBody,
  SubmitResult,
} from "./types.ts";

export class GatewayRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export class GatewayUnavailableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(
      `gateway unreachable at ${url} (${cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause)}); start it with \`airlock gateway start\``,
    );
  }
}

/** No token to send: nothing was asked of the gateway, so nothing was refused. */
export class GatewayTokenMissingError extends Error {
  constructor(home: string) {
    super(
      `no gateway token: set AIRLOCK_TOKEN (the gateway's operator or sandbox token), or use a local gateway whose token is ${homePaths(home).operatorToken}`,
    );
  }
}

export interface ClientOptions {
  url: string;
  token: string;
  /** Per-request timeout (not applied to the event stream). */
  timeoutMs?: number;
}

export function resolveClientOptions(env: NodeJS.ProcessEnv = process.env): ClientOptions {
  const home = airlockHome(env);
  const url = env.AIRLOCK_GATEWAY || readGatewayInfo(home)?.url;
  if (!url)
    throw new GatewayUnavailableError(
      "(none configured)",
      new Error("no AIRLOCK_GATEWAY and no local gateway.json"),
    );
  const token = env.AIRLOCK_TOKEN || readOperatorToken(home);
  if (!token) throw new GatewayTokenMissingError(home);
  return { url: url.replace(/\/+$/, ""), token };
}

type Query = Record<string, string | number | undefined>;

export class GatewayClient {
  constructor(readonly opts: ClientOptions) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): GatewayClient {
    return new GatewayClient(resolveClientOptions(env));
  }

  withToken(token: string): GatewayClient {
    return new GatewayClient({ ...this.opts, token });
  }

  private href(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.opts.url}${path}${qs ? `?${qs}` : ""}`;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Query,
    timeoutMs = this.opts.timeoutMs ?? 30_000,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.href(path, query), {
        method,
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new GatewayUnavailableError(this.opts.url, error);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new GatewayRequestError(
        res.status,
        "bad_response",
        `gateway answered ${res.status} with non-JSON`,
      );
    }
    if (!res.ok) {
      const e = json as { error?: string; detail?: string };
      throw new GatewayRequestError(res.status, e.error ?? "error", e.detail ?? `HTTP ${res.status}`);
    }
    return json as T;
  }

  health(): Promise<{ ok: boolean; store: string }> {
    return this.request("GET", "/v1/health");
  }
  register(name: string, policy: unknown): Promise<{ sandbox: Sandbox; token: string; revision: Revision }> {
    return this.request("POST", "/v1/sandboxes", { name, policy });
  }
  async listSandboxes(): Promise<Sandbox[]> {
    return (await this.request<{ sandboxes: Sandbox[] }>("GET", "/v1/sandboxes")).sandboxes;
  }
  getSandbox(name: string): Promise<Sandbox> {
    return this.request("GET", `/v1/sandboxes/${enc(name)}`);
  }
  getPolicy(sandbox: string, rev?: number): Promise<Revision & { policy_yaml: string }> {
    return this.request("GET", `/v1/sandboxes/${enc(sandbox)}/policy`, undefined, { rev });
  }
  setPolicy(sandbox: string, policy: unknown, expectedHash?: string): Promise<Revision> {
    return this.request("PUT", `/v1/sandboxes/${enc(sandbox)}/policy`, {
      policy,
      expected_hash: expectedHash,
    });
  }
  async listRevisions(sandbox: string): Promise<Revision[]> {
    return (await this.request<{ revisions: Revision[] }>("GET", `/v1/sandboxes/${enc(sandbox)}/revisions`))
      .revisions;
  }
  reportRevision(
    sandbox: string,
    version: number,
    status: "loaded" | "failed",
    detail?: string,
  ): Promise<Revision> {
    return this.request("POST", `/v1/sandboxes/${enc(sandbox)}/revisions/${version}/status`, {
      status,
      detail,
    });
  }
  submit(sandbox: string, body: SubmitBody): Promise<SubmitResult> {
    return this.request("POST", `/v1/sandboxes/${enc(sandbox)}/chunks`, body);
  }
  async listChunks(filter: { sandbox?: string; status?: string } = {}): Promise<Chunk[]> {
    return (await this.request<{ chunks: Chunk[] }>("GET", "/v1/chunks", undefined, filter)).chunks;
  }
  getChunk(id: string): Promise<Chunk> {
    return this.request("GET", `/v1/chunks/${enc(id)}`);
  }
  approve(
    id: string,
    reviewToken: string,
    expiresInSeconds?: number,
  ): Promise<{ chunk: Chunk; revision: Revision }> {
    return this.request("POST", `/v1/chunks/${enc(id)}/approve`, {
      review_token: reviewToken,
      expires_in_seconds: expiresInSeconds,
    });
  }
  reject(id: string, reason?: string, hint?: string): Promise<{ chunk: Chunk; revision: Revision | null }> {
    return this.request("POST", `/v1/chunks/${enc(id)}/reject`, { reason, hint });
  }
  edit(id: string, rule: unknown, ruleName?: string): Promise<Chunk> {
    return this.request("POST", `/v1/chunks/${enc(id)}/edit`, { rule, rule_name: ruleName });
  }
  undo(id: string): Promise<{ chunk: Chunk; revision: Revision | null }> {
    return this.request("POST", `/v1/chunks/${enc(id)}/undo`);
  }
  approveAll(
    sandbox: string,
    includeSecurityFlagged = false,
  ): Promise<{ approved: string[]; skipped: { id: string; reason: string }[] }> {
    return this.request("POST", `/v1/sandboxes/${enc(sandbox)}/approve-all`, {
      include_security_flagged: includeSecurityFlagged,
    });
  }
  async history(filter: { sandbox?: string; chunk?: string } = {}): Promise<Decision[]> {
    return (await this.request<{ decisions: Decision[] }>("GET", "/v1/history", undefined, filter)).decisions;
  }
  settings(sandbox?: string): Promise<SettingsView> {
    return this.request("GET", "/v1/settings", undefined, { sandbox });
  }
  setSetting(key: string, value: unknown, sandbox?: string): Promise<SettingsView> {
    return this.request("PUT", `/v1/settings/${enc(key)}`, { value, sandbox });
  }
  async denials(sandbox: string, last?: number): Promise<Deny[]> {
    return (
      await this.request<{ denials: Deny[] }>("GET", `/v1/sandboxes/${enc(sandbox)}/denials`, undefined, {
        last,
      })
    ).denials;
  }
  reportDenials(sandbox: string, denials: unknown[]): Promise<{ recorded: number }> {
    return this.request("POST", `/v1/sandboxes/${enc(sandbox)}/denials`, { denials });
  }
  /** A one-time web inbox login link (operator token only). */
  inboxLoginCode(): Promise<{ url: string; expires_at: string }> {
    return this.request("POST", "/v1/inbox/login-codes");
  }

  // ---- gate asks ----
  gateDecide(body: GateDecideBody): Promise<GateDecideResult> {
    return this.request("POST", "/v1/gate/decide", body);
  }
  createAsk(body: CreateAskBody): Promise<Ask> {
    return this.request("POST", "/v1/gate/asks", body);
  }
  async listAsks(filter: { status?: string; sandbox?: string } = {}): Promise<Ask[]> {
    return (await this.request<{ asks: Ask[] }>("GET", "/v1/gate/asks", undefined, filter)).asks;
  }
  getAsk(id: string): Promise<Ask> {
    return this.request("GET", `/v1/gate/asks/${enc(id)}`);
  }
  /** Long-polls on the gateway's events (server side); the request outlives the wait by 5 s. */
  waitAsk(id: string, timeoutSeconds: number, requestTimeoutMs = timeoutSeconds * 1000 + 5000): Promise<Ask> {
    return this.request(
      "GET",
      `/v1/gate/asks/${enc(id)}/wait`,
      undefined,
      { timeout: timeoutSeconds },
      requestTimeoutMs,
    );
  }
  /**
   * POST /v1/gate/hook/AGENT with the agent's payload as it came (the answer is the agent's own
   * format, not JSON to parse: Codex's allow is an empty body). Throws GatewayUnavailableError
   * when the gateway cannot be reached, or `signal` (the caller's deadline) aborts first.
   */
  async hookAnswer(
    agent: string,
    payload: string,
    query: { wait: number; workdir?: string },
    signal: AbortSignal,
  ): Promise<{ status: number; text: string }> {
    try {
      const res = await fetch(this.href(`/v1/gate/hook/${enc(agent)}`, query), {
        method: "POST",
        headers: { authorization: `Bearer ${this.opts.token}`, "content-type": "application/json" },
        body: payload,
        signal,
      });
      return { status: res.status, text: await res.text() };
    } catch (error) {
      throw new GatewayUnavailableError(this.opts.url, error);
    }
  }
  allowAsk(id: string, reason?: string): Promise<Ask> {
    return this.request("POST", `/v1/gate/asks/${enc(id)}/allow`, reason === undefined ? {} : { reason });
  }
  denyAsk(id: string, reason?: string): Promise<Ask> {
    return this.request("POST", `/v1/gate/asks/${enc(id)}/deny`, reason === undefined ? {} : { reason });
  }

  /**
   * The event stream. Yields events until the stream ends or `signal` aborts; `onOpen` runs once
   * the gateway has accepted the stream. Throws GatewayUnavailableError if it cannot connect.
   */
  async *watch(opts: {
    sandbox?: string;
    after?: number;
    signal?: AbortSignal;
    onOpen?: () => void;
  }): AsyncGenerator<GatewayEvent> {
    let res: Response;
    try {
      res = await fetch(this.href("/v1/events", { sandbox: opts.sandbox }), {
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          accept: "text/event-stream",
          ...(opts.after !== undefined ? { "last-event-id": String(opts.after) } : {}),
        },
        signal: opts.signal,
      });
    } catch (error) {
      if (opts.signal?.aborted) return;
      throw new GatewayUnavailableError(this.opts.url, error);
    }
    if (!res.ok || !res.body) {
      const e = (await res.json().catch(() => ({}))) as { error?: string; detail?: string };
      throw new GatewayRequestError(res.status, e.error ?? "error", e.detail ?? `HTTP ${res.status}`);
    }
    opts.onOpen?.();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(bytes, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (data) yield JSON.parse(data) as GatewayEvent;
        }
      }
    } catch (error) {
      if (opts.signal?.aborted) return;
      throw new GatewayUnavailableError(this.opts.url, error);
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
