// Settings, pure: where a sandbox's own layer is kept, how the two layers combine, and a key and
// value as a caller gives them (JSON, or the CLI's "true"/"false") checked against the setting.

import { SETTING_DEFAULTS, SETTINGS, type SettingKey, type Settings } from "../protocol/types.ts";
import { GatewayError } from "./gateway-error.ts";

const SETTING_VALUES: Record<SettingKey, string> = {
  agent_policy_proposals_enabled: "true or false",
  approval_mode: "manual or auto",
  max_pending_asks: "a whole number from 1 to 10000",
  max_pending_proposals: "a whole number from 1 to 10000",
};

export function sandboxScope(name: string): string {
  return `sandbox:${name}`;
}

/** Global settings override the sandbox's own (docs/design.md §6). */
export function effective(global: Partial<Settings>, local: Partial<Settings>): Settings {
  return { ...SETTING_DEFAULTS, ...local, ...global };
}

function coerce(value: unknown): unknown {
  if (value === "true") return true;
  if (value === "false") return false;
  if (typeof value === "string" && /^\d{1,9}$/.test(value)) return Number(value);
  return value;
}

/** A known key and a value of its type, or null (clears it); anything else is a 400 naming both. */
export function parseSetting(key: string, value: unknown): { key: SettingKey; value: unknown } {
  if (!(key in SETTINGS))
    throw new GatewayError(
      400,
      "unknown_setting",
      `unknown setting "${key}"; known: ${Object.keys(SETTINGS).join(", ")}`,
    );
  const k = key as SettingKey;
  if (value === null) return { key: k, value: null };
  const parsed = SETTINGS[k].safeParse(coerce(value));
  if (!parsed.success)
    throw new GatewayError(
      400,
      "invalid_setting",
      `${key} must be ${SETTING_VALUES[k]}, got ${JSON.stringify(value)}`,
    );
  return { key: k, value: parsed.data };
}
