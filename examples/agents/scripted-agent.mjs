#!/usr/bin/env node
// A scripted coding agent for `airlock demo` (no model behind it). It does what the skill
// file tells an agent to do after a structured 403: read the skill, inspect the policy and
// the recent denials, propose the narrowest rule, wait for the decision, retry.
// All network calls go through /usr/bin/curl, so the sandbox's proxy sees curl as the binary.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const target = process.env.DEMO_TARGET ?? "https://api.github.com/repos/acme/site/contents/docs/getting-started.md";
const content = Buffer.from("# Getting started\n\nWritten by the agent inside an Airlock sandbox.\n").toString("base64");
const say = (line) => process.stdout.write(`agent> ${line}\n`);

function curl(method, url, body) {
  const args = ["-sS", "-X", method, "-H", "content-type: application/json", "-w", "\n%{http_code}", url];
  if (body !== undefined) args.push("--data-binary", JSON.stringify(body));
  const out = execFileSync("/usr/bin/curl", args, { encoding: "utf8", timeout: 320_000 });
  const cut = out.lastIndexOf("\n");
  const text = out.slice(0, cut);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(out.slice(cut + 1)), text, json };
}

function putFile() {
  return curl("PUT", target, { message: "docs: getting started", content });
}

say(`PUT ${target}`);
const first = putFile();
if (first.status !== 403 || first.json?.error !== "policy_denied") {
  say(`expected a structured 403, got HTTP ${first.status}: ${first.text.slice(0, 200)}`);
  process.exit(first.status < 400 ? 0 : 1);
}
const deny = first.json;
say(`denied at ${deny.layer}: ${deny.reason} (policy ${deny.policy ?? "-"})`);
process.stdout.write(`${JSON.stringify(deny, null, 2)}\n`);

const skillPath = deny.next_steps.find((s) => s.action === "read_skill")?.path;
if (!skillPath) {
  say("the deny body has no next steps: agent proposals are turned off for this sandbox");
  process.exit(1);
}
const skill = readFileSync(skillPath, "utf8");
say(`read ${skillPath} (${skill.split("\n").length} lines)`);

const step = (action) => deny.next_steps.find((s) => s.action === action);
const current = curl("GET", step("inspect_policy").url);
say(`current policy: version ${current.json?.version}, hash ${String(current.json?.hash).slice(0, 12)}…`);
const denials = curl("GET", step("inspect_recent_denials").url);
say(`recent denials: ${denials.json?.denials?.length ?? 0}; newest: ${denials.json?.denials?.[0] ?? "-"}`);

// The narrowest rule: exactly the denied method and path, for exactly this binary.
const missing = deny.rule_missing;
const proposal = {
  intent_summary: `Write ${missing.path.split("/").pop()} to the docs of the repository`,
  operations: [
    {
      addRule: {
        ruleName: `put_${missing.path.split("/").pop().replace(/[^A-Za-z0-9]/g, "_")}`,
        rule: {
          endpoints: [
            {
              host: missing.host,
              port: missing.port,
              protocol: "rest",
              enforcement: "enforce",
              rules: [{ allow: { method: missing.method, path: missing.path } }],
            },
          ],
          binaries: [{ path: missing.binary }],
        },
      },
    },
  ],
};
say(`proposing ${missing.method} ${missing.path} on ${missing.host}:${missing.port} for ${missing.binary}`);
const submitted = curl("POST", step("submit_proposal").url, proposal);
if (submitted.status !== 202 || !submitted.json?.accepted_chunk_ids?.length) {
  say(`proposal not accepted (HTTP ${submitted.status}): ${submitted.text.slice(0, 300)}`);
  process.exit(1);
}
const id = submitted.json.accepted_chunk_ids[0];
say(`submitted as chunk ${id}; waiting for the developer`);

const waitTimeout = Number(process.env.DEMO_WAIT_SECONDS ?? 120);
let decision;
for (let round = 0; round < 5; round++) {
  decision = curl("GET", `http://policy.local/v1/proposals/${id}/wait?timeout=${waitTimeout}`).json;
  if (decision?.status !== "pending") break;
  say("still pending; waiting again");
}
if (decision?.status === "rejected") {
  say(`rejected: ${decision.rejection_reason ?? "(no reason)"}${decision.rejection_hint ? ` [hint: ${decision.rejection_hint}]` : ""}`);
  process.exit(2);
}
if (decision?.status !== "approved" || decision.policy_reloaded !== true) {
  say(`no usable decision: ${JSON.stringify(decision)}`);
  process.exit(1);
}
say("approved and the sandbox's policy is reloaded; retrying");
const retry = putFile();
say(`retry: HTTP ${retry.status}`);
process.exit(retry.status >= 200 && retry.status < 300 ? 0 : 1);
