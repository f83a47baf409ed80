// Shared by the MCP proxy tests: an MCP client (the SDK's) talking to `airlock mcp-proxy` in
// front of the fixture server built with the SDK.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export async function connectThroughProxy(
  policy: string,
  proxyArgs: string[],
  env: Record<string, string>,
): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      "bin/airlock.js",
      "mcp-proxy",
      "--policy",
      policy,
      "--name",
      "demo",
      ...proxyArgs,
      "--",
      process.execPath,
      "--import",
      "tsx",
      "test/gate/fixtures/mcp-server.ts",
    ],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "inherit",
  });
  await client.connect(transport);
  return client;
}
