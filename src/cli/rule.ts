// `airlock rule get|approve|reject|approve-all|edit|undo|history`: the review side of proposals.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { renderChunk } from "../gateway/chunk-text.ts";
import { formatProblem, parseYamlAgainst } from "../policy/load.ts";
import { NetworkRuleSchema } from "../policy/schema.ts";
import type { Chunk } from "../protocol/types.ts";
import { CHUNK_STATUSES, parseDuration, REJECTION_HINTS } from "../protocol/vocabulary.ts";
import { CliError, printJson, UsageError } from "./common.ts";
import { call, connect, resolveSandbox } from "./gateway-calls.ts";

/** The chunk, checked to belong to SANDBOX when one was named. */
async function chunkFor(sandbox: string | undefined, id: string): Promise<Chunk> {
  const client = connect();
  const chunk = await call(() => client.getChunk(id));
  if (sandbox && chunk.sandbox !== sandbox)
    throw new CliError(`chunk ${id} belongs to sandbox ${chunk.sandbox}, not ${sandbox}`);
  return chunk;
}

export function registerRuleCommands(program: Command): void {
  const rule = program
    .command("rule")
    .description("review proposed rules (chunks): list, approve, reject, undo");

  rule
    .command("get")
    .description(
      "list chunks of a sandbox (default: the running one, or the only one), with rendered endpoints and findings",
    )
    .argument("[sandbox]", "sandbox name")
    .option("--status <status>", `only ${CHUNK_STATUSES.join("|")}`)
    .option("--chunk-id <id>", "just this chunk")
    .option("--json", "print as JSON")
    .action(
      async (sandbox: string | undefined, opts: { status?: string; chunkId?: string; json?: boolean }) => {
        if (opts.status && !(CHUNK_STATUSES as readonly string[]).includes(opts.status))
          throw new UsageError(`--status must be ${CHUNK_STATUSES.join(", ")}, got "${opts.status}"`);
        const client = connect();
        const chunks = opts.chunkId
          ? [await chunkFor(sandbox, opts.chunkId)]
          : await call(async () =>
              client.listChunks({ sandbox: await resolveSandbox(client, sandbox), status: opts.status }),
            );
        if (opts.json) return printJson({ chunks });
        if (chunks.length === 0) process.stdout.write(`no ${opts.status ?? ""} chunks\n`.replace("  ", " "));
        for (const c of chunks) process.stdout.write(`${renderChunk(c).join("\n")}\n\n`);
      },
    );

  rule
    .command("approve")
    .description("approve a chunk: merged into a new policy revision and pushed to the sandbox")
    .argument("[sandbox]", "sandbox name (checked against the chunk)")
    .requiredOption("--chunk-id <id>", "chunk to approve")
    .option("--review-token <token>", "the token shown by `rule get` (default: the chunk's current one)")
    .option("--for <duration>", "timed grant, e.g. 30m, 2h, 1d: revoked automatically at expiry")
    .option("--json", "print what changed as JSON")
    .action(
      async (
        sandbox: string | undefined,
        opts: { chunkId: string; reviewToken?: string; for?: string; json?: boolean },
      ) => {
        const seconds = opts.for === undefined ? undefined : parseDuration(opts.for);
        if (seconds === null) throw new UsageError(`--for must look like 30m, 2h or 1d, got "${opts.for}"`);
        const chunk = await chunkFor(sandbox, opts.chunkId);
        const client = connect();
        const { revision } = await call(() =>
          client.approve(chunk.id, opts.reviewToken ?? chunk.review_token, seconds),
        );
        if (opts.json) return printJson(changed("approved", chunk, revision));
        process.stdout.write(
          `approved ${chunk.rule_name} (${chunk.id}): ${chunk.sandbox} policy revision ${revision.version}\n`,
        );
      },
    );

  rule
    .command("reject")
    .description("reject a pending chunk, or revoke an approved one; the reason reaches the agent verbatim")
    .argument("[sandbox]", "sandbox name (checked against the chunk)")
    .requiredOption("--chunk-id <id>", "chunk to reject")
    .option("--reason <text>", "why (the agent sees it byte for byte)")
    .option("--hint <hint>", `structured hint: ${REJECTION_HINTS.join("|")}`)
    .option("--json", "print what changed as JSON")
    .action(
      async (
        sandbox: string | undefined,
        opts: { chunkId: string; reason?: string; hint?: string; json?: boolean },
      ) => {
        if (opts.hint && !(REJECTION_HINTS as readonly string[]).includes(opts.hint))
          throw new UsageError(`--hint must be one of ${REJECTION_HINTS.join(", ")}, got "${opts.hint}"`);
        const chunk = await chunkFor(sandbox, opts.chunkId);
        const { revision } = await call(() => connect().reject(chunk.id, opts.reason, opts.hint));
        if (opts.json)
          return printJson(changed(chunk.status === "approved" ? "revoked" : "rejected", chunk, revision));
        process.stdout.write(
          `${chunk.status === "approved" ? "revoked" : "rejected"} ${chunk.rule_name} (${chunk.id})${revision ? `: policy revision ${revision.version}` : ""}\n`,
        );
      },
    );

  rule
    .command("approve-all")
    .description("approve every pending chunk, skipping security-flagged ones unless told")
    .argument("[sandbox]", "sandbox name")
    .option("--include-security-flagged", "approve chunks with security findings too")
    .option("--json", "print as JSON")
    .action(
      async (sandbox: string | undefined, opts: { includeSecurityFlagged?: boolean; json?: boolean }) => {
        const client = connect();
        const name = await resolveSandbox(client, sandbox);
        const result = await call(() => client.approveAll(name, opts.includeSecurityFlagged === true));
        if (opts.json) return printJson(result);
        process.stdout.write(`approved ${result.approved.length} chunk(s) in ${name}\n`);
        for (const id of result.approved) process.stdout.write(`  approved ${id}\n`);
        for (const s of result.skipped) process.stdout.write(`  skipped ${s.id}: ${s.reason}\n`);
      },
    );

  rule
    .command("edit")
    .description(
      "replace a pending chunk's rule with one from a YAML file (endpoints, binaries); validated again",
    )
    .argument("[sandbox]", "sandbox name (checked against the chunk)")
    .requiredOption("--chunk-id <id>", "chunk to edit")
    .requiredOption("--file <rule.yaml>", "the new rule")
    .option("--rule-name <name>", "rename the rule")
    .option("--json", "print the edited chunk as JSON")
    .action(
      async (
        sandbox: string | undefined,
        opts: { chunkId: string; file: string; ruleName?: string; json?: boolean },
      ) => {
        let text: string;
        try {
          text = readFileSync(opts.file, "utf8");
        } catch (error) {
          throw new CliError(`cannot read ${opts.file}: ${(error as Error).message}`);
        }
        const parsed = parseYamlAgainst(NetworkRuleSchema, text, opts.file);
        if (!parsed.ok) throw new CliError(parsed.errors.map(formatProblem).join("\n"));
        const chunk = await chunkFor(sandbox, opts.chunkId);
        const edited = await call(() => connect().edit(chunk.id, parsed.value, opts.ruleName));
        if (opts.json) return printJson({ action: "edited", chunk: edited });
        process.stdout.write(`${renderChunk(edited).join("\n")}\n`);
      },
    );

  rule
    .command("undo")
    .description("undo an approval: the chunk returns to pending and exactly what it added is removed")
    .argument("[sandbox]", "sandbox name (checked against the chunk)")
    .requiredOption("--chunk-id <id>", "chunk whose approval to undo")
    .option("--json", "print what changed as JSON")
    .action(async (sandbox: string | undefined, opts: { chunkId: string; json?: boolean }) => {
      const chunk = await chunkFor(sandbox, opts.chunkId);
      const { revision } = await call(() => connect().undo(chunk.id));
      if (opts.json) return printJson(changed("undone", chunk, revision));
      process.stdout.write(
        `undid approval of ${chunk.rule_name} (${chunk.id})${revision ? `: policy revision ${revision.version}` : ""}\n`,
      );
    });

  rule
    .command("history")
    .description("decisions (append-only): submissions, approvals, rejections, undos, settings")
    .argument("[sandbox]", "sandbox name")
    .option("--chunk-id <id>", "only this chunk")
    .option("--json", "print as JSON")
    .action(async (sandbox: string | undefined, opts: { chunkId?: string; json?: boolean }) => {
      const client = connect();
      const name = opts.chunkId ? undefined : await resolveSandbox(client, sandbox);
      const decisions = await call(() => client.history({ sandbox: name, chunk: opts.chunkId }));
      if (opts.json) return printJson({ decisions });
      for (const d of decisions)
        process.stdout.write(
          `${d.at}  ${d.action.padEnd(10)} ${d.actor.padEnd(12)} ${d.chunk_id ?? "-"}${d.revision ? ` rev ${d.revision}` : ""}${d.reason ? `  ${d.reason}` : ""}\n`,
        );
    });
}

/** What a decision changed, for --json: the chunk it acted on and the policy revision it made (if any). */
function changed(action: string, chunk: Chunk, revision: { version: number } | null | undefined) {
  return {
    action,
    chunk: { id: chunk.id, rule_name: chunk.rule_name, sandbox: chunk.sandbox, status_before: chunk.status },
    revision: revision ?? null,
  };
}
