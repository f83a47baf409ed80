// Policy language v1 (docs/design.md §3): the zod schema is the single source of the types.
// Written with zod/mini (the same checks and messages as zod's classic API): every CLI start
// loads this schema, and the classic API costs 10–15 ms more to load and build it. Other
// schemas (gateway, gate) use the classic API and take these in as they are.

import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { parseHostPattern } from "./host.ts";
import { ALWAYS_BLOCKED_RANGES, cidrsOverlap, parseCidr } from "./ip.ts";
import { validatePathGlob } from "./path.ts";

export const ACCESS_METHODS = {
  "read-only": ["GET", "HEAD", "OPTIONS"],
  "read-write": ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"],
  full: ["*"],
} as const;

// zod/mini has no messages of its own until a locale is set (classic zod sets the same one).
z.config(en());

const METHOD = /^(?:\*|[A-Za-z]{1,20})$/;

export const MethodSchema = z.pipe(
  z.string().check(
    z.refine((m) => METHOD.test(m), {
      error: (iss) => `must be an HTTP method or "*", got ${JSON.stringify(iss.input)}`,
    }),
  ),
  z.transform((m: string) => m.toUpperCase()),
);

export const PathGlobSchema = z.string().check(
  z.superRefine((glob, ctx) => {
    const problem = validatePathGlob(glob);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
);

export const PortSchema = z
  .number({ error: (iss) => `must be a port number, got ${JSON.stringify(iss.input)}` })
  .check(
    z.refine((p) => Number.isInteger(p) && p >= 1 && p <= 65535, {
      error: (iss) => `must be 1..65535, got ${String(iss.input)}`,
    }),
  );

const GlobListSchema = z.strictObject({
  any: z.array(z.string()).check(z.minLength(1, { error: "any: needs at least one glob" })),
});
export const QueryMatcherSchema = z.union([z.string(), GlobListSchema], {
  error: "must be a glob string or { any: [globs] }",
});
const QuerySchema = z.record(z.string().check(z.minLength(1)), QueryMatcherSchema);

export const L7AllowSchema = z.strictObject({
  method: MethodSchema,
  path: PathGlobSchema,
  query: z.optional(QuerySchema),
});
export const L7RuleSchema = z.strictObject({ allow: L7AllowSchema });
export const L7DenySchema = z.strictObject({
  method: z._default(MethodSchema, "*"),
  path: PathGlobSchema,
  query: z.optional(QuerySchema),
});

const L7_ONLY_FIELDS = ["access", "rules", "deny_rules", "enforcement", "allow_encoded_slash"] as const;

export const EndpointSchema = z
  .strictObject({
    host: z.string(),
    port: z.optional(PortSchema),
    ports: z.optional(z.array(PortSchema).check(z.minLength(1, { error: "ports: needs at least one port" }))),
    protocol: z.optional(
      // "tcp" is OpenShell's plain L4; Airlock treats it as an omitted protocol (with a warning).
      z.enum(["rest", "tcp"], {
        error: (iss) => `must be "rest", or "tcp" or omitted for L4, got ${JSON.stringify(iss.input)}`,
      }),
    ),
    enforcement: z.optional(z.enum(["enforce", "audit"])),
    access: z.optional(
      z.enum(["read-only", "read-write", "full"], {
        error: (iss) => `must be read-only, read-write or full, got ${JSON.stringify(iss.input)}`,
      }),
    ),
    rules: z.optional(z.array(L7RuleSchema)),
    deny_rules: z.optional(z.array(L7DenySchema)),
    allowed_ips: z.optional(z.array(z.string())),
    tls: z.optional(z.enum(["skip", "terminate"])),
    allow_encoded_slash: z.optional(z.boolean()),
    // OpenShell credential-rewriting switches: accepted so its files load; Airlock injects no credentials.
    websocket_credential_rewrite: z.optional(z.boolean()),
    request_body_credential_rewrite: z.optional(z.boolean()),
    allow_uninspected_credentials: z.optional(z.boolean()),
  })
  .check(
    z.superRefine(
      (ep, ctx) => {
        const host = typeof ep.host === "string" ? parseHostPattern(ep.host) : null;
        if (host && "error" in host) ctx.addIssue({ code: "custom", path: ["host"], message: host.error });
        if (ep.port === undefined && ep.ports === undefined) {
          ctx.addIssue({ code: "custom", path: ["port"], message: "endpoint needs port or ports" });
        }
        if (ep.port !== undefined && ep.ports !== undefined) {
          ctx.addIssue({ code: "custom", path: ["ports"], message: "give port or ports, not both" });
        }
        if (ep.protocol !== "rest") {
          for (const field of L7_ONLY_FIELDS) {
            if (ep[field] !== undefined) {
              ctx.addIssue({ code: "custom", path: [field], message: `${field} needs protocol: rest` });
            }
          }
        } else {
          if (ep.access === undefined && ep.rules === undefined) {
            ctx.addIssue({
              code: "custom",
              path: ["protocol"],
              message: "protocol: rest needs access or rules",
            });
          }
          if (ep.rules !== undefined && ep.rules.length === 0) {
            ctx.addIssue({
              code: "custom",
              path: ["rules"],
              message: "rules: [] allows nothing; remove it or add a rule",
            });
          }
          if (ep.tls === "skip") {
            ctx.addIssue({
              code: "custom",
              path: ["tls"],
              message: "tls: skip cannot be inspected; it needs an L4-only endpoint",
            });
          }
        }
        for (const [index, text] of (Array.isArray(ep.allowed_ips) ? ep.allowed_ips : []).entries()) {
          const range = typeof text === "string" ? parseCidr(text) : null;
          if (!range) {
            ctx.addIssue({
              code: "custom",
              path: ["allowed_ips", index],
              message: `"${text}" is not an IP address or CIDR`,
            });
            continue;
          }
          const blocked = ALWAYS_BLOCKED_RANGES.find((b) => cidrsOverlap(b.range, range));
          if (blocked) {
            ctx.addIssue({
              code: "custom",
              path: ["allowed_ips", index],
              message: `"${text}" overlaps ${blocked.label} space (${blocked.range.text}), which is always blocked`,
            });
          }
        }
        // Run even when other fields failed, so every problem is reported in one pass.
      },
      { when: () => true },
    ),
  );

const ABSOLUTE_GLOB = /^\/(?:[^\0]*)$/;
export const BinarySchema = z.strictObject({
  path: z.string().check(
    z.refine((p) => ABSOLUTE_GLOB.test(p) && !/(^|\/)\.\.(\/|$)/.test(p), {
      error: (iss) => `binary path must be absolute (glob allowed), got ${JSON.stringify(iss.input)}`,
    }),
  ),
  // The binary's descendants (what it runs, and what those run) get the rule too. Off by default:
  // a process can exec into a listed binary and leave children behind, so an ancestor grants
  // only where the rule says so (and review flags it).
  children: z.optional(z.boolean()),
  // OpenShell's deprecated flag; ignored with a warning.
  harness: z.optional(z.boolean()),
});

export const RULE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const NetworkRuleSchema = z.strictObject({
  name: z.optional(z.string()),
  endpoints: z.array(EndpointSchema).check(z.minLength(1, { error: "a rule needs at least one endpoint" })),
  binaries: z._default(z.array(BinarySchema), []),
});

function fsPath(allowHome: boolean, ...more: z.core.$ZodCheck<string>[]) {
  return z.string().check(
    z.superRefine((p, ctx) => {
      const absolute = p.startsWith("/") || (allowHome && (p === "~" || p.startsWith("~/")));
      if (!absolute) {
        ctx.addIssue({
          code: "custom",
          message: `path must be absolute${allowHome ? " or start with ~/" : ""}, got ${JSON.stringify(p)}`,
        });
      } else if (/(^|\/)\.\.(\/|$)/.test(p)) {
        ctx.addIssue({ code: "custom", message: `path must not contain "..", got ${JSON.stringify(p)}` });
      }
    }),
    ...more,
  );
}

/**
 * The sandbox's kernel filesystems: /proc and /dev are made for it (its own processes, a
 * minimal device set), /sys is the host's, shown read-only. A host path bound there would hide
 * the sandbox's own (the host's processes instead of its own, say) or make a host kernel
 * interface writable, and bubblewrap refuses some of those binds with a message naming neither
 * the policy nor the field. /dev/shm is a fresh tmpfs of the sandbox's, no kernel filesystem:
 * listing it keeps it fresh (docs/sandbox.md).
 */
const KERNEL_FILESYSTEMS = ["/proc", "/sys", "/dev"];
const DEV_SHM = "/dev/shm";

function notOnKernelFilesystem(field: string, filesystems: readonly string[]) {
  return z.superRefine((p: string, ctx) => {
    const under = (dir: string) => p === dir || p.startsWith(`${dir}/`);
    if (under(DEV_SHM)) return;
    const root = filesystems.find(under);
    if (root !== undefined)
      ctx.addIssue({
        code: "custom",
        message: `${field} must not be in ${root} (the sandbox's own kernel filesystem), got ${JSON.stringify(p)}`,
      });
  });
}

export const FilesystemPolicySchema = z.strictObject({
  include_workdir: z._default(z.boolean(), true),
  // /sys is shown read-only already; /proc and /dev are the sandbox's own.
  read_only: z._default(z.array(fsPath(true, notOnKernelFilesystem("read_only", ["/proc", "/dev"]))), []),
  read_write: z._default(
    z.array(
      fsPath(
        true,
        z.refine((p: string) => p.replace(/\/+$/, "") !== "", {
          error: "read_write must not be / (the whole filesystem)",
        }),
        notOnKernelFilesystem("read_write", KERNEL_FILESYSTEMS),
      ),
    ),
    [],
  ),
  deny: z._default(z.array(fsPath(true)), []),
  /**
   * What becomes of files the sandbox created or changed that a host tool runs or obeys on its
   * own (a new repository, a git hook, `.envrc`, agent or editor settings): listed at the end of
   * every run, and moved aside (`disarm`) or left in place (`keep`).
   */
  host_run_files: z.optional(z.enum(["disarm", "keep"])), // default: disarm
});

const UserSchema = z
  .union([z.number(), z.string()])
  .check(
    z.refine(
      (u) =>
        typeof u === "number"
          ? Number.isInteger(u) && u >= 0 && u < 2 ** 32
          : /^[a-z_][a-z0-9_-]*\$?$/i.test(u),
      { error: (iss) => `must be a uid number or a user name, got ${JSON.stringify(iss.input)}` },
    ),
  );
export const ProcessSchema = z.strictObject({
  run_as_user: z.optional(UserSchema),
  run_as_group: z.optional(UserSchema),
});

export const PolicySchema = z.strictObject({
  version: z.literal(1, { error: (iss) => `must be 1, got ${JSON.stringify(iss.input)}` }),
  filesystem_policy: z.optional(FilesystemPolicySchema),
  process: z.optional(ProcessSchema),
  network_policies: z._default(
    z.record(
      z.string().check(
        z.regex(RULE_KEY, {
          error: (iss) => `rule key ${JSON.stringify(iss.input)} must be letters, digits, _ . - (≤128)`,
        }),
      ),
      NetworkRuleSchema,
    ),
    {},
  ),
  // Accepted for OpenShell compatibility and reported as not enforced (see load.ts).
  landlock: z.optional(z.unknown()),
  network_middlewares: z.optional(z.unknown()),
  // Tool-call gate rules (docs/design.md §10); validated by src/gate with the same machinery.
  gate: z.optional(z.unknown()),
});

export type Policy = z.infer<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type NetworkRule = z.infer<typeof NetworkRuleSchema>;
export type Endpoint = z.infer<typeof EndpointSchema>;
export type L7Allow = z.infer<typeof L7AllowSchema>;
export type L7Deny = z.infer<typeof L7DenySchema>;
export type QueryMatcher = z.infer<typeof QueryMatcherSchema>;
export type Binary = z.infer<typeof BinarySchema>;
export type FilesystemPolicy = z.infer<typeof FilesystemPolicySchema>;
