// `airlock inbox`: starts the local gateway if needed and prints a one-time login link that works
// once; --open never fails when no opener is installed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

test("airlock inbox prints a one-time login link; --open without xdg-open still succeeds", {
  timeout: 60_000,
}, async () => {
  const home = mkdtempSync(join(tmpdir(), "airlock-inbox-cli-"));
  const env = { ...process.env, AIRLOCK_HOME: home, AIRLOCK_GATEWAY: "", AIRLOCK_TOKEN: "" };
  const airlock = async (args: string[], extraEnv: Record<string, string> = {}) => {
    try {
      const r = await run(process.execPath, ["bin/airlock.js", ...args], {
        env: { ...env, ...extraEnv },
        timeout: 30_000,
      });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  try {
    const first = await airlock(["inbox"]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^gateway started\nhttp:\/\/127\.0\.0\.1:\d+\/inbox\/login\?code=\S+\n$/);
    assert.match(first.err, /one-time link, valid until/);

    // No opener on PATH: still exit 0, the link is printed, opened: false.
    const json = await airlock(["inbox", "--open", "--json"], { PATH: join(home, "no-such-dir") });
    assert.equal(json.code, 0, json.err);
    const link = JSON.parse(json.out) as { url: string; expires_at: string; opened: boolean };
    assert.equal(link.opened, false);
    assert.ok(Date.parse(link.expires_at) > Date.now());

    const login = () => fetch(link.url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
    const ok = await login();
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/inbox");
    assert.match(ok.headers.get("set-cookie") ?? "", /^airlock_inbox=/);
    assert.equal((await login()).status, 400);
  } finally {
    await airlock(["gateway", "stop"]);
    rmSync(home, { recursive: true, force: true });
  }
});
