// A failed zod parse as one line for an API error's detail: `path: message` per issue, joined by
// "; ", with `root` standing for an empty path. One formatter for every body the gateway and the
// supervisor check (policy files get located `file:line:col` problems from load.ts instead).

export interface ZodIssueLike {
  path: readonly PropertyKey[];
  message: string;
}

export function formatZodIssues(issues: readonly ZodIssueLike[], root: string): string {
  return issues.map((i) => `${i.path.join(".") || root}: ${i.message}`).join("; ");
}
