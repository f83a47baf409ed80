// How deeply a parsed JSON value nests, measured without recursion: deep input must be refused
// before recursive code (schemas, canonical JSON, matchers) meets it and overflows the stack. Pure.

/** The deepest JSON nesting accepted from outside (requests, hook payloads, MCP arguments). */
export const MAX_JSON_DEPTH = 64;

/** Does `value` nest arrays/objects deeper than `max` levels? */
export function nestsDeeperThan(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
