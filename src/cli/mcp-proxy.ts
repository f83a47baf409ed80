// `airlock mcp-proxy -- SERVER CMD...`: gate every tools/call of a stdio MCP server.
import { homedir } from "node:os";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { CliError, UsageError } from "./common.ts";

export function registerMcpProxyCommands(program: Command): void {
  program
    .command("mcp-proxy")
    .description("stdio MCP proxy: gates every tools/call and pins tool descriptions by hash")
    .option("--policy <file>", "gate policy (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)")
    .option("--name <server>", "server name the gate's mcp rules match (default: the command's name)")
    .option("--pins <file>", "pin file (default $AIRLOCK_HOME/gate/mcp-pins.json)")
    .option("--receipts <file>", "receipt file (default $AIRLOCK_HOME/gate/receipts.jsonl)")
    .option(
      "--ask-wait-ms <ms>",
      "how long a call the gate asks about waits for the developer on the gateway (0 = refuse at once)",
      "50000",
    )
    .argument("<command...>", "the MCP server command, after --")
    .action(
      async (
        command: string[],
        opts: { policy?: string; name?: string; pins?: string; receipts?: string; askWaitMs: string },
      ) => {
        const [cmd, ...args] = command;
        if (!cmd) throw new UsageError("give the server command after --");
        const { PinStore } = await import("../gate/mcp/pins.ts");
        const { runMcpProxy } = await import("../gate/mcp/proxy.ts");
        const { airlockHome, defaultReceiptsFile } = await import("../gate/receipt-store.ts");
        const { askDraft } = await import("../gate/ask-summary.ts");
        const { askThroughGateway, recordOutcome } = await import("./ask-gateway.ts");
        const wait = Number(opts.askWaitMs);
        if (!Number.isFinite(wait) || wait < 0) throw new UsageError("--ask-wait-ms must be a number ≥ 0");
        const { GateLoadError, openGate } = await import("../gate/runtime.ts");
        let runtime: Awaited<ReturnType<typeof openGate>>;
        try {
          runtime = await openGate(opts.policy, opts.receipts ? { receipts: opts.receipts } : {});
        } catch (error) {
          if (error instanceof GateLoadError) throw new CliError(error.message);
          throw error;
        }
        const cwd = process.cwd();
        await runMcpProxy({
          serverName: opts.name ?? basename(cmd),
          command: cmd,
          args,
          runtime,
          pins: new PinStore(opts.pins ?? join(airlockHome(), "gate", "mcp-pins.json")),
          // No one answers questions on an MCP pipe itself: an ask waits on the gateway (below);
          // anything but an allow there is refused with the reason.
          ctx: { cwd, workdir: cwd, home: homedir(), canAsk: true, canContain: false },
          // An ask waits for the developer on the gateway; no gateway or no answer: refused.
          ask: async (call, decision) => {
            if (wait === 0) return { verdict: "ask", reason: "asks are not waited for (--ask-wait-ms 0)" };
            const req = { ...askDraft([call]), decision };
            const started = performance.now();
            const outcome = await askThroughGateway(req, wait);
            return outcome.ask_id
              ? recordOutcome(
                  opts.receipts ?? defaultReceiptsFile(),
                  req,
                  outcome,
                  performance.now() - started,
                )
              : outcome;
          },
        });
      },
    );
}
