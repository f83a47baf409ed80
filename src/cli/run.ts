// `airlock run`: a command in a sandbox whose only way out is the policy proxy (docs/design.md §9).
// stdout and stdin belong to the command; Airlock's own lines go to stderr.
import type { Command } from "commander";
import type { Policy } from "../policy/schema.ts";
import { GatewayClient, resolveClientOptions } from "../protocol/client.ts";
import { airlockHome } from "../protocol/home.ts";
import type { ControlPlane } from "../supervisor/supervisor.ts";
import { CliError, upstreamOptions } from "./common.ts";
import { ensureGateway } from "./gateway.ts";

interface RunOptions {
  name?: string;
  policy?: string;
  workdir?: string;
  connectTo?: string[];
  upstreamCa?: string[];
  enableProposals?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  gateway?: boolean;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The gateway session for a new sandbox: a local gateway is started when none answers (unless
 * AIRLOCK_GATEWAY names one). Without a gateway the sandbox still runs, on its policy file alone.
 */
async function connectGateway(
  name: string,
  policy: Policy,
  opts: RunOptions,
): Promise<ControlPlane | undefined> {
  try {
    if (!process.env.AIRLOCK_GATEWAY) {
      const { info, started } = await ensureGateway();
      if (started && !opts.quiet) say(`airlock: started a local gateway at ${info.url} (store ${info.db})`);
    }
    const { url, token } = resolveClientOptions(process.env);
    const { GatewaySession } = await import("../supervisor/session.ts");
    const session = new GatewaySession({
      gateway: url,
      operatorToken: token,
      sandbox: name,
      policy,
      log: say,
      verbose: opts.verbose === true,
    });
    const connected = await session.start();
    if (!connected)
      say("airlock: the gateway did not answer yet; the sandbox enforces its policy file and keeps trying");
    else if (opts.enableProposals) {
      await new GatewayClient({ url, token }).setSetting("agent_policy_proposals_enabled", true, name);
    }
    return session;
  } catch (error) {
    say(
      `airlock: no gateway (${(error as Error).message}); the policy file is final and proposals are unavailable`,
    );
    return undefined;
  }
}

export function registerRunCommands(program: Command): void {
  const run = program
    .command("run")
    .description("run CMD in a sandbox whose only way out is Airlock's policy proxy")
    .usage("[options] -- CMD...")
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--name <name>", "sandbox name (default: a generated one such as quiet-otter)")
    .option("--policy <file>", "policy YAML file (default: no network access at all)")
    .option("--workdir <dir>", "writable working directory (default: the current directory)");
  upstreamOptions(run)
    .option("--enable-proposals", "let the agent read its policy and propose rules via http://policy.local")
    .option("-q, --quiet", "do not print the sandbox name and log folder")
    .option("-v, --verbose", "also print the gateway link's connection progress (disconnects and retries)")
    .option("--no-gateway", "run without the control plane: the policy file is final, no proposals")
    .action(async (command: string[], opts: RunOptions) => {
      // The supervisor (proxy, TLS, sandbox) loads only for this command.
      const { runSupervised, SupervisorError } = await import("../supervisor/supervisor.ts");
      let code: number;
      try {
        code = await runSupervised({
          name: opts.name,
          policyFile: opts.policy,
          workdir: opts.workdir ?? process.cwd(),
          command,
          connectTo: opts.connectTo,
          upstreamCaFiles: opts.upstreamCa,
          nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS,
          enableProposals: opts.enableProposals === true,
          airlockHome: airlockHome(),
          quiet: opts.quiet === true,
          connect: opts.gateway === false ? undefined : (name, policy) => connectGateway(name, policy, opts),
        });
      } catch (error) {
        if (error instanceof SupervisorError) throw new CliError(error.message);
        throw error;
      }
      // The command's status is ours; nothing of the sandbox is left to wait for.
      process.exit(code);
    });
}
