// CLI side of the gateway: a client from the environment, errors turned into what to do next.
import {
  GatewayClient,
  GatewayRequestError,
  GatewayTokenMissingError,
  GatewayUnavailableError,
} from "../gateway/client.ts";
import { CliError } from "./common.ts";

export function connect(): GatewayClient {
  try {
    return GatewayClient.fromEnv();
  } catch (error) {
    throw explain(error);
  }
}

export function explain(error: unknown): unknown {
  if (error instanceof GatewayUnavailableError || error instanceof GatewayTokenMissingError)
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

/** SANDBOX defaults to the most recently registered sandbox. */
export async function resolveSandbox(client: GatewayClient, name: string | undefined): Promise<string> {
  if (name) return name;
  const [latest] = await call(() => client.listSandboxes());
  if (!latest) throw new CliError("no sandbox is registered with the gateway; start one with `airlock run`");
  return latest.name;
}
