// Where the line is for the agent's login (docs/security.md, limit 6): with the preset the
// sandbox can rewrite `~/.claude/.credentials.json` (the client inside must store its refreshed
// token, and nothing in the file proves a new login is the same account's); with the file denied
// as documented, the host's login can be neither read nor replaced from inside.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { assertAllOk, checkNames, mustFail, mustPass } from "./fs-helpers.ts";

const PRESET = join(REPO, "examples", "policies", "claude-code.yaml");
const HOST_LOGIN = '{"claudeAiOauth":{"accessToken":"host-access","refreshToken":"host-refresh"}}\n';
const OTHER_LOGIN = '{"claudeAiOauth":{"accessToken":"other-access","refreshToken":"other-refresh"}}';

let dir: string;
let home: string;
let wd: string;
let credentials: string;
before(() => {
  dir = scratchDir("attack-claude-login");
  home = join(dir, "user");
  wd = join(home, "work");
  credentials = join(home, ".claude", ".credentials.json");
  mkdirSync(wd, { recursive: true });
  mkdirSync(join(home, ".claude"));
});
after(() => removeDir(dir));

const run = (policy: string, checks: string[], name: string) =>
  runCli(["run", "--policy", policy, "--workdir", wd, "--", "/bin/sh", "-c", checks.join("\n")], {
    airlockHome: join(dir, `airlock-${name}`),
    env: { HOME: home, XDG_STATE_HOME: join(dir, "state") },
  });

test("the limit as it stands: with the preset the sandbox replaces the host's login", async () => {
  writeFileSync(credentials, HOST_LOGIN, { mode: 0o600 });
  const checks = [mustPass("replace", `echo '${OTHER_LOGIN}' > ${credentials}`)];
  const result = await run(PRESET, checks, "preset");
  assertAllOk(result.stdout, checkNames(checks), result.stderr);
  assert.match(readFileSync(credentials, "utf8"), /other-refresh/);
});

test("denied as docs/security.md says: the host's login is neither read nor replaced", async () => {
  writeFileSync(credentials, HOST_LOGIN, { mode: 0o600 });
  const text = readFileSync(PRESET, "utf8");
  const policy = join(dir, "denied.yaml");
  const adapted = text.replace("deny: [", "deny: [~/.claude/.credentials.json, ");
  assert.notEqual(adapted, text);
  writeFileSync(policy, adapted);
  const checks = [
    mustFail("read", `grep -q host-refresh ${credentials}`),
    mustFail("replace", `echo '${OTHER_LOGIN}' > ${credentials}`),
    mustFail("rename", `echo '${OTHER_LOGIN}' > ${home}/.claude/c && mv ${home}/.claude/c ${credentials}`),
    mustPass("state", `echo '{}' > ${home}/.claude/state.json`),
  ];
  const result = await run(policy, checks, "denied");
  assertAllOk(result.stdout, checkNames(checks), result.stderr);
  assert.equal(readFileSync(credentials, "utf8"), HOST_LOGIN);
});
