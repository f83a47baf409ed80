// A sandbox trying to bury the developer: from inside a real `airlock run`, an agent fires a dozen
// proposals at policy.local and eight gate hooks at once. What is asserted is what the host's
// gateway holds afterwards (no more pending proposals and asks than the bounds allow, every one
// under this sandbox's name), what the agent read (a 429 it can act on, a denial for each ask
// refused, never an allow), that no refused call ran, and the refusals in the gateway's log.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { homePaths } from "../../src/protocol/home.ts";
import { startAirlock } from "../agents/harness.ts";
import { startCli, waitFor } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const PROPOSALS = 12;
const HOOKS = 8;
const MAX_PROPOSALS = 5;
const MAX_ASKS = 3;

test("a sandbox cannot leave more proposals and asks pending than its bounds; the excess is refused, denied and logged", async (t) => {
  const airlock = await startAirlock();
  const dir = scratchDir("flood-limits");
  t.after(async () => {
    await airlock.close();
    removeDir(dir);
  });
  const workdir = join(dir, "work");
  mkdirSync(workdir);
  const policy = join(dir, "sandbox.yaml");
  writeFileSync(policy, "version: 1\nfilesystem_policy:\n  include_workdir: true\n");
  await airlock.op.setSetting("max_pending_proposals", MAX_PROPOSALS);
  await airlock.op.setSetting("max_pending_asks", MAX_ASKS);
  const name = "flooder";
  const script = `
rule() { printf '{"intent_summary":"flood %s","operations":[{"addRule":{"ruleName":"flood_%s","rule":{"endpoints":[{"host":"h%s.example.com","port":443}],"binaries":[{"path":"/usr/bin/curl"}]}}}]}' "$1" "$1" "$1"; }
for i in $(seq 1 ${PROPOSALS}); do
  rule "$i" | curl -sS -o "proposal-$i.json" -w '%{http_code}\\n' -X POST http://policy.local/v1/proposals -H 'content-type: application/json' --data-binary @- >> codes.txt
done
for i in $(seq 1 ${HOOKS}); do
  printf '{"tool_name":"Bash","tool_input":{"command":"touch flood-%s.txt"},"cwd":"%s"}' "$i" "$PWD" |
    curl -sS -X POST "http://policy.local/v1/gate/hook/claude-code?wait=90" --data-binary @- > "hook-$i.json" &
done
wait
touch done
`;
  const run = startCli(
    [
      "run",
      "--name",
      name,
      "--enable-proposals",
      "--policy",
      policy,
      "--workdir",
      workdir,
      "--",
      "bash",
      "-c",
      script,
    ],
    { airlockHome: airlock.home, cwd: workdir, gateway: true, timeoutMs: 150_000 },
  );
  const answered = () =>
    Array.from({ length: HOOKS }, (_, i) => join(workdir, `hook-${i + 1}.json`)).filter(
      (f) => existsSync(f) && readFileSync(f, "utf8").trim() !== "",
    );
  // The refused hooks answer at once; the others wait for the developer.
  assert.ok(
    await waitFor(() => answered().length >= HOOKS - MAX_ASKS, 90_000, 200),
    "the refused hooks answered",
  );
  const pendingAsks = await airlock.op.listAsks({ status: "pending" });
  assert.equal(pendingAsks.length, MAX_ASKS, JSON.stringify(pendingAsks.map((a) => a.summary)));
  assert.ok(pendingAsks.every((a) => a.sandbox === name));
  for (const ask of pendingAsks) await airlock.op.denyAsk(ask.id, "the developer says no");
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(workdir, "done")));

  // Proposals: the first five stored, the rest refused with a reason the agent can read.
  const codes = readFileSync(join(workdir, "codes.txt"), "utf8").trim().split("\n");
  assert.deepEqual(codes, [
    ...Array(MAX_PROPOSALS).fill("202"),
    ...Array(PROPOSALS - MAX_PROPOSALS).fill("429"),
  ]);
  const refused = JSON.parse(readFileSync(join(workdir, `proposal-${PROPOSALS}.json`), "utf8")) as {
    error: string;
    detail: string;
  };
  assert.equal(refused.error, "too_many_pending_proposals");
  assert.match(refused.detail, new RegExp(`sandbox ${name} already has ${MAX_PROPOSALS} pending proposals`));
  const chunks = await airlock.op.listChunks({ sandbox: name });
  assert.equal(chunks.length, MAX_PROPOSALS, "nothing past the bound was stored, not even as rejected");
  assert.ok(chunks.every((c) => c.status === "pending"));

  // Asks: every hook got an answer, none an allow; the refused ones say why; nothing ran.
  const verdicts = answered().map((f) => {
    const out = JSON.parse(readFileSync(f, "utf8")) as {
      hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string };
    };
    return out.hookSpecificOutput;
  });
  assert.equal(verdicts.length, HOOKS);
  assert.ok(
    verdicts.every((v) => v.permissionDecision === "deny"),
    JSON.stringify(verdicts),
  );
  assert.equal(
    verdicts.filter((v) => /too_many_pending_asks/.test(v.permissionDecisionReason)).length,
    HOOKS - MAX_ASKS,
  );
  assert.equal(
    verdicts.filter((v) => /the developer says no/.test(v.permissionDecisionReason)).length,
    MAX_ASKS,
  );
  assert.equal(readdirSync(workdir).filter((f) => f.startsWith("flood-")).length, 0);
  assert.equal((await airlock.op.listAsks({})).length, MAX_ASKS, "no refused ask was stored");

  // The developer's record: one refusal event per refused item, naming the sandbox.
  const logDir = homePaths(airlock.home).gatewayAudit;
  const events = readdirSync(logDir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => readFileSync(join(logDir, f), "utf8").trim().split("\n"))
    .map(
      (line) =>
        JSON.parse(line) as { unmapped: { airlock: { sandbox?: string; config?: { name: string } } } },
    );
  const named = (setting: string) =>
    events.filter((e) => e.unmapped.airlock.config?.name === setting && e.unmapped.airlock.sandbox === name)
      .length;
  assert.equal(named("max_pending_proposals"), PROPOSALS - MAX_PROPOSALS);
  assert.equal(named("max_pending_asks"), HOOKS - MAX_ASKS);
});
