// A stdio MCP proxy: the agent talks to us, we talk to the real server, every tools/call is gated.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  type ListToolsResult,
  ReadResourceRequestSchema,
  type ServerCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { describeDecision } from "../adapters/hook-input.ts";
import type { CallContext, ToolCall } from "../call.ts";
import type { GateDecision } from "../cascade.ts";
import type { GateRuntime } from "../runtime.ts";
import type { PinStatus, PinStore } from "./pins.ts";

export interface ProxyOptions {
  serverName: string;
  command: string;
  args: string[];
  runtime: GateRuntime;
  pins: PinStore;
  ctx: CallContext;
  /**
   * Puts an ask to the developer (the gateway, wired by the CLI) and answers allow, deny or ask;
   * absent, or anything but allow, and the call is refused with the reason.
   */
  ask?: (
    call: ToolCall,
    decision: GateDecision,
  ) => Promise<{ verdict: "allow" | "deny" | "ask"; reason: string }>;
}

function refusal(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

export async function runMcpProxy(opts: ProxyOptions): Promise<void> {
  const client = new Client({ name: "airlock-mcp-proxy", version: "0.1.0" });
  // The server gets the proxy's environment, as it would if the agent started it directly.
  const env = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  await client.connect(
    new StdioClientTransport({ command: opts.command, args: opts.args, env, stderr: "inherit" }),
  );
  const status = new Map<string, PinStatus>();

  const list = async (params?: { cursor?: string }): Promise<ListToolsResult> => {
    const result = await client.listTools(params);
    for (const [name, s] of opts.pins.check(opts.serverName, result.tools)) {
      // Once changed, a tool stays suspect for this session even if it changes back.
      if (status.get(name) !== "changed") status.set(name, s);
    }
    return result;
  };

  // Resources and prompts only carry data to the agent: passed through ungated.
  // Subscriptions and change notifications are not forwarded.
  const upstream = client.getServerCapabilities() ?? {};
  const capabilities: ServerCapabilities = { tools: {} };
  if (upstream.resources) capabilities.resources = {};
  if (upstream.prompts) capabilities.prompts = {};
  const server = new Server({ name: `airlock-gate(${opts.serverName})`, version: "0.1.0" }, { capabilities });
  if (upstream.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (r) => client.listResources(r.params));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (r) =>
      client.listResourceTemplates(r.params),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (r) => client.readResource(r.params));
  }
  if (upstream.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (r) => client.listPrompts(r.params));
    server.setRequestHandler(GetPromptRequestSchema, (r) => client.getPrompt(r.params));
  }
  server.setRequestHandler(ListToolsRequestSchema, async (request) => list(request.params));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const name = request.params.name;
    if (!status.has(name)) await list().catch(() => undefined);
    const call = {
      kind: "mcp" as const,
      server: opts.serverName,
      tool: name,
      arguments: (request.params.arguments ?? {}) as Record<string, unknown>,
    };
    if (status.get(name) === "changed") {
      await opts.runtime.decide(call, opts.ctx).catch(() => undefined); // receipt of the call itself
      const reason = `the description of ${opts.serverName}/${name} changed since it was pinned; a person must review it before it is called`;
      const changed: GateDecision = {
        decision: "ask",
        tier: 3,
        step: "hard_stop",
        rule: "mcp-pin",
        reason,
        capabilities: ["mcp_call"],
      };
      const outcome = opts.ask ? await opts.ask(call, changed).catch(() => null) : null;
      if (outcome?.verdict === "allow") return (await client.callTool(request.params)) as CallToolResult;
      return refusal(outcome?.verdict === "deny" ? outcome.reason : `airlock gate: ask (tier 3): ${reason}`);
    }
    const d = await opts.runtime.decide(call, opts.ctx);
    if (d.decision === "ask" && opts.ask) {
      const outcome = await opts.ask(call, d).catch(() => null);
      if (outcome?.verdict === "allow") return (await client.callTool(request.params)) as CallToolResult;
      return refusal(
        outcome?.verdict === "deny"
          ? outcome.reason
          : `${describeDecision(d)} (${outcome?.reason ?? "no answer"}; refused)`,
      );
    }
    if (d.decision !== "allow") return refusal(describeDecision(d));
    return (await client.callTool(request.params)) as CallToolResult;
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
