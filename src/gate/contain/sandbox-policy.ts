// The sandbox policy of a contained run, from the policy file's (docs/design.md §10, tier 1). Pure.
// Network rules pass unchanged; the filesystem is narrowed so that everything the command can
// write is staged: the workdir (on the overlay) and the fresh tmpfs directories, nothing else.
import { join } from "node:path";
import type { Policy } from "../../policy/schema.ts";
import { FRESH_DIRS, within } from "../../sandbox/mounts.ts";

/** Credential stores hidden from every contained run, whatever the policy lists. */
export const CONTAIN_HIDDEN = [
  ".ssh",
  ".aws",
  ".gnupg",
  ".azure",
  ".kube",
  ".docker",
  ".config/gcloud",
  ".password-store",
] as const;

export interface ContainSandboxPolicy {
  policy: Policy;
  notes: string[];
}

export function containSandboxPolicy(
  policy: Policy,
  paths: { workdir: string; home: string },
): ContainSandboxPolicy {
  const fs = policy.filesystem_policy;
  const notes: string[] = [];
  for (const p of fs?.read_write ?? []) {
    if (!FRESH_DIRS.some((d) => p === d))
      notes.push(`read_write ${p} is read-only in a contained run (only the workdir's changes are staged)`);
  }
  // A secret store above the workdir cannot be hidden without hiding the workdir: the policy's
  // own deny list decides those (and the sandbox refuses a workdir inside one).
  const hidden = CONTAIN_HIDDEN.map((s) => join(paths.home, s)).filter((p) => !within(paths.workdir, p));
  return {
    policy: {
      ...policy,
      filesystem_policy: {
        ...fs,
        include_workdir: true,
        read_write: [],
        read_only: fs?.read_only ?? [],
        deny: [...(fs?.deny ?? []), ...hidden],
      },
    },
    notes,
  };
}
