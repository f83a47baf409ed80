// The `gate:` section (docs/design.md §10): hard stops, capability catalog, contained runs, classifier.
import { z } from "zod";
import { parseHostPattern } from "../policy/host.ts";
import { MethodSchema, PathGlobSchema } from "../policy/schema.ts";
import { DANGEROUS_ENV } from "./shell/grammar.ts";

const oneOrMany = <T extends z.core.$ZodType>(item: T) =>
  z.union([item, z.array(item).min(1, { error: "needs at least one entry" })], {
    error: "must be a string or a list of strings",
  });

const NonEmpty = z.string().min(1, { error: "must not be empty" });

export const CAPABILITIES = [
  "read_file",
  "write_file",
  "exec_command",
  "network_fetch",
  "package_install",
  "vcs_write",
  "deploy",
  "secret_resolve",
  "memory_write",
  "mcp_call",
  "delete_data",
  "public_exposure",
  "gate_config",
] as const;

export const ShellMatchSchema = z.strictObject({
  /** Command names (basename, `*` glob) or absolute paths. */
  command: oneOrMany(NonEmpty),
  /** First operand (git: after global options), e.g. `push` or `[status, log, diff]`. */
  subcommand: oneOrMany(NonEmpty).optional(),
  /** Every one of these flags is present (normalised: `-fr` = `--recursive --force`). */
  flags: oneOrMany(NonEmpty).optional(),
  /** None of these flags is present. */
  no_flags: oneOrMany(NonEmpty).optional(),
  /** Some operand matches one of these globs (`*` matches anything). */
  any_arg: oneOrMany(z.string()).optional(),
  /** Every operand matches one of these globs. */
  all_args: oneOrMany(z.string()).optional(),
  /** Some operand, as a path, lies outside the workdir (or is the workdir itself). */
  outside_workdir: z.boolean().optional(),
});

export const McpMatchSchema = z.strictObject({
  server: oneOrMany(NonEmpty),
  tool: oneOrMany(NonEmpty).default("*"),
  /** Argument name → value globs (non-string values are compared as JSON). */
  arguments: z.record(z.string(), oneOrMany(z.string())).optional(),
});

const HostSchema = z.string().superRefine((host, ctx) => {
  const parsed = parseHostPattern(host);
  if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
});

export const FetchMatchSchema = z.strictObject({
  method: oneOrMany(MethodSchema).optional(),
  host: oneOrMany(HostSchema),
  path: oneOrMany(PathGlobSchema).optional(),
});

/** Stands for every file a host tool runs or obeys on its own (the sandbox's table of them). */
export const HOST_RUN_FILES = "$HOST_RUN_FILES";

const FileGlobSchema = z.string().superRefine((glob, ctx) => {
  if (glob === HOST_RUN_FILES) return;
  if (glob === "") ctx.addIssue({ code: "custom", message: "path glob must not be empty" });
  if (/(^|\/)\.\.(\/|$)/.test(glob))
    ctx.addIssue({ code: "custom", message: `"${glob}" must not contain ..` });
  const rest = /^\$AIRLOCK_HOME(\/|$)/.test(glob) ? glob.slice("$AIRLOCK_HOME".length) : glob;
  if (rest.includes("$"))
    ctx.addIssue({
      code: "custom",
      message: `"${glob}": the only variables a path may use are a leading $AIRLOCK_HOME and ${HOST_RUN_FILES} alone`,
    });
});

export const FileMatchSchema = z.strictObject({
  op: z.enum(["read", "write", "any"]).default("any"),
  /** `/abs/**`, `~/x/**`, `**\/name` (anywhere), or relative to the workdir. */
  path: oneOrMany(FileGlobSchema),
});

export const ToolMatchSchema = z.strictObject({ name: oneOrMany(NonEmpty) });

export const ExampleCallSchema = z.union(
  [
    z.string(),
    z.strictObject({ shell: z.string() }),
    z.strictObject({
      mcp: z.strictObject({
        server: z.string(),
        tool: z.string(),
        arguments: z.record(z.string(), z.unknown()).default({}),
      }),
    }),
    z.strictObject({ fetch: z.string() }),
    z.strictObject({ file_read: z.string() }),
    z.strictObject({ file_write: z.string() }),
    z.strictObject({ tool: z.string() }),
  ],
  { error: "an example is a string or one of {shell|mcp|fetch|file_read|file_write|tool: ...}" },
);

