// The policy a running sandbox enforces and its revision number, with what records each load:
// a config event in the audit log and the policy.yaml snapshot in the sandbox's folder.
import { writeFileSync } from "node:fs";
import { buildConfigEvent } from "../audit/ocsf.ts";
import type { AuditLog } from "../audit/writer.ts";
import { dumpPolicyYaml, policyHash } from "../policy/canonical.ts";
import type { Policy } from "../policy/schema.ts";

export class EnforcedPolicy {
  version = 1;

  constructor(
    public policy: Policy,
    private readonly record: { audit: AuditLog; sandbox: string; snapshotFile: string },
  ) {}

  /** The load in the audit log (the first one as the sandbox starts, then each replacement). */
  recordLoad(): void {
    this.record.audit.write(
      buildConfigEvent({
        time: Date.now(),
        ok: true,
        name: "policy",
        version: this.version,
        hash: policyHash(this.policy),
        sandbox: this.record.sandbox,
      }),
    );
  }

  writeSnapshot(): void {
    writeFileSync(this.record.snapshotFile, dumpPolicyYaml(this.policy), { mode: 0o600 });
  }

  /** A new policy, already in the proxy: `version` is the gateway's revision number, if it has one. */
  replace(next: Policy, version?: number): number {
    this.policy = next;
    this.version = version ?? this.version + 1;
    this.recordLoad();
    this.writeSnapshot();
    return this.version;
  }
}
