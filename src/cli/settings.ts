// `airlock settings get|set KEY [VALUE] [--sandbox S]`: pushed live to running sandboxes.
import type { Command } from "commander";
import { SETTING_KEYS } from "../protocol/vocabulary.ts";
import { printJson, UsageError } from "./common.ts";
import { call, connect } from "./gateway-calls.ts";

function checkKey(key: string): void {
  if (!(SETTING_KEYS as readonly string[]).includes(key))
    throw new UsageError(`unknown setting "${key}"; known: ${SETTING_KEYS.join(", ")}`);
}

export function registerSettingsCommands(program: Command): void {
  const settings = program.command("settings").description("gateway settings (global overrides per-sandbox)");

  settings
    .command("get")
    .description("effective settings, or one KEY (--sandbox: as that sandbox sees them)")
    .argument("[key]", "setting name")
    .option("--sandbox <name>", "sandbox")
    .option("--json", "print as JSON")
    .action(async (key: string | undefined, opts: { sandbox?: string; json?: boolean }) => {
      if (key) checkKey(key);
      const view = await call(() => connect().settings(opts.sandbox));
      if (opts.json)
        return printJson(key ? { key, value: view.effective[key as keyof typeof view.effective] } : view);
      const keys = key ? [key] : Object.keys(view.effective);
      for (const k of keys) {
        const from = k in view.global ? "global" : k in view.sandbox ? `sandbox ${opts.sandbox}` : "default";
        process.stdout.write(
          `${k} = ${JSON.stringify(view.effective[k as keyof typeof view.effective])}  (${from})\n`,
        );
      }
    });

  settings
    .command("set")
    .description("set KEY to VALUE globally or for one sandbox (VALUE `default` clears it)")
    .argument("<key>", "setting name")
    .argument(
      "<value>",
      "true|false for flags, manual|auto for approval_mode, a number for max_pending_*, or default",
    )
    .option("--sandbox <name>", "only for this sandbox (a global value still wins)")
    .option("--json", "print what changed as JSON")
    .action(async (key: string, value: string, opts: { sandbox?: string; json?: boolean }) => {
      checkKey(key);
      const view = await call(() =>
        connect().setSetting(key, value === "default" ? null : value, opts.sandbox),
      );
      if (opts.json)
        return printJson({
          key,
          set: value === "default" ? null : value,
          scope: opts.sandbox ? { sandbox: opts.sandbox } : "global",
          effective: view.effective[key as keyof typeof view.effective],
        });
      process.stdout.write(
        `${key} = ${JSON.stringify(view.effective[key as keyof typeof view.effective])} (effective${opts.sandbox ? ` for ${opts.sandbox}` : ""})\n`,
      );
    });
}
