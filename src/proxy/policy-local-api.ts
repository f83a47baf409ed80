// The one definition of the `policy.local` agent API (docs/design.md §5). The deny body's
// `next_steps` are derived from it here, and the sandbox's router is built from the same table,
// so the two cannot drift apart. Pure.

export const POLICY_LOCAL_HOST = "policy.local";
export const POLICY_LOCAL_PORT = 80;
export const POLICY_LOCAL_BASE = `http://${POLICY_LOCAL_HOST}`;
export const SKILL_PATH = "/etc/airlock/skills/policy_advisor.md";
/** Request bodies to policy.local are capped at this size and read within the header timeout. */
export const POLICY_LOCAL_MAX_BODY = 64 * 1024;

export type PolicyLocalAction =
  | "inspect_policy"
  | "inspect_recent_denials"
  | "submit_proposal"
  | "get_proposal"
  | "wait_proposal"
  | "decide_tool_call";

export interface PolicyLocalRoute {
  method: "GET" | "POST";
  /** Path template; `{id}` is one path segment. */
  path: string;
  action: PolicyLocalAction;
  description: string;
  /** Example query for the deny body's next step (e.g. `last=5`). */
  exampleQuery?: string;
  /** Listed in a deny body's next_steps, in table order. */
  nextStep: boolean;
}

export const POLICY_LOCAL_ROUTES: readonly PolicyLocalRoute[] = [
  {
    method: "GET",
    path: "/v1/policy/current",
    action: "inspect_policy",
    description: "the policy the sandbox enforces now: {format, policy_yaml, version, hash}",
    nextStep: true,
  },
  {
    method: "GET",
    path: "/v1/denials",
    action: "inspect_recent_denials",
    description: "recent denials as shorthand log lines, newest first (?last=N, 1..100)",
    exampleQuery: "last=5",
    nextStep: true,
  },
  {
    method: "POST",
    path: "/v1/proposals",
    action: "submit_proposal",
    description: "propose policy operations ({intent_summary?, operations:[{addRule:{ruleName, rule}}]})",
    nextStep: true,
  },
  {
    method: "GET",
    path: "/v1/proposals/{id}",
    action: "get_proposal",
    description: "one proposal chunk: status, rule, validation result",
    nextStep: false,
  },
  {
    method: "GET",
    path: "/v1/proposals/{id}/wait",
    action: "wait_proposal",
    description: "block until the chunk is decided (?timeout=S, 1..300, default 60)",
    nextStep: false,
  },
  {
    method: "POST",
    path: "/v1/gate/hook/{agent}",
    action: "decide_tool_call",
    description:
      "the gate's answer for one of the agent's own tool calls (its PreToolUse payload; ?wait=S for an ask); what bin/airlock-hook uses inside the sandbox",
    nextStep: false,
  },
];

export type NextStep =
  | { action: "read_skill"; path: string }
  | { action: PolicyLocalAction; method: string; url: string };

/** The `next_steps` of a deny body: the skill file, then every route marked as a next step. */
export function denyNextSteps(): NextStep[] {
  return [
    { action: "read_skill", path: SKILL_PATH },
    ...POLICY_LOCAL_ROUTES.filter((r) => r.nextStep).map((r) => ({
      action: r.action,
      method: r.method,
      url: `${POLICY_LOCAL_BASE}${r.path}${r.exampleQuery ? `?${r.exampleQuery}` : ""}`,
    })),
  ];
}

export interface RouteMatch {
  route: PolicyLocalRoute;
  params: Record<string, string>;
}

/**
 * The route for a request path (query already removed), or why there is none:
 * `not_found` (no path matches) or `method_not_allowed` (the path exists for another method).
 */
export function matchPolicyLocalRoute(
  method: string,
  path: string,
): RouteMatch | { error: "not_found" | "method_not_allowed" } {
  const segments = path.split("/");
  let pathMatched = false;
  for (const route of POLICY_LOCAL_ROUTES) {
    const pattern = route.path.split("/");
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (const [i, part] of pattern.entries()) {
      const seg = segments[i] as string;
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name !== undefined) {
        if (seg === "") ok = false;
        else params[name] = decodeSegment(seg);
      } else if (part !== seg) ok = false;
      if (!ok) break;
    }
    if (!ok) continue;
    pathMatched = true;
    if (route.method === method.toUpperCase()) return { route, params };
  }
  return { error: pathMatched ? "method_not_allowed" : "not_found" };
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}
