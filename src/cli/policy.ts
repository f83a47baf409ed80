// `airlock policy check|eval`: the policy engine from the command line.
import type { Command } from "commander";
import { compilePolicy, decideConnect, decideRequest } from "../policy/engine.ts";
import { loadPolicyFile } from "../policy/file.ts";
import { formatLoadErrors, formatProblem } from "../policy/load.ts";
import { renderRule } from "../policy/render.ts";
import type { Policy } from "../policy/schema.ts";
import {
  CliError,
  collect,
  decisionExitCode,
  EXIT_CODE_HELP,
  EXIT_FAILURE,
  parsePort,
  printJson,
} from "./common.ts";

function loadOrFail(file: string): Policy {
  const loaded = loadPolicyFile(file);
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${formatProblem(warning)}\n`);
  if (!loaded.ok) throw new CliError(formatLoadErrors(loaded.errors, file));
  return loaded.value;
}

/** The `gate:` section is validated by the gate's own loader (its inline examples included). */
async function checkGateSection(file: string): Promise<string> {
  const { loadShellAnalyzer } = await import("../gate/shell/parser.ts");
  const { loadGateFile } = await import("../gate/file.ts");
  const gate = loadGateFile(file, await loadShellAnalyzer());
  if (!gate.ok) throw new CliError(formatLoadErrors(gate.errors, `the gate section of ${file}`));
  const { hard_stops, allow } = gate.gate.config;
  return `, gate: ${hard_stops.length} hard stops, ${allow.length} allow rules`;
}

interface EvalOptions {
  binary: string;
  ancestor?: string[];
  host: string;
  port: number;
  method?: string;
  path?: string;
  json?: boolean;
  exitCode?: boolean;
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command("policy").description("check, evaluate and manage policies");

  policy
    .command("check")
    .description("validate a policy file; print every error, or one summary per rule")
    .argument("<file>", "policy YAML file")
    .option("--json", "print the result as JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      const loaded = loadPolicyFile(file);
      if (opts.json) {
        printJson(
          loaded.ok
            ? { ok: true, warnings: loaded.warnings, rules: Object.keys(loaded.value.network_policies) }
            : loaded,
        );
        if (!loaded.ok) process.exitCode = EXIT_FAILURE;
        return;
      }
      const value = loadOrFail(file);
      const gate = value.gate === undefined ? "" : await checkGateSection(file);
      const rules = Object.entries(value.network_policies);
      process.stdout.write(`${file}: ok, ${rules.length} rule${rules.length === 1 ? "" : "s"}${gate}\n`);
      for (const [key, rule] of rules) process.stdout.write(`${renderRule(key, rule).join("\n")}\n`);
    });

  policy
    .command("eval")
    .description("decide one connection (or, with --method/--path, one HTTP request) against a policy")
    .argument("<file>", "policy YAML file")
    .requiredOption("--binary <path>", "executable making the connection")
    .option("--ancestor <path>", "an executable of the parent chain (repeatable, nearest first)", collect)
    .requiredOption("--host <host>", "destination host")
    .requiredOption("--port <port>", "destination port", parsePort)
    .option("--method <method>", "HTTP method (decides at L7)")
    .option("--path <path>", "request path with optional ?query (decides at L7)")
    .option("--json", "print the decision as JSON")
    .option("--exit-code", EXIT_CODE_HELP)
    .action((file: string, opts: EvalOptions) => {
      const compiled = compilePolicy(loadOrFail(file));
      const identity = { binary: opts.binary, ancestors: opts.ancestor ?? [] };
      const l7 = opts.method !== undefined || opts.path !== undefined;
      const result = l7
        ? decideRequest(compiled, {
            ...identity,
            host: opts.host,
            port: opts.port,
            method: opts.method ?? "GET",
            path: opts.path ?? "/",
          })
        : decideConnect(compiled, opts.host, opts.port, identity);
      const out = {
        decision: result.decision,
        layer: result.layer,
        policy: result.policy,
        reason: result.reason,
        ...(result.ruleMissing ? { rule_missing: result.ruleMissing } : {}),
        ...("inspect" in result ? { inspect: result.inspect } : { method: result.method, path: result.path }),
        ...("auditViolation" in result && result.auditViolation
          ? { audit_violation: result.auditViolation }
          : {}),
      };
      if (opts.json) printJson(out);
      else {
        const target =
          "path" in result
            ? `${result.method} ${opts.host}:${opts.port}${result.path}`
            : `${opts.host}:${opts.port}`;
        process.stdout.write(
          `${result.decision.toUpperCase()} ${target} [layer:${result.layer} policy:${result.policy ?? "-"}] ${result.reason}\n`,
        );
        if (result.ruleMissing) process.stdout.write(`missing: ${JSON.stringify(result.ruleMissing)}\n`);
      }
      if (opts.exitCode) process.exitCode = decisionExitCode(result.decision);
    });
}
