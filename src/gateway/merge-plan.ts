// How a chunk's rule lands in a policy, and how to take exactly that back out. Pure.
import { canonicalRule, stableJson } from "../policy/canonical.ts";
import { applyOperations, type MergeOperation } from "../policy/merge.ts";
import type { NetworkRule, Policy } from "../policy/schema.ts";

export type MergePlan =
  | { ok: true; operations: MergeOperation[]; policy: Policy; changed: boolean }
  | { ok: false; error: string };

function sameEndpoints(a: NetworkRule, b: NetworkRule): boolean {
  return stableJson(canonicalRule("k", a).endpoints) === stableJson(canonicalRule("k", b).endpoints);
}

/**
 * A new rule name → addRule. An existing rule with the same endpoints → addBinary for each binary
 * it lacks (a binary addition, never a second copy). Anything else is a conflict for the reviewer.
 */
export function planMerge(policy: Policy, ruleName: string, rule: NetworkRule): MergePlan {
  const existing = policy.network_policies[ruleName];
  let operations: MergeOperation[];
  if (existing && sameEndpoints(existing, rule)) {
    const have = new Set(existing.binaries.map((b) => b.path));
    operations = rule.binaries
      .filter((b) => !have.has(b.path))
      .map((b) => ({ addBinary: { ruleName, path: b.path } }));
  } else operations = [{ addRule: { ruleName, rule } }];
  const merged = applyOperations(policy, operations);
  if (!merged.ok) return merged;
  return {
    ok: true,
    operations: merged.changed ? operations : [],
    policy: merged.policy,
    changed: merged.changed,
  };
}

/**
 * The operations that undo `applied` on `policy`, refusing if later changes built on them
 * (`force`: remove the rule anyway, for grants that must end whatever happened since).
 */
export function planRevert(policy: Policy, applied: readonly MergeOperation[], force = false): MergePlan {
  const inverse: MergeOperation[] = [];
  for (const op of [...applied].reverse()) {
    if ("addRule" in op) {
      const { ruleName, rule } = op.addRule;
      const now = policy.network_policies[ruleName];
      if (!now) continue;
      if (!force && stableJson(canonicalRule(ruleName, now)) !== stableJson(canonicalRule(ruleName, rule))) {
        return {
          ok: false,
          error: `rule "${ruleName}" changed after this approval; undo the later changes first`,
        };
      }
      inverse.push({ removeRule: { ruleName } });
    } else if ("addBinary" in op) {
      const { ruleName, path } = op.addBinary;
      if (policy.network_policies[ruleName]?.binaries.some((b) => b.path === path))
        inverse.push({ removeBinary: { ruleName, path } });
    } else return { ok: false, error: "only additions can be reverted" };
  }
  const merged = applyOperations(policy, inverse);
  if (!merged.ok) return merged;
  return { ok: true, operations: inverse, policy: merged.policy, changed: merged.changed };
}
