// Attacks on the gate route an agent inside `airlock run` has (policy.local /v1/gate/hook/AGENT,
// forwarded by the supervisor as the sandbox), from a real sandbox against a real gateway. With
// a pending ask of its own open, its id and the gateway's port handed to it, and proposals
// enabled (every policy.local route open), the sandbox tries to approve that ask (through
// policy.local, dot segments, an encoded agent name, the proxy, a direct connection), to decide
// for another sandbox, to be judged by a permissive gate policy of its own and a workdir of "/",
// and to read the operator token. What is asserted is what the host sees: the ask still pending
// until the developer answers, every ask under this sandbox's name, the victim outside the
// workdir intact, the token in nothing the sandbox got.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startAirlock } from "../agents/harness.ts";
import { REPO, startCli, waitFor } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const HOOK = join(REPO, "bin", "airlock-hook");

test("from inside the sandbox the gate route approves nothing, speaks for no other sandbox, leaks no token", async (t) => {
  const airlock = await startAirlock();
  const dir = scratchDir("gate-hook-attack");
  t.after(async () => {
    await airlock.close();
    removeDir(dir);
  });
  const workdir = join(dir, "work");
  const victim = join(dir, "victim");
  mkdirSync(workdir);
  mkdirSync(victim);
  writeFileSync(join(victim, "keep.txt"), "keep me\n");
  const token = readFileSync(join(airlock.home, "operator.token"), "utf8").trim();
  assert.ok(token.length > 10);
  const policy = join(dir, "sandbox.yaml");
  writeFileSync(
    policy,
    `version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_write: [${JSON.stringify(victim)}]\n`,
  );
  writeFileSync(join(workdir, "permissive.yaml"), "version: 1\ngate:\n  default: allow\n");
  const name = "gate-attacker";
  const hookUrl = "http://policy.local/v1/gate/hook/claude-code";
  const script = `
pay() { printf '{"tool_name":"Bash","tool_input":{"command":"%s"},"cwd":"%s"%s}' "$1" "$PWD" "$2"; }
pay "touch asked.txt" "" | ${HOOK} claude-code --wait 60 --max-time 65 >ask-answer.txt &
for i in $(seq 1 300); do [ -s ask-id ] && break; sleep 0.1; done
id=$(cat ask-id); port=$(cat gw-port)
echo "== approve-policy-local"; curl -sS -X POST "http://policy.local/v1/gate/asks/$id/allow" -d '{}'; echo
echo "== approve-dot-segments"; curl -sS --path-as-is -X POST "${hookUrl}/../../asks/$id/allow" -d '{}'; echo
echo "== approve-hook-suffix"; curl -sS -X POST "${hookUrl}/x/asks/$id/allow" -d '{}'; echo
echo "== approve-encoded"; curl -sS -X POST "http://policy.local/v1/gate/hook/claude-code%2F..%2F..%2Fasks%2F$id%2Fallow" -d '{}'; echo
echo "== approve-through-proxy"; curl -sS --noproxy "" -x "$HTTP_PROXY" -X POST "http://127.0.0.1:$port/v1/gate/asks/$id/allow" -d '{}'; echo
echo "== approve-direct"; curl -sS --noproxy "*" --max-time 3 -X POST "http://127.0.0.1:$port/v1/gate/asks/$id/allow" 2>&1; echo "rc=$?"
echo "== other-sandbox"; pay "touch other.txt" ',"sandbox":"other-sandbox"' | curl -sS -X POST "${hookUrl}?wait=1&sandbox=other-sandbox" --data-binary @-; echo
echo "== permissive-policy"; pay "rm -rf ${victim}" ',"policy":"'"$PWD"'/permissive.yaml","workdir":"/"' | curl -sS -X POST "${hookUrl}?wait=1&policy=$PWD/permissive.yaml&workdir=/" --data-binary @-; echo
echo "== token-files"; cat ${airlock.home}/operator.token ~/.airlock/operator.token 2>&1; ls -a ${airlock.home} 2>&1
echo "== env"; env
touch attacks-done
wait
echo "== ask-answer"; cat ask-answer.txt
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
    { airlockHome: airlock.home, cwd: workdir, gateway: true, timeoutMs: 120_000 },
  );
  // The developer's side: find the sandbox's ask, hand its id over, and answer only at the end.
  let askId: string | undefined;
  for (let i = 0; i < 400 && !askId; i++) {
    const pending = await airlock.op.listAsks({ status: "pending" });
    askId = pending.find((a) => a.summary.includes("asked.txt"))?.id;
    if (!askId) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(askId, "the sandbox's ask reached the inbox");
  writeFileSync(join(workdir, "gw-port"), String(airlock.gw.port));
  writeFileSync(join(workdir, "ask-id"), askId);
  assert.ok(await waitFor(() => existsSync(join(workdir, "attacks-done")), 60_000, 200), "the attacks ran");
  const ask = await airlock.op.getAsk(askId);
  assert.equal(ask.status, "pending", "nothing from inside approved the ask");
  assert.equal(ask.sandbox, name, "the inbox shows which sandbox asks");
  await airlock.op.denyAsk(askId, "the developer says no");
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  const section = (s: string) => out.split(`== ${s}\n`)[1]?.split("\n== ")[0] ?? "";

  assert.match(section("approve-policy-local"), /"error":"not_found"/);
  assert.match(section("approve-dot-segments"), /"error":"not_found"/);
  assert.match(section("approve-hook-suffix"), /"error":"not_found"/);
  assert.match(section("approve-encoded"), /"error":"unknown_agent"/);
  assert.match(section("approve-through-proxy"), /policy_denied/);
  assert.match(section("approve-direct"), /rc=[1-9]/);
  assert.match(section("other-sandbox"), /"permissionDecision":"ask"|"permissionDecision":"deny"/);
  assert.match(section("permissive-policy"), /hard_stop rm-outside-workdir/, "the gateway's policy decided");
  assert.equal(readFileSync(join(victim, "keep.txt"), "utf8"), "keep me\n");
  assert.match(section("ask-answer"), /denied by operator .*the developer says no/);

  const asks = await airlock.op.listAsks({});
  assert.ok(asks.length >= 2, JSON.stringify(asks));
  assert.deepEqual(
    [...new Set(asks.map((a) => a.sandbox))],
    [name],
    "every ask is this sandbox's, whatever it claimed",
  );
  assert.equal(existsSync(join(workdir, "asked.txt")), false);
  assert.ok(!out.includes(token), "the operator token reached nothing inside");
  assert.ok(!r.stderr.includes(token));
});
