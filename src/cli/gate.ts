// `airlock gate check|verify|adopt|contain|asks|allow|deny|mcp`: the tool-call gate from the command line.
// Registration only: the work is loaded when a command runs, so other commands start fast.
import type { Command } from "commander";
import { EXIT_CODE_HELP, upstreamOptions } from "./common.ts";
import type { CheckOptions } from "./gate-actions.ts";
import type { ContainOptions } from "./gate-contain.ts";
import type { AnswerFlags, PinFlags } from "./gate-mcp.ts";

export function registerGateCommands(program: Command): void {
  const gate = program
    .command("gate")
    .description("the tool-call gate: check calls, verify receipts, run contained, decide asks");

  gate
    .command("check")
    .description("decide one tool call: allow, deny, ask or contain, with tier, rule and reason")
    .option("--policy <file>", "gate policy (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)")
    .option("--shell <command>", "a shell command line")
    .option("--input <file>", "a JSON call or hook payload (- for stdin)")
    .option(
      "--corpus <file>",
      'JSON lines {"expect":"routine"|"dangerous","input":CALL}: report friction (routine calls asked) and violations (dangerous calls allowed)',
    )
    .option("--cwd <dir>", "working directory the call runs in (default: the current directory)")
    .option("--workdir <dir>", "the project root (default: --cwd)")
    .option("--receipts <file>", "also append a signed receipt to this file")
    .option("--no-ask", "no one can be asked: asks become denials")
    .option("--json", "print the decision as JSON")
    .option("--exit-code", EXIT_CODE_HELP)
    .action(async (opts: CheckOptions) => (await import("./gate-actions.ts")).check(opts));

  gate
    .command("verify")
    .description("verify a receipt file: hashes, chain, signatures, order, and its signed head (count, end)")
    .argument("<file>", "receipts JSONL file")
    .option("--key <file>", "public key PEM (default $AIRLOCK_HOME/gate/receipt-key.pub.pem)")
    .option("--head <seq:hash>", "a head printed by an earlier verify: fail if it is gone (truncation)")
    .option("--no-signed-head", "skip the signed head beside the file (a log written before heads existed)")
    .option("--json", "print the result as JSON")
    .action(
      async (file: string, opts: { key?: string; json?: boolean; head?: string; signedHead?: boolean }) =>
        (await import("./gate-actions.ts")).verify(file, opts),
    );

  gate
    .command("adopt")
    .description(
      "sign a head for a receipt file written before heads existed, after verifying its whole chain",
    )
    .argument("<file>", "receipts JSONL file")
    .option("--head <seq:hash>", "a head printed by an earlier verify: refuse if it is gone")
    .option("--json", "print the result as JSON")
    .action(async (file: string, opts: { json?: boolean; head?: string }) =>
      (await import("./gate-actions.ts")).adopt(file, opts),
    );

  const contain = gate
    .command("contain")
    .description("run a command in a sandbox with the workdir on an overlay; commit or discard its changes")
    .option(
      "--policy <file>",
      "policy with contain rules and, in a full policy file, the network rules (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml; no file: no network)",
    )
    .option("--workdir <dir>", "the directory put on the overlay (default: the current directory)");
  upstreamOptions(contain)
    .option("--keep", "keep the staged change set")
    .option("--report <file>", "write the change set and verdict as JSON")
    .argument("<command...>", "the command, after --")
    .action(async (command: string[], opts: ContainOptions) =>
      (await import("./gate-contain.ts")).contain(command, opts),
    );

  gate
    .command("asks")
    .description("tool calls waiting for a decision (from hooks, the MCP proxy, POST /v1/gate/decide)")
    .option("--status <status>", "only pending|allowed|denied|expired")
    .option("--json", "print as JSON")
    .action(async (opts: { status?: string; json?: boolean }) =>
      (await import("./gate-asks.ts")).listAsks(opts),
    );
  for (const action of ["allow", "deny"] as const) {
    gate
      .command(action)
      .description(`${action} a pending ask; the agent's hook receives it at once`)
      .argument("<id>", "ask id (see `airlock gate asks`)")
      .option("--reason <text>", "passed to the agent verbatim")
      .option("--json", "print the decided ask as JSON")
      .action(async (id: string, opts: { reason?: string; json?: boolean }) =>
        (await import("./gate-asks.ts")).decideAsk(action, id, opts),
      );
  }

  const mcp = gate
    .command("mcp")
    .description(
      "MCP tools that changed since they were pinned: list, show old against new, accept or refuse",
    );
  const pinsOption = "pin file (default $AIRLOCK_HOME/gate/mcp-pins.json)";
  mcp
    .command("changes")
    .description("changed tools waiting for review (the MCP proxy withholds them)")
    .option("--pins <file>", pinsOption)
    .option("--json", "print as JSON")
    .action(async (opts: PinFlags) => (await import("./gate-mcp.ts")).listChanges(opts));
  mcp
    .command("show")
    .description("one changed tool, field by field, old against new (invisible characters spelled out)")
    .argument("<server>", "the server's name (mcp-proxy --name)")
    .argument("<tool>", "the tool's name")
    .option("--pins <file>", pinsOption)
    .option("--json", "print the old and new definitions as JSON")
    .action(async (server: string, tool: string, opts: PinFlags) =>
      (await import("./gate-mcp.ts")).showChange(server, tool, opts),
    );
  for (const [action, help] of [
    ["accept", "pin the tool as it is now; the next MCP proxy session offers it"],
    ["refuse", "keep the old pin; this definition stays withheld without another review"],
  ] as const) {
    mcp
      .command(action)
      .description(help)
      .argument("<server>", "the server's name (mcp-proxy --name)")
      .argument("<tool>", "the tool's name")
      .requiredOption(
        "--hash <sha256>",
        "the hash `airlock gate mcp show` printed: a change that moved on since is not answered",
      )
      .option("--reason <text>", "kept in the receipt")
      .option("--pins <file>", pinsOption)
      .option("--receipts <file>", "receipt file (default $AIRLOCK_HOME/gate/receipts.jsonl)")
      .option("--json", "print the answer as JSON")
      .action(async (server: string, tool: string, opts: AnswerFlags) =>
        (await import("./gate-mcp.ts")).answerChange(action === "accept", server, tool, opts),
      );
  }

  gate
    .command("_collect", { hidden: true })
    .argument("<out>")
    .argument("<upper>")
    .argument("<lower>")
    .argument("<merged>")
    .action(async (out: string, upper: string, lower: string, merged: string) => {
      (await import("../gate/contain/collect.ts")).collectChanges(upper, lower, merged, out);
    });
}
