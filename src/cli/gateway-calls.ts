// CLI side of the gateway: a client from the environment, errors turned into what to do next.
import {
  GatewayClient,
  GatewayRequestError,
  GatewayTokenMissingError,
  GatewayUnavailableError,
} from "../protocol/client.ts";
import { GatewayInfoError } from "../protocol/gateway-info.ts";
import { airlockHome } from "../protocol/home.ts";
import { readSandboxRun } from "../supervisor/sandbox-runs.ts";
import { CliError } from "./common.ts";
import { chooseSandbox } from "./pick-sandbox.ts";

export function connect(): GatewayClient {
  try {
    return GatewayClient.fromEnv();
  } catch (error) {
    throw explain(error);
  }
}

export function explain(error: unknown): unknown {
  if (
    error instanceof GatewayUnavailableError ||
    error instanceof GatewayTokenMissingError ||
    error instanceof GatewayInfoError
  )
    return new CliError(error.message);
  if (error instanceof GatewayRequestError) {
    if (error.status === 401)
      return new CliError(
        `gateway refused the token: ${error.detail} (set AIRLOCK_TOKEN or use the local operator token)`,
      );
    return new CliError(`${error.detail} [${error.code}]`);
  }
  return error;
}

/** Runs a gateway call, rethrowing its failures as CliError messages. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw explain(error);
  }
}

/**
 * SANDBOX, or the one meant when none is named: of those the gateway knows, the one running here
 * (its record under $AIRLOCK_HOME), else the only one; otherwise the command lists them and stops.
 */
export async function resolveSandbox(client: GatewayClient, name: string | undefined): Promise<string> {
  if (name) return name;
  const registered = await call(() => client.listSandboxes());
  const home = airlockHome();
  const candidates = registered.map((s) => {
    const run = readSandboxRun(home, s.name);
    return { name: s.name, running: run?.running ?? false, started: run?.started || s.registered_at };
  });
  return chooseSandbox(candidates, "registered with the gateway");
}
