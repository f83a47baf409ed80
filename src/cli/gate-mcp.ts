// `airlock gate mcp changes|show|accept|refuse`: the developer's review of MCP tools that changed
// since they were pinned. The MCP proxy withholds a changed tool and keeps what it changed into;
// here it is shown old against new and accepted (pinned as it is now) or refused (the old pin
// stays and this definition is withheld for good). Each answer names the hash it reviewed and
// leaves a signed receipt, written before the pin file changes: no receipt, no change.
import { resolve } from "node:path";
import { reviewLines, visible } from "../gate/mcp/pin-review.ts";
import { type PinReview, PinStore, PinStoreError } from "../gate/mcp/pins.ts";
import { appendReceipt, defaultReceiptsFile } from "../gate/receipt-store.ts";
import { airlockHome, homePaths } from "../protocol/home.ts";
import { CliError, printJson, UsageError } from "./common.ts";

export interface PinFlags {
  pins?: string;
  json?: boolean;
}

function store(opts: PinFlags): PinStore {
  return new PinStore(resolve(opts.pins ?? homePaths(airlockHome()).mcpPins));
}

function reviewsOf(opts: PinFlags): PinReview[] {
  try {
    return store(opts).reviews();
  } catch (error) {
    if (error instanceof PinStoreError) throw new CliError(error.message);
    throw error;
  }
}

function summary(r: PinReview) {
  return {
    server: r.server,
    tool: r.tool,
    fields: r.change.fields,
    seen_at: r.change.seen_at,
    pinned_hash: r.pinned.hash,
    hash: r.change.pin.hash,
  };
}

export function listChanges(opts: PinFlags): void {
  const reviews = reviewsOf(opts);
  if (opts.json) {
    printJson(reviews.map(summary));
    return;
  }
  if (reviews.length === 0) {
    process.stdout.write("no changed MCP tools wait for review\n");
    return;
  }
  for (const r of reviews) {
    const tool = visible(r.tool);
    process.stdout.write(
      `${r.server}/${tool}  changed: ${r.change.fields.map(visible).join(", ")}  seen ${r.change.seen_at}\n  review: airlock gate mcp show ${r.server} ${tool}\n`,
    );
  }
}

function findReview(opts: PinFlags, server: string, tool: string): PinReview {
  const review = reviewsOf(opts).find((r) => r.server === server && r.tool === tool);
  if (!review)
    throw new CliError(`no pending change of ${server}/${tool}; \`airlock gate mcp changes\` lists them`);
  return review;
}

export function showChange(server: string, tool: string, opts: PinFlags): void {
  const review = findReview(opts, server, tool);
  if (opts.json) {
    printJson({
      ...summary(review),
      pinned: review.pinned.tool ?? null,
      now: review.change.pin.tool ?? null,
    });
    return;
  }
  process.stdout.write(`${reviewLines(review).join("\n")}\n`);
}

export interface AnswerFlags extends PinFlags {
  hash?: string;
  reason?: string;
  receipts?: string;
}

export function answerChange(accept: boolean, server: string, tool: string, opts: AnswerFlags): void {
  if (!opts.hash || !/^sha256:[0-9a-f]{64}$/.test(opts.hash))
    throw new UsageError(
      `--hash must be the hash \`airlock gate mcp show ${server} ${tool}\` printed (sha256:<64 hex>)`,
    );
  const receipts = resolve(opts.receipts ?? defaultReceiptsFile());
  const word = accept ? "accepted" : "refused";
  let review: PinReview;
  try {
    review = store(opts).answer({
      server,
      tool,
      hash: opts.hash,
      accept,
      record: (r) => {
        appendReceipt(receipts, {
          time: new Date().toISOString(),
          tool: `mcp:${server}/${tool}`,
          input_digest: r.change.pin.hash,
          decision: accept ? "allow" : "deny",
          tier: 3,
          step: "operator",
          rule: "mcp-pin",
          reason: `tool change ${word} (${r.change.fields.join(", ")})${opts.reason ? `: ${opts.reason}` : ""}`,
          latency_ms: 0,
        });
      },
    });
  } catch (error) {
    if (error instanceof PinStoreError) throw new CliError(error.message);
    throw error;
  }
  if (opts.json) {
    printJson({ ...summary(review), answer: word, receipts });
    return;
  }
  process.stdout.write(
    accept
      ? `${server}/${tool} accepted: pinned as ${review.change.pin.hash}; the next MCP proxy session offers it\n`
      : `${server}/${tool} refused: the old pin stays and this definition stays withheld\n`,
  );
}
