// `airlock denials [SANDBOX] [--last N]`: observed denies the gateway holds for a sandbox.
import type { Command } from "commander";
import { oneLine } from "../audit/redact.ts";
import { printJson, UsageError } from "./common.ts";
import { call, connect, resolveSandbox } from "./gateway-calls.ts";

export function registerDenialsCommands(program: Command): void {
  program
    .command("denials")
    .description(
      "observed denies of a sandbox (grouped by binary, host:port, method, path), most recent first",
    )
    .argument("[sandbox]", "sandbox name (default: the running one, or the only one)")
    .option("--last <n>", "how many groups (1..500)", "20")
    .option("--json", "print as JSON")
    .action(async (sandbox: string | undefined, opts: { last: string; json?: boolean }) => {
      if (!/^\d+$/.test(opts.last) || Number(opts.last) < 1)
        throw new UsageError(`--last must be a positive number, got "${opts.last}"`);
      const client = connect();
      const name = await resolveSandbox(client, sandbox);
      const denials = await call(() => client.denials(name, Number(opts.last)));
      if (opts.json) return printJson({ sandbox: name, denials });
      if (denials.length === 0) process.stdout.write(`no observed denies for ${name}\n`);
      // The binary's path and the reason come from the sandbox: printable only.
      for (const d of denials)
        process.stdout.write(
          `${oneLine(`${d.last_seen}  ${String(d.count).padStart(4)}x  ${d.layer.toUpperCase()} ${d.binary} -> ${d.host}:${d.port}${d.method ? ` ${d.method} ${d.path ?? ""}` : ""}${d.reason ? `  (${d.reason})` : ""}`)}\n`,
        );
    });
}
