// Pure: a pending change of a pinned MCP tool as the developer reviews it (`airlock gate mcp
// show`): each changed field, old against new, line by line. Text the agent would read is shown
// with its invisible characters spelled out (zero-width, bidi, control characters), so an
// instruction hidden in a description cannot pass review unseen.
import { stableJson } from "../../policy/canonical.ts";
import type { PinReview } from "./pins.ts";

/** Characters a terminal does not show as themselves, each as `\u{...}`. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u00a0\u2000-\u200a\u202f\u205f\u3000]/gu;

/** Text as a terminal should show it to a reviewer: names and lines a server chose included. */
export function visible(line: string): string {
  return line.replace(INVISIBLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/** A field's value as the lines a reviewer reads: text as written, anything else as sorted JSON. */
function textOf(value: unknown): string[] {
  const text = typeof value === "string" ? value : JSON.stringify(JSON.parse(stableJson(value)), null, 2);
  return text.split("\n").map(visible);
}

/** Above this many line pairs, the two sides are shown whole rather than diffed. */
const MAX_DIFF_CELLS = 1_000_000;

/** A line diff (longest common subsequence): "  " kept, "- " old only, "+ " new only. */
export function lineDiff(before: readonly string[], after: readonly string[]): string[] {
  if (before.length * after.length > MAX_DIFF_CELLS)
    return [...before.map((l) => `- ${l}`), ...after.map((l) => `+ ${l}`)];
  const m = before.length;
  const n = after.length;
  const common: number[][] = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--)
    for (let j = n - 1; j >= 0; j--)
      (common[i] as number[])[j] =
        before[i] === after[j]
          ? ((common[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((common[i + 1] as number[])[j] as number, (common[i] as number[])[j + 1] as number);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && before[i] === after[j]) {
      out.push(`  ${before[i++]}`);
      j++;
    } else if (
      i < m &&
      (j === n || ((common[i + 1] as number[])[j] as number) >= ((common[i] as number[])[j + 1] as number))
    )
      out.push(`- ${before[i++]}`);
    else out.push(`+ ${after[j++]}`);
  }
  return out;
}

/** One side of a field: its lines, or why there are none to show. */
function side(tool: Record<string, unknown> | undefined, field: string, missing: string): string[] {
  if (!tool) return [`(${missing})`];
  if (!Object.hasOwn(tool, field)) return ["(no such field)"];
  return textOf(tool[field]);
}

/** The review of one pending change: what changed, field by field, and how to answer it. */
export function reviewLines(review: PinReview): string[] {
  const { server, pinned, change } = review;
  const tool = visible(review.tool);
  const hash = change.pin.hash;
  const lines = [
    `${server}/${tool} changed since it was pinned (${change.fields.map(visible).join(", ")}); first seen ${change.seen_at}`,
    `  pinned ${pinned.hash}`,
    `  now    ${hash}`,
    `accept: airlock gate mcp accept ${server} ${tool} --hash ${hash}`,
    `refuse: airlock gate mcp refuse ${server} ${tool} --hash ${hash} [--reason TEXT]`,
  ];
  for (const field of change.fields) {
    lines.push("", `${visible(field)}:`);
    const before = side(pinned.tool, field, "the pinned definition was not kept: pinned by an older Airlock");
    const after = side(
      change.pin.tool,
      field,
      "the new definition is too large to keep; only its hash is known",
    );
    lines.push(...lineDiff(before, after).map((l) => `  ${l}`));
  }
  return lines;
}
