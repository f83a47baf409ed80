// Test plumbing shared by the policy tests (and re-exported for others): inline YAML → Policy.
import { loadPolicyText } from "../../src/policy/load.ts";
import type { Policy } from "../../src/policy/schema.ts";

export function policyFrom(yaml: string): Policy {
  const loaded = loadPolicyText(yaml, "test.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.value;
}
