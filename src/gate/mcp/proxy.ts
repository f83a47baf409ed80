// A stdio MCP proxy: the agent talks to us, we talk to the real server. Every tools/call,
// resources/read and prompts/get is gated (and leaves a receipt); tools are pinned (see
// pins.ts) and a tool that changed, or appeared mid-session, is withheld from tools/list and
// refused, and the developer is told.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ServerCapabilities,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { nestsDeeperThan } from "../../policy/json-depth.ts";
import { describeDecision } from "../adapters/hook-input.ts";
import type { CallContext, ToolCall } from "../call.ts";
import type { GateDecision } from "../cascade.ts";
import { gatherRealPaths } from "../path-facts.ts";
import { pathsOf } from "../paths.ts";
import { realPathOnDisk } from "../real-path.ts";
import type { GateRuntime } from "../runtime.ts";
import { namedTargets } from "./arguments.ts";
import { type ListedTool, type PinStatus, type PinStore, PinStoreError, pinOf } from "./pins.ts";
import { resourceCall } from "./resources.ts";

/** Something the developer must hear about (an inbox ask via the gateway, an OCSF event). */
export interface PinNotice {
  server: string;
  tool: string;
  kind: "changed" | "unpinned_newcomer" | "pin_store";
  /** The tool's pin hash now (for the notice's digest); absent for store errors. */
  hash?: string;
  detail: string;
}

export interface ProxyOptions {
  serverName: string;
  command: string;
  args: string[];
  runtime: GateRuntime;
  pins: PinStore;
  ctx: CallContext;
  /** Directories no call may name, whatever the policy says ($AIRLOCK_HOME: keys, pins, receipts). */
  offLimits: string[];
  /**
   * Puts an ask to the developer (the gateway, wired by the CLI) and answers allow, deny or ask;
   * absent, or anything but allow, and the call is refused with the reason.
   */
  ask?: (
    call: ToolCall,
    decision: GateDecision,
  ) => Promise<{ verdict: "allow" | "deny" | "ask"; reason: string }>;
  notify?: (notice: PinNotice) => void;
}

/** At most this many pages of tools/list are read from the server. */
const MAX_PAGES = 100;

