// Who is calling the API: the operator (bearer token, or a web inbox session cookie) or a sandbox
// (its own token), and what each may reach. Shared by the route modules.
import { GatewayError } from "./gateway-error.ts";

export type Principal = { kind: "operator"; via: "token" | "cookie" } | { kind: "sandbox"; sandbox: string };

export type ApiEnv = { Variables: { principal: Principal } };

/** The name decisions are recorded under: `operator`, `inbox` (web inbox) or `sandbox:NAME`. */
export function actorOf(p: Principal): string {
  if (p.kind === "sandbox") return `sandbox:${p.sandbox}`;
  return p.via === "cookie" ? "inbox" : "operator";
}

/**
 * The sandbox a call acts for, wherever the route names it: the operator gets what it named (or
 * none); a sandbox token gets its own, and naming any other is refused, never quietly replaced.
 */
export function actingSandbox(p: Principal, named: string | undefined): string | undefined {
  if (p.kind === "operator") return named;
  if (named !== undefined && named !== p.sandbox)
    throw new GatewayError(403, "forbidden", "a sandbox token may only act for its own sandbox");
  return p.sandbox;
}

/** Whether a resource of `sandbox` exists for this caller: a sandbox token sees only its own. */
export function sees(p: Principal, sandbox: string | null): boolean {
  return p.kind === "operator" || p.sandbox === sandbox;
}