const MATCHERS = ["shell", "mcp", "fetch", "file", "tool"] as const;

const ruleFields = {
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, { error: "id must be letters, digits, _ . : -" })
    .optional(),
  reason: z.string().optional(),
  capabilities: z.array(z.enum(CAPABILITIES)).default([]),
  shell: ShellMatchSchema.optional(),
  mcp: McpMatchSchema.optional(),
  fetch: FetchMatchSchema.optional(),
  file: FileMatchSchema.optional(),
  tool: ToolMatchSchema.optional(),
  match: z.array(ExampleCallSchema).default([]),
  not_match: z.array(ExampleCallSchema).default([]),
};

function exactlyOneMatcher(rule: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const present = MATCHERS.filter((m) => rule[m] !== undefined);
  if (present.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message:
        present.length === 0
          ? "a rule needs one of shell, mcp, fetch, file, tool"
          : `a rule matches one kind of call; it has ${present.join(" and ")}`,
    });
  }
}

export const AllowRuleSchema = z.strictObject(ruleFields).superRefine(exactlyOneMatcher);

export const HardStopSchema = z
  .strictObject({
    ...ruleFields,
    decision: z.enum(["deny", "ask"], {
      error: (iss) => `must be deny or ask, got ${JSON.stringify(iss.input)}`,
    }),
    reason: z.string().min(1, { error: "a hard stop needs a reason (it is shown to the agent)" }),
  })
  .superRefine(exactlyOneMatcher);

export const ContainSchema = z.strictObject({
  /** Calls eligible for a contained run (shell rules). */
  rules: z.array(AllowRuleSchema).default([]),
  commit: z
    .strictObject({
      /** Changes touching these (relative to the workdir, or `**\/x`) are never committed. */
      protected: z.array(FileGlobSchema).default([".git/**", "**/.env", "**/.env.*", ".airlock/**"]),
      max_files: z.number().int().positive().default(10000),
      max_bytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024 * 1024),
    })
    .prefault({}),
  /** Seconds a contained run may take before it is killed and discarded. */
  timeout_seconds: z.number().positive().default(600),
});

export const ClassifierSchema = z.strictObject({
  endpoint: z.url({ error: "endpoint must be a URL such as http://127.0.0.1:11434/v1" }),
  model: NonEmpty,
  /** Files whose text steers the classifier (AGENTS.md, CONTRIBUTING.md...), relative to the policy file. */
  instructions: z.array(NonEmpty).default([]),
  timeout_ms: z.number().int().positive().max(120000).default(5000),
  /** Name of the environment variable holding the API key (never the key itself). */
  api_key_env: z.string().optional(),
  failure_threshold: z.number().int().positive().default(3),
  cooldown_ms: z.number().int().nonnegative().default(60000),
});

const InertEnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be a variable name" })
  .refine((name) => !DANGEROUS_ENV.test(name), {
    error: (iss) => `${String(iss.input)} changes what a command runs or loads; it can never be inert`,
  });

export const GateSchema = z.strictObject({
  default: z.enum(["ask", "deny"]).default("ask"),
  /** More variables a command prefix may set at tier 0 (`NAME=literal`), besides the built-in few. */
  inert_env: z.array(InertEnvName).default([]),
  hard_stops: z.array(HardStopSchema).default([]),
  allow: z.array(AllowRuleSchema).default([]),
  contain: ContainSchema.optional(),
  classifier: ClassifierSchema.optional(),
});

/** A gate file: the `gate:` key of a policy file or of a file of its own. */
export const GateDocumentSchema = z.looseObject({ gate: GateSchema });

export type GateConfig = z.infer<typeof GateSchema>;
export type AllowRule = z.infer<typeof AllowRuleSchema>;
export type HardStop = z.infer<typeof HardStopSchema>;
export type ShellMatch = z.infer<typeof ShellMatchSchema>;
export type McpMatch = z.infer<typeof McpMatchSchema>;
export type ExampleCall = z.infer<typeof ExampleCallSchema>;
export type ClassifierConfig = z.infer<typeof ClassifierSchema>;
export type ContainConfig = z.infer<typeof ContainSchema>;
export type Capability = (typeof CAPABILITIES)[number];
