// Stand-in upstreams for the client tests: one HTTPS server on loopback answering for several
// host names (one leaf certificate naming all of them, from a throwaway CA the proxy is told to
// trust), recording every request that reaches it; and `airlock run` with --connect-to for each.
import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { createSandboxCA, LeafCache } from "../../src/proxy/ca.ts";
import { type CliRun, runCli } from "./cli-helpers.ts";

export interface SeenRequest {
  host: string;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export interface Upstream {
  port: number;
  caFile: string;
  hosts: readonly string[];
  seen: SeenRequest[];
  /** `--connect-to` and `--upstream-ca` arguments that route every host here. */
  runArgs: string[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: SeenRequest, res: ServerResponse) => void | Promise<void>;

export async function startUpstream(
  dir: string,
  hosts: readonly string[],
  handler: UpstreamHandler,
): Promise<Upstream> {
  const ca = await createSandboxCA("clients-upstream");
  const caFile = join(dir, `upstream-ca-${hosts[0]}.pem`);
  writeFileSync(caFile, ca.certPem);
  const { cert, key } = await new LeafCache(ca).mintPem(hosts[0] as string, hosts.slice(1));
  const seen: SeenRequest[] = [];
  const server: Server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request: SeenRequest = {
        host: (req.headers.host ?? "").replace(/:\d+$/, ""),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(request);
      Promise.resolve(handler(request, res)).catch((error: Error) => {
        res.writeHead(500);
        res.end(error.message);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    caFile,
    hosts,
    seen,
    runArgs: [
      ...hosts.flatMap((h) => ["--connect-to", `${h}:443:127.0.0.1:${port}`]),
      "--upstream-ca",
      caFile,
    ],
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function scratchHome(workdir: string): string {
  const home = join(dirname(workdir), "user-home");
  mkdirSync(home, { recursive: true });
  return home;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Writes a policy value as YAML into `dir` and returns its path. */
export function writePolicy(dir: string, name: string, policy: unknown): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(policy));
  return file;
}

/**
 * `airlock run` (no gateway) with the upstreams routed in, running `script` under /bin/sh. HOME is
 * a scratch folder beside the workdir: the presets make `~/.cache` writable, and the real one holds
 * other tests' sandboxes coming and going.
 */
export function runInSandbox(
  options: {
    airlockHome: string;
    policyFile: string;
    workdir: string;
    upstreams: readonly Upstream[];
    env?: NodeJS.ProcessEnv;
    extra?: string[];
    timeoutMs?: number;
  },
  script: string,
): Promise<CliRun> {
  return runCli(
    [
      "run",
      "-q",
      "--policy",
      options.policyFile,
      "--workdir",
      options.workdir,
      ...options.upstreams.flatMap((u) => u.runArgs),
      ...(options.extra ?? []),
      "--",
      "/bin/sh",
      "-c",
      script,
    ],
    {
      airlockHome: options.airlockHome,
      cwd: options.workdir,
      env: { HOME: scratchHome(options.workdir), ...options.env },
      timeoutMs: options.timeoutMs ?? 120_000,
    },
  );
}
