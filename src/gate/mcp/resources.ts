// A resources/read as the call the gate decides: a file:// URI is a file read (the file rules),
// an http(s) URI a GET (the fetch rules), any other URI the server's own `resources/read`. Pure.
import { fileURLToPath } from "node:url";
import type { ToolCall } from "../call.ts";

export function resourceCall(server: string, uri: string): ToolCall {
  if (/^file:/i.test(uri)) {
    try {
      return { kind: "file_read", path: fileURLToPath(uri) };
    } catch {
      // A file URI that names no local path (file://host/x) is the server's to resolve.
    }
  }
  if (/^https?:\/\//i.test(uri)) return { kind: "fetch", method: "GET", url: uri };
  return { kind: "mcp", server, tool: "resources/read", arguments: { uri } };
}
