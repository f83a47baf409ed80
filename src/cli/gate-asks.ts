// `airlock gate asks|allow|deny`: the developer's side of gate asks, through the gateway.
import { oneLine } from "../audit/redact.ts";
import type { Ask } from "../protocol/ask-types.ts";
import { ASK_STATUSES } from "../protocol/ask-types.ts";
import { GatewayRequestError } from "../protocol/client.ts";
import { CliError, printJson, UsageError } from "./common.ts";
import { call, connect } from "./gateway-calls.ts";

/** Each line printable: the call's text comes from the agent (oneLine). */
export function renderAsk(a: Ask): string[] {
  const lines = [
    `${a.id}  ${a.status.toUpperCase()}  ${a.tool}${a.sandbox ? `  sandbox ${a.sandbox}` : ""}${a.session ? `  session ${a.session}` : ""}`,
    `  call: ${a.summary}`,
    `  why: tier ${a.tier}, ${a.step}${a.rule ? ` ${a.rule}` : ""}: ${a.reason}`,
  ];
  if (a.status === "pending") lines.push(`  asked ${a.created_at}, expires ${a.expires_at}`);
  else
    lines.push(
      `  ${a.status} by ${a.decided_by ?? "?"} at ${a.decided_at ?? "?"}${a.decision_reason ? `: ${a.decision_reason}` : ""}`,
    );
  return lines.map(oneLine);
}

export async function listAsks(opts: { status?: string; json?: boolean }): Promise<void> {
  if (opts.status !== undefined && !(ASK_STATUSES as readonly string[]).includes(opts.status))
    throw new UsageError(`--status must be one of ${ASK_STATUSES.join(", ")}, got "${opts.status}"`);
  const client = connect();
  const asks = await call(() => client.listAsks(opts.status ? { status: opts.status } : {}));
  if (opts.json) return printJson(asks);
  if (asks.length === 0) {
    process.stdout.write(`no${opts.status ? ` ${opts.status}` : ""} asks\n`);
    return;
  }
  process.stdout.write(`${asks.flatMap(renderAsk).join("\n")}\n`);
}

export async function decideAsk(
  action: "allow" | "deny",
  id: string,
  opts: { reason?: string; json?: boolean },
): Promise<void> {
  const client = connect();
  let ask: Ask;
  try {
    ask = action === "allow" ? await client.allowAsk(id, opts.reason) : await client.denyAsk(id, opts.reason);
  } catch (error) {
    if (error instanceof GatewayRequestError && error.code === "unknown_ask")
      throw new CliError(
        `no ask with id ${id}; list the pending ones with \`airlock gate asks --status pending\``,
      );
    if (error instanceof GatewayRequestError && error.code === "already_decided")
      throw new CliError(`${error.detail}; nothing changed`);
    return call(() => Promise.reject(error));
  }
  if (opts.json) return printJson(ask);
  process.stdout.write(`${ask.id} ${ask.status}${ask.decision_reason ? `: ${ask.decision_reason}` : ""}\n`);
}
