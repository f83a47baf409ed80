// `airlock inbox [--open] [--json]`: a one-time login link for the web inbox. The link opens a
// browser session (cookie) and is then spent; no token ever appears in a page URL.
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { printJson } from "./common.ts";
import { ensureGateway } from "./gateway.ts";
import { call, connect } from "./gateway-calls.ts";

/** Best effort: a missing opener (no desktop, no xdg-open) is not an error; the URL is printed. */
function openInBrowser(url: string): Promise<boolean> {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  return new Promise((resolve) => {
    try {
      const child = spawn(opener, [url], { detached: true, stdio: "ignore" });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

export function registerInboxCommands(program: Command): void {
  program
    .command("inbox")
    .description(
      "print a one-time login link to the web inbox (single use, valid 5 minutes); starts the local gateway if needed",
    )
    .option("--open", "also open it in a browser (xdg-open / open)")
    .option("--json", "print as JSON")
    .action(async (opts: { open?: boolean; json?: boolean }) => {
      let started = false;
      if (!process.env.AIRLOCK_GATEWAY) started = (await ensureGateway()).started;
      const client = connect();
      const link = await call(() => client.inboxLoginCode());
      const opened = opts.open ? await openInBrowser(link.url) : false;
      if (opts.json) return printJson({ ...link, opened });
      if (started) process.stdout.write("gateway started\n");
      process.stdout.write(`${link.url}\n`);
      process.stderr.write(
        `one-time link, valid until ${link.expires_at}${opts.open && !opened ? "; could not open a browser, copy it" : ""}\n`,
      );
    });
}
