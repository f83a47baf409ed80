// Merge operations carried by proposals (docs/design.md §3). Pure: a policy in, a new policy out.
// zod/mini, as schema.ts: one zod API in the policy folder.
import * as z from "zod/mini";
import { canonicalRule, stableJson } from "./canonical.ts";
import { formatProblemsInline, loadPolicyValue } from "./load.ts";
import { BinarySchema, NetworkRuleSchema, type Policy, RULE_KEY } from "./schema.ts";

const RuleNameSchema = z
  .string()
  .check(z.regex(RULE_KEY, { error: "ruleName must be letters, digits, _ . - (≤128)" }));
const BinaryPathSchema = BinarySchema.shape.path;

export const MergeOperationSchema = z.union([
  z.strictObject({ addRule: z.strictObject({ ruleName: RuleNameSchema, rule: NetworkRuleSchema }) }),
  z.strictObject({ removeRule: z.strictObject({ ruleName: RuleNameSchema }) }),
  z.strictObject({ addBinary: z.strictObject({ ruleName: RuleNameSchema, path: BinaryPathSchema }) }),
  z.strictObject({ removeBinary: z.strictObject({ ruleName: RuleNameSchema, path: BinaryPathSchema }) }),
]);
export type MergeOperation = z.infer<typeof MergeOperationSchema>;

export type MergeResult = { ok: true; policy: Policy; changed: boolean } | { ok: false; error: string };

function withRules(policy: Policy, rules: Policy["network_policies"]): MergeResult {
  const checked = loadPolicyValue({ ...policy, network_policies: rules });
  if (!checked.ok)
    return { ok: false, error: `merged policy is invalid: ${formatProblemsInline(checked.errors)}` };
  return { ok: true, policy: checked.value, changed: true };
}

export function applyOperation(policy: Policy, op: MergeOperation): MergeResult {
  const rules = policy.network_policies;
  if ("addRule" in op) {
    const { ruleName, rule } = op.addRule;
    const existing = rules[ruleName];
    if (existing) {
      if (stableJson(canonicalRule(ruleName, existing)) === stableJson(canonicalRule(ruleName, rule))) {
        return { ok: true, policy, changed: false };
      }
      return {
        ok: false,
        error: `rule "${ruleName}" already exists with different content; choose another ruleName or use addBinary`,
      };
    }
    return withRules(policy, { ...rules, [ruleName]: rule });
  }
  if ("removeRule" in op) {
    const { ruleName } = op.removeRule;
    if (!rules[ruleName]) return { ok: false, error: `rule "${ruleName}" does not exist` };
    const { [ruleName]: _removed, ...rest } = rules;
    return withRules(policy, rest);
  }
  const { ruleName, path } = "addBinary" in op ? op.addBinary : op.removeBinary;
  const rule = rules[ruleName];
  if (!rule) return { ok: false, error: `rule "${ruleName}" does not exist` };
  const present = rule.binaries.some((b) => b.path === path);
  if ("addBinary" in op) {
    if (present) return { ok: true, policy, changed: false };
    return withRules(policy, { ...rules, [ruleName]: { ...rule, binaries: [...rule.binaries, { path }] } });
  }
  if (!present) return { ok: false, error: `rule "${ruleName}" has no binary ${path}` };
  return withRules(policy, {
    ...rules,
    [ruleName]: { ...rule, binaries: rule.binaries.filter((b) => b.path !== path) },
  });
}

export function applyOperations(policy: Policy, ops: readonly MergeOperation[]): MergeResult {
  let current = policy;
  let changed = false;
  for (const [index, op] of ops.entries()) {
    const result = applyOperation(current, op);
    if (!result.ok) return { ok: false, error: `operations[${index}]: ${result.error}` };
    current = result.policy;
    changed ||= result.changed;
  }
  return { ok: true, policy: current, changed };
}
