// The policy folder's one edge: reading a policy file from disk, then the pure loader.
import { readFileSync } from "node:fs";
import { type Loaded, loadPolicyText } from "./load.ts";
import type { Policy } from "./schema.ts";

export function loadPolicyFile(path: string): Loaded<Policy> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : String(error);
    return {
      ok: false,
      errors: [{ file: path, line: 0, col: 0, path: "", message: `cannot read policy: ${why}` }],
      warnings: [],
    };
  }
  return loadPolicyText(text, path);
}
