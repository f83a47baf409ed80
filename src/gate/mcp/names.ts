// Claude Code names an MCP tool `mcp__<server>__<tool>`; both parts may themselves contain `__`,
// so `mcp__db__get__query` is server `db` + tool `get__query` or server `db__get` + tool `query`.
// The name alone cannot tell which: every reading is decided, and the most severe decision stands.
// Pure.

export interface McpName {
  server: string;
  tool: string;
}

/** Every (server, tool) a hook's `mcp__…` name can mean; empty when it names no tool at all. */
export function mcpNameReadings(name: string): McpName[] {
  if (!name.startsWith("mcp__")) return [];
  const rest = name.slice("mcp__".length);
  const out: McpName[] = [];
  for (let i = rest.indexOf("__"); i >= 0; i = rest.indexOf("__", i + 1)) {
    const server = rest.slice(0, i);
    const tool = rest.slice(i + 2);
    if (server !== "" && tool !== "") out.push({ server, tool });
  }
  return out;
}
