// `airlock policy get|set|revisions`: a running sandbox's policy on the gateway. Added to the
// `policy` group that policy.ts creates (check/eval work on files, these on the gateway).
import type { Command } from "commander";
import { loadPolicyFile } from "../policy/file.ts";
import { formatProblem } from "../policy/load.ts";
import { CliError, getOrCreateGroup, printJson, UsageError } from "./common.ts";
import { call, connect, resolveSandbox } from "./gateway-calls.ts";

export function registerPolicyRemoteCommands(program: Command): void {
  const policy = getOrCreateGroup(program, "policy", "check, evaluate and manage policies");

  policy
    .command("get")
    .description("print a sandbox's policy (head revision, or --rev N) as canonical YAML")
    .argument("[sandbox]", "sandbox name (default: the running one, or the only one)")
    .option("--rev <n>", "revision number", (v) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`--rev must be a revision number, got "${v}"`);
      return Number(v);
    })
    .option("--json", "print as JSON")
    .action(async (sandbox: string | undefined, opts: { rev?: number; json?: boolean }) => {
      const client = connect();
      const name = await resolveSandbox(client, sandbox);
      const rev = await call(() => client.getPolicy(name, opts.rev));
      if (opts.json) return printJson(rev);
      process.stdout.write(
        `# sandbox ${name}, revision ${rev.version} (${rev.status}), sha256 ${rev.hash}\n# ${rev.provenance.action} by ${rev.provenance.by}${rev.provenance.chunk_id ? ` (chunk ${rev.provenance.chunk_id})` : ""}\n${rev.policy_yaml}`,
      );
    });

  policy
    .command("set")
    .description("replace a running sandbox's policy; the new revision is pushed to it")
    .argument("<sandbox>", "sandbox name")
    .argument("<file>", "policy YAML file")
    .option("--wait", "wait until the sandbox reports the revision loaded (or failed)")
    .option("--timeout <seconds>", "how long --wait waits", "30")
    .option("--json", "print the new revision (and, with --wait, its load report) as JSON")
    .action(
      async (sandbox: string, file: string, opts: { wait?: boolean; timeout: string; json?: boolean }) => {
        const loaded = loadPolicyFile(file);
        if (!loaded.ok) throw new CliError(loaded.errors.map(formatProblem).join("\n"));
        const client = connect();
        const ac = new AbortController();
        let seen: Promise<{ status: string; detail?: string } | null> = Promise.resolve(null);
        let opened: Promise<void> = Promise.resolve();
        let target = Number.POSITIVE_INFINITY;
        if (opts.wait) {
          // Watch before setting, so the loaded report cannot slip past.
          let onOpen!: () => void;
          opened = new Promise((r) => (onOpen = r));
          seen = (async () => {
            for await (const e of client.watch({ sandbox, signal: ac.signal, onOpen })) {
              if (e.type === "policy.loaded" && Number(e.data.version) >= target)
                return { status: String(e.data.status), detail: e.data.detail as string | undefined };
            }
            return null;
          })().catch(() => null);
          await Promise.race([opened, seen]);
        }
        const rev = await call(() => client.setPolicy(sandbox, loaded.value));
        if (!opts.json) process.stdout.write(`${sandbox}: policy revision ${rev.version} (${rev.status})\n`);
        if (!opts.wait) {
          if (opts.json) printJson({ sandbox, revision: rev });
          return;
        }
        target = rev.version;
        if (rev.status !== "pending") {
          ac.abort();
          if (opts.json) printJson({ sandbox, revision: rev });
          return;
        }
        const timer = setTimeout(() => ac.abort(), Number(opts.timeout) * 1000);
        const outcome = await seen;
        clearTimeout(timer);
        ac.abort();
        if (!outcome)
          throw new CliError(
            `revision ${rev.version} not reported loaded within ${opts.timeout}s (is the sandbox running?)`,
          );
        if (outcome.status !== "loaded")
          throw new CliError(`revision ${rev.version} failed to load: ${outcome.detail ?? "no detail"}`);
        if (opts.json) printJson({ sandbox, revision: rev, loaded: outcome });
        else process.stdout.write(`${sandbox}: revision ${rev.version} loaded\n`);
      },
    );

  policy
    .command("revisions")
    .description("a sandbox's policy revisions, newest first, with status and provenance")
    .argument("[sandbox]", "sandbox name (default: the running one, or the only one)")
    .option("--json", "print as JSON")
    .action(async (sandbox: string | undefined, opts: { json?: boolean }) => {
      const client = connect();
      const name = await resolveSandbox(client, sandbox);
      const revisions = await call(() => client.listRevisions(name));
      if (opts.json) return printJson({ revisions: revisions.map(({ policy: _p, ...r }) => r) });
      for (const r of revisions)
        process.stdout.write(
          `rev ${String(r.version).padStart(3)}  ${r.status.padEnd(10)} ${r.created_at}  ${r.provenance.action} by ${r.provenance.by}${r.provenance.chunk_id ? ` (chunk ${r.provenance.chunk_id})` : ""}  ${r.hash.slice(0, 12)}${r.detail ? `  ${r.detail}` : ""}\n`,
        );
    });
}
