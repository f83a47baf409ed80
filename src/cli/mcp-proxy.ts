// `airlock mcp-proxy --name SERVER -- CMD ARGS...`: gate every tools/call, resources/read and
// prompts/get of a stdio MCP server, and pin its tools.
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { basename, relative, resolve } from "node:path";
import type { Command } from "commander";
import type { PinNotice } from "../gate/mcp/proxy.ts";
import { airlockHome, homePaths } from "../protocol/home.ts";
import { CliError, UsageError } from "./common.ts";

interface McpProxyFlags {
  policy?: string;
  name?: string;
  pins?: string;
  receipts?: string;
  askWaitMs: string;
}

/**
 * The server's identity (what mcp rules match, and its pin namespace): --name, else the command
 * when it is the whole command line. `node server.js` and `npx pkg` say nothing by their
 * command's name, and two servers must never share one identity.
 */
function serverIdentity(command: string[], name: string | undefined): string {
  if (name !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
      throw new UsageError(`--name "${name}": letters, digits, _ . - (at most 64)`);
    return name;
  }
  const [cmd = "", ...args] = command;
  if (args.length > 0) {
    throw new UsageError(
      `give the server a name with --name (its command line "${command.join(" ")}" is more than a command name, and servers started through one launcher must not share an identity)`,
    );
  }
  return basename(cmd);
}

const inside = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
};

export function registerMcpProxyCommands(program: Command): void {
  program
    .command("mcp-proxy")
    .description(
      "stdio MCP proxy: gates every tools/call, resources/read and prompts/get; pins tools by hash",
    )
    .option("--policy <file>", "gate policy (default $AIRLOCK_GATE_POLICY or $AIRLOCK_HOME/gate.yaml)")
    .option(
      "--name <server>",
      "server name the gate's mcp rules match and its pins are kept under (needed when the command has arguments)",
    )
    .option("--pins <file>", "pin file, outside the workdir (default $AIRLOCK_HOME/gate/mcp-pins.json)")
    .option("--receipts <file>", "receipt file (default $AIRLOCK_HOME/gate/receipts.jsonl)")
    .option(
      "--ask-wait-ms <ms>",
      "how long a call the gate asks about waits for the developer on the gateway (0 = refuse at once)",
      "50000",
    )
    .argument("<command...>", "the MCP server command, after --")
    .action(async (command: string[], opts: McpProxyFlags) => {
      const [cmd, ...args] = command;
      if (!cmd) throw new UsageError("give the server command after --");
      const serverName = serverIdentity(command, opts.name);
      const wait = Number(opts.askWaitMs);
      if (!Number.isFinite(wait) || wait < 0) throw new UsageError("--ask-wait-ms must be a number ≥ 0");
      const { PinStore } = await import("../gate/mcp/pins.ts");
      const { runMcpProxy } = await import("../gate/mcp/proxy.ts");
      const { defaultReceiptsFile } = await import("../gate/receipt-store.ts");
      const { realPathOnDisk } = await import("../gate/real-path.ts");
      const cwd = process.cwd();
      const home = airlockHome();
      const pinFile = resolve(opts.pins ?? homePaths(home).mcpPins);
      // The agent writes its workdir: pins kept there could be rewritten to match a rug pull.
      if (inside(realPathOnDisk(cwd), realPathOnDisk(pinFile)))
        throw new UsageError(`--pins ${pinFile}: the pin file must be outside the workdir (${cwd})`);
      const { GateLoadError, openGate } = await import("../gate/runtime.ts");
      let runtime: Awaited<ReturnType<typeof openGate>>;
      try {
        runtime = await openGate(opts.policy, opts.receipts ? { receipts: opts.receipts } : {});
      } catch (error) {
        if (error instanceof GateLoadError) throw new CliError(error.message);
        throw error;
      }
      const { askDraft } = await import("../gate/ask-summary.ts");
      const { askThroughGateway, recordOutcome } = await import("./ask-gateway.ts");
      await runMcpProxy({
        serverName,
        command: cmd,
        args,
        runtime,
        pins: new PinStore(pinFile),
        offLimits: [home],
        // No one answers questions on an MCP pipe itself: an ask waits on the gateway (below);
        // anything but an allow there is refused with the reason.
        ctx: {
          cwd,
          workdir: cwd,
          home: homedir(),
          canAsk: true,
          canContain: false,
        },
        ask: async (call, decision) => {
          if (wait === 0) return { verdict: "ask", reason: "asks are not waited for (--ask-wait-ms 0)" };
          const req = { ...askDraft([call]), decision };
          const started = performance.now();
          const outcome = await askThroughGateway(req, wait);
          return outcome.ask_id
            ? recordOutcome(opts.receipts ?? defaultReceiptsFile(), req, outcome, performance.now() - started)
            : outcome;
        },
        notify: await developerNotices(homePaths(home).gateLogs),
      });
    });
}

/** Pin notices to the developer: an OCSF event in the gate's log, and an inbox entry when a gateway runs. */
async function developerNotices(logDir: string): Promise<(notice: PinNotice) => void> {
  const { AuditLog } = await import("../audit/writer.ts");
  const { buildConfigEvent } = await import("../audit/ocsf.ts");
  const { GatewayClient } = await import("../protocol/client.ts");
  const log = new AuditLog(logDir, (error) =>
    process.stderr.write(`airlock mcp-proxy: cannot write ${logDir}: ${error.message}\n`),
  );
  let gateway: InstanceType<typeof GatewayClient> | null = null;
  try {
    gateway = GatewayClient.fromEnv(process.env);
  } catch {
    gateway = null;
  }
  return (notice) => {
    const what = `mcp:${notice.server}/${notice.tool}`;
    const text = `${what} ${notice.kind.replaceAll("_", " ")}: ${notice.detail}`;
    log.write(buildConfigEvent({ time: Date.now(), ok: false, name: what, detail: text }));
    log.flush();
    process.stderr.write(`airlock mcp-proxy: ${text}\n`);
    const digest = `sha256:${createHash("sha256")
      .update(notice.hash ?? text)
      .digest("hex")}`;
    gateway
      ?.request("POST", "/v1/gate/asks", {
        tool: what,
        input_digest: digest,
        summary: `MCP tool pin: ${text} (withheld from the agent)`,
        tier: 3,
        step: "hard_stop",
        rule: "mcp-pin",
        reason: `${text}. The agent does not see this tool; calls to it are refused or asked about.`,
      })
      .catch(() => undefined);
  };
}
