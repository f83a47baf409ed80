// Which observed denies a proposed rule would have allowed: an agent's proposal is linked to the
// denials it answers, so the reviewer sees "this covers PUT ... ×3". Pure, on the one engine.
import { compilePolicy, decideConnect, decideRequest } from "../policy/engine.ts";
import type { NetworkRule } from "../policy/schema.ts";
import type { Deny } from "../protocol/types.ts";

export type CoveredDeny = Pick<
  Deny,
  "binary" | "host" | "port" | "layer" | "method" | "path" | "count" | "last_seen"
>;

export function coveredDenies(ruleName: string, rule: NetworkRule, denies: readonly Deny[]): CoveredDeny[] {
  const cp = compilePolicy({ version: 1, network_policies: { [ruleName]: rule } });
  const out: CoveredDeny[] = [];
  for (const d of denies) {
    const identity = { binary: d.binary };
    const allowed =
      d.layer === "l7" && d.method && d.path
        ? decideRequest(cp, { ...identity, host: d.host, port: d.port, method: d.method, path: d.path })
            .decision === "allow"
        : decideConnect(cp, d.host, d.port, identity).decision === "allow";
    if (allowed) {
      const { binary, host, port, layer, method, path, count, last_seen } = d;
      out.push({ binary, host, port, layer, method, path, count, last_seen });
    }
  }
  return out;
}
