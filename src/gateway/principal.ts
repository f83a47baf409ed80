// Who is calling the API: the operator (bearer token, or a web inbox session cookie) or a sandbox
// (its own token). Shared by the route modules.
export type Principal = { kind: "operator"; via: "token" | "cookie" } | { kind: "sandbox"; sandbox: string };

export type ApiEnv = { Variables: { principal: Principal } };

/** The name decisions are recorded under: `operator`, `inbox` (web inbox) or `sandbox:NAME`. */
export function actorOf(p: Principal): string {
  if (p.kind === "sandbox") return `sandbox:${p.sandbox}`;
  return p.via === "cookie" ? "inbox" : "operator";
}