function refusal(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

const stop = (rule: string, decision: "deny" | "ask", reason: string): GateDecision => ({
  decision,
  tier: 3,
  step: "hard_stop",
  rule,
  reason,
  capabilities: ["mcp_call"],
});

const within = (dir: string, path: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);

/** Does the call name a path under one of the off-limits directories (as written or resolved)? */
function namesOffLimits(call: ToolCall, opts: ProxyOptions): string | undefined {
  const paths = pathsOf(opts.ctx);
  const args =
    call.kind === "mcp" ? call.arguments : call.kind === "file_read" ? { path: call.path } : undefined;
  if (!args) return undefined;
  // A hard link of a file in there is that file: the directories' files are known by identity.
  const real = gatherRealPaths(call, undefined, opts.ctx, [{ raw: opts.offLimits.map((d) => `${d}/**`) }]);
  const dirs = opts.offLimits.flatMap((d) => [d, realPathOnDisk(d)]);
  return namedTargets(args, { ...paths, real }).paths.find((p) => dirs.some((d) => within(d, p)));
}

export async function runMcpProxy(opts: ProxyOptions): Promise<void> {
  const serverName = opts.serverName;
  const client = new Client({ name: "airlock-mcp-proxy", version: "0.1.0" });
  // The server gets the proxy's environment, as it would if the agent started it directly,
  // except Airlock's own variables: with the gateway's token a server could answer its own asks.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("AIRLOCK_"),
    ),
  );
  await client.connect(
    new StdioClientTransport({ command: opts.command, args: opts.args, env, stderr: "inherit" }),
  );

  // The session's view of the server's tools.
  let listed = false;
  let storeError: string | null = null;
  const visible = new Map<string, ListedTool>();
  const withheld = new Map<string, GateDecision>();
  const told = new Set<string>();
  const tell = (notice: PinNotice) => {
    const key = `${notice.kind}\0${notice.tool}\0${notice.hash ?? notice.detail}`;
    if (told.has(key)) return;
    told.add(key);
    opts.notify?.(notice);
  };

  /** Lists every page upstream, checks the pins, and settles what the client may see. */
  const refresh = async (): Promise<void> => {
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await client.listTools(cursor ? { cursor } : undefined);
      tools.push(...(result.tools as ListedTool[]));
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    let statuses: Map<string, PinStatus>;
    try {
      statuses = opts.pins.check(serverName, tools, !listed);
    } catch (error) {
      storeError = error instanceof PinStoreError ? error.message : String(error);
      visible.clear();
      tell({ server: serverName, tool: "*", kind: "pin_store", detail: storeError });
      throw new McpError(ErrorCode.InternalError, `airlock mcp-proxy: ${storeError}`);
    }
    listed = true;
    visible.clear();
    for (const tool of tools) {
      const s = statuses.get(tool.name);
      const hash = pinOf(tool).hash;
      if (s?.status === "changed" && s.refused) {
        const reason = `${serverName}/${tool.name} changed since it was pinned into a definition the developer refused; it is withheld`;
        withheld.set(tool.name, stop("mcp-pin", "deny", reason));
      } else if (s?.status === "changed") {
        const fields = s.fields.join(", ");
        const review = `airlock gate mcp show ${serverName} ${tool.name}`;
        const reason = `${serverName}/${tool.name} changed since it was pinned (${fields}); it is withheld until a person reviews it (\`${review}\`)`;
        withheld.set(tool.name, stop("mcp-pin", "ask", reason));
        tell({
          server: serverName,
          tool: tool.name,
          kind: "changed",
          hash,
          detail: `${fields}; review it with \`${review}\``,
        });
      } else if (s?.status === "new" && !s.pinned) {
        // Once changed or unpinned, a tool stays withheld for the session, even if it changes back.
        if (!withheld.has(tool.name)) {
          const reason = `${serverName}/${tool.name} appeared mid-session and is not pinned; it is withheld until the next session pins it`;
          withheld.set(tool.name, stop("mcp-pin", "deny", reason));
        }
        tell({
          server: serverName,
          tool: tool.name,
          kind: "unpinned_newcomer",
          hash,
          detail: "appeared mid-session",
        });
      } else if (s && !withheld.has(tool.name)) visible.set(tool.name, tool);
    }
  };

  /**
   * The gate's decision for one call, the receipt written with what was finally decided, then
   * the call forwarded (allow, or an ask the developer allowed) or refused.
   */
  const gated = async <T>(
    call: ToolCall,
    forward: () => Promise<T>,
    refuse: (text: string) => T,
    beyond?: GateDecision,
  ): Promise<T> => {
    const offLimits = namesOffLimits(call, opts);
    const overrule = (d: GateDecision): GateDecision => {
      if (offLimits)
        return stop("airlock-home", "deny", `${offLimits} is Airlock's own state (keys, pins, receipts)`);
      if (d.decision === "deny" || !beyond) return d;
      return beyond;
    };
    const d = await opts.runtime.decide(call, opts.ctx, undefined, overrule);
    if (d.decision === "allow") return forward();
    if (d.decision === "ask" && opts.ask) {
      const outcome = await opts.ask(call, d).catch(() => null);
      if (outcome?.verdict === "allow") return forward();
      return refuse(
        outcome?.verdict === "deny"
          ? outcome.reason
          : `${describeDecision(d)} (${outcome?.reason ?? "no answer"}; refused)`,
      );
    }
    return refuse(describeDecision(d));
  };

  // Subscriptions and resource change notifications are not forwarded.
  const upstream = client.getServerCapabilities() ?? {};
  const capabilities: ServerCapabilities = { tools: { listChanged: true } };
  if (upstream.resources) capabilities.resources = {};
  if (upstream.prompts) capabilities.prompts = {};
  const server = new Server({ name: `airlock-gate(${serverName})`, version: "0.1.0" }, { capabilities });
  const mcpError = (text: string) => {
    throw new McpError(ErrorCode.InvalidRequest, text);
  };

  // The server says its tools changed: look (pins decide what the client may see), then pass it on.
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    await refresh().catch(() => undefined);
    await server.sendToolListChanged().catch(() => undefined);
  });

  if (upstream.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (r) => client.listResources(r.params));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (r) =>
      client.listResourceTemplates(r.params),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (r) =>
      gated(resourceCall(serverName, r.params.uri), () => client.readResource(r.params), mcpError),
    );
  }
  if (upstream.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (r) => client.listPrompts(r.params));
    server.setRequestHandler(GetPromptRequestSchema, (r) => {
      const call: ToolCall = {
        kind: "mcp",
        server: serverName,
        tool: "prompts/get",
        arguments: { name: r.params.name, arguments: r.params.arguments ?? {} },
      };
      return gated(call, () => client.getPrompt(r.params), mcpError);
    });
  }
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    await refresh();
    return { tools: [...visible.values()] };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const name = request.params.name;
    const args = request.params.arguments ?? {};
    const call: ToolCall = { kind: "mcp", server: serverName, tool: name, arguments: args };
    if (nestsDeeperThan(args)) return refusal("airlock gate: deny: the arguments nest too deeply");
    const forward = async () => (await client.callTool(request.params)) as CallToolResult;
    if (!listed || (!visible.has(name) && !withheld.has(name))) await refresh().catch(() => undefined);
    let beyond: GateDecision | undefined;
    if (storeError) beyond = stop("mcp-pin", "deny", `the pin store cannot be used: ${storeError}`);
    else if (withheld.has(name)) beyond = withheld.get(name);
    else if (!visible.has(name))
      beyond = stop("mcp-pin", "deny", `${serverName}/${name} is not a tool the server listed`);
    return gated(call, forward, refusal, beyond);
  });

  const transport = new StdioServerTransport();
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    transport.onclose = done;
    client.onclose = () => {
      void server.close();
      done();
    };
    process.stdin.on("end", done);
  });
  await client.close().catch(() => undefined);
}
