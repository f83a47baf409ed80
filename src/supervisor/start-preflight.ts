// Start phase 1, preflight: everything that can refuse a run, checked before anything is written
// or started. The policy, the --connect-to targets and the upstream CAs are read and checked,
// bubblewrap and user namespaces are looked for, and the sandbox gets a name no running sandbox
// has.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadPolicyFile } from "../policy/file.ts";
import { denyAllPolicy, formatLoadErrors, formatProblem } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { sandboxDir } from "../protocol/home.ts";
import { type ConnectToEntry, parseConnectTo } from "../proxy/connect-to.ts";
import { generateName } from "../sandbox/names.ts";
import {
  checkName,
  checkUserNamespaces,
  checkWorkdir,
  findBwrap,
  PreflightError,
} from "../sandbox/preflight.ts";
import { readSandboxRun } from "./sandbox-runs.ts";
import type { SupervisorOptions } from "./supervisor.ts";
import { SupervisorError } from "./supervisor-error.ts";

/** What preflight established: every input checked, and the sandbox's name. */
export interface Preflight {
  policy: Policy;
  connectTo: ConnectToEntry[];
  /** PEM texts the proxy trusts upstream beside the system's. */
  upstreamCAs: string[];
  airlockHome: string;
  workdir: string;
  name: string;
}

export function preflight(options: SupervisorOptions, log: (line: string) => void): Preflight {
  if (options.command.length === 0)
    throw new SupervisorError("no command given: airlock run [options] -- CMD...");
  const policy = options.policy ?? runPolicy(options.policyFile, log);
  const connectTo = (options.connectTo ?? []).map((spec) => {
    try {
      return parseConnectTo(spec);
    } catch (error) {
      throw new SupervisorError((error as Error).message);
    }
  });
  const upstreamCAs = [
    ...readCAs(options.upstreamCaFiles ?? []),
    ...readNodeExtraCAs(options.nodeExtraCaCerts, log),
  ];
  const airlockHome = resolve(options.airlockHome);
  const workdir = resolve(options.workdir);
  try {
    findBwrap();
    checkUserNamespaces();
    checkWorkdir(workdir);
  } catch (error) {
    if (error instanceof PreflightError) throw new SupervisorError(error.message);
    throw error;
  }
  return {
    policy,
    connectTo,
    upstreamCAs,
    airlockHome,
    workdir,
    name: sandboxName(options.name, airlockHome),
  };
}

/** The policy file's, its warnings logged; without a file, one that lets nothing out. */
function runPolicy(file: string | undefined, log: (line: string) => void): Policy {
  if (file === undefined) return denyAllPolicy();
  const loaded = loadPolicyFile(file);
  for (const warning of loaded.warnings) log(`warning: ${formatProblem(warning)}`);
  if (!loaded.ok) throw new SupervisorError(formatLoadErrors(loaded.errors, file));
  return loaded.value;
}

function readCAs(files: readonly string[]): string[] {
  return files.map((file) => {
    try {
      const pem = readFileSync(file, "utf8");
      if (!pem.includes("BEGIN CERTIFICATE")) throw new Error("no PEM certificate in it");
      // The proxy builds its trust store on first use; a broken file is reported now instead.
      new X509Certificate(pem);
      return pem;
    } catch (error) {
      throw new SupervisorError(`--upstream-ca ${file}: ${(error as Error).message}`);
    }
  });
}

/** As node does with NODE_EXTRA_CA_CERTS: a file it cannot use is a warning, and is left out. */
function readNodeExtraCAs(file: string | undefined, log: (line: string) => void): string[] {
  if (!file) return [];
  try {
    const pem = readFileSync(file, "utf8");
    if (pem.includes("BEGIN CERTIFICATE")) return [pem];
    log(
      `airlock: warning: NODE_EXTRA_CA_CERTS ${file} holds no PEM certificate; upstreams are verified without it`,
    );
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    log(`airlock: warning: NODE_EXTRA_CA_CERTS ${file}: ${reason}; upstreams are verified without it`);
  }
  return [];
}

/** Generated names are new folders; a name given with --name may reuse an ended sandbox's. */
function sandboxName(given: string | undefined, airlockHome: string): string {
  const name = given ?? generateName((n) => existsSync(sandboxDir(airlockHome, n)));
  try {
    checkName(name);
  } catch (error) {
    throw new SupervisorError((error as Error).message);
  }
  if (readSandboxRun(airlockHome, name)?.running)
    throw new SupervisorError(`a sandbox named ${name} is already running`);
  return name;
}
