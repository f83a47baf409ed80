import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { NetworkRuleSchema } from "../../src/policy/schema.ts";
import { formatZodIssues } from "../../src/policy/zod-issues.ts";

test("a failed parse is one line: path: message per issue, the root named when the path is empty", () => {
  const body = z.strictObject({ name: z.string(), ops: z.array(z.number()) });
  const bad = body.safeParse({ name: 1, ops: [1, "x"] });
  assert.equal(bad.success, false);
  const text = formatZodIssues(bad.error?.issues ?? [], "(body)");
  assert.match(text, /^name: .+; ops\.1: .+$/);
  const notAnObject = body.safeParse("x");
  assert.match(formatZodIssues(notAnObject.error?.issues ?? [], "(body)"), /^\(body\): /);
  const rule = NetworkRuleSchema.safeParse({ endpoints: "x" });
  assert.match(formatZodIssues(rule.error?.issues ?? [], "(rule)"), /^endpoints: /, "zod/mini issues too");
});
