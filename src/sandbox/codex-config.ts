// Codex inside Airlock. Codex starts its own bubblewrap sandbox for every command, which cannot
// work here: the sandbox forbids nested user namespaces (`--disable-userns`), so each command
// would fail with `bwrap: Creating new namespace failed ... (ENOSPC)`. Airlock is the sandbox, so
// the sandbox's /etc carries Codex's managed configuration (/etc/codex/managed_config.toml, which
// outranks the user's and the project's config.toml) turning Codex's own sandbox off. A host
// that has its own /etc/codex keeps it untouched (docs/sandbox.md says what to do then).
import { existsSync } from "node:fs";
import { packagePath } from "../package-root.ts";

/** The file mounted at /etc/airlock/codex/managed_config.toml (and seen as /etc/codex/...). */
const CODEX_MANAGED_CONFIG_SOURCE = packagePath("src", "sandbox", "codex-managed-config.toml");

interface CodexEtc {
  /** Added to the sandbox's /etc/airlock (relative name → host file). */
  airlockFiles: Record<string, string>;
  /** Extra /etc entries: `codex` as a symlink into /etc/airlock. */
  etcEntries: { name: string; symlinkTarget: string }[];
}

export function codexEtc(hostEtc = "/etc"): CodexEtc {
  if (existsSync(`${hostEtc}/codex`)) return { airlockFiles: {}, etcEntries: [] };
  return {
    airlockFiles: { "codex/managed_config.toml": CODEX_MANAGED_CONFIG_SOURCE },
    etcEntries: [{ name: "codex", symlinkTarget: "/etc/airlock/codex" }],
  };
}
