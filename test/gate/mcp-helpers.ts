// Shared by the MCP proxy tests: an MCP client (the SDK's) talking to `airlock mcp-proxy` in
// front of a fixture server built with the SDK.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const ROOT = join(import.meta.dirname, "..", "..");
const TSX = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface ProxyRun {
  policy: string;
  env: Record<string, string>;
  proxyArgs?: string[];
  /** The fixture server under test/gate/fixtures (default mcp-server.ts). */
  fixture?: string;
  /** The proxy's (and so the agent's) working directory, the workdir (default the repository). */
  cwd?: string;
  name?: string;
}

/** The fixture server with no proxy in front: what the attacks would get without the gate. */
export async function connectDirect(
  fixture: string,
  env: Record<string, string>,
  cwd = ROOT,
): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ["--import", TSX, join(ROOT, "test", "gate", "fixtures", fixture)],
      cwd,
      env: { ...(process.env as Record<string, string>), ...env },
      stderr: "pipe",
    }),
  );
  return client;
}

export async function connectProxy(run: ProxyRun): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      join(ROOT, "bin", "airlock.js"),
      "mcp-proxy",
      "--policy",
      run.policy,
      "--name",
      run.name ?? "demo",
      ...(run.proxyArgs ?? []),
      "--",
      process.execPath,
      "--import",
      TSX,
      join(ROOT, "test", "gate", "fixtures", run.fixture ?? "mcp-server.ts"),
    ],
    cwd: run.cwd ?? ROOT,
    env: { ...(process.env as Record<string, string>), ...run.env },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (chunk: Buffer) => {
    if (process.env["MCP_TEST_STDERR"]) process.stderr.write(chunk);
  });
  await client.connect(transport);
  return client;
}

export function connectThroughProxy(
  policy: string,
  proxyArgs: string[],
  env: Record<string, string>,
): Promise<Client> {
  return connectProxy({ policy, proxyArgs, env });
}
