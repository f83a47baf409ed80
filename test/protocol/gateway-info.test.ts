// $AIRLOCK_HOME/gateway.json is checked, never cast: a damaged or planted file is an error naming
// the file and the field, and the CLI stops with exit 1 before it sends the token anywhere.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { GatewayClient } from "../../src/protocol/client.ts";
import { GatewayInfoError, readGatewayInfo } from "../../src/protocol/gateway-info.ts";
import { gatewayInfoFile } from "../../src/protocol/home.ts";
import { runCli } from "../sandbox/cli-helpers.ts";

const GOOD = {
  pid: 4242,
  port: 7411,
  host: "127.0.0.1",
  url: "http://127.0.0.1:7411",
  db: "sqlite:/home/u/.airlock/gateway.db",
  started_at: "2026-01-01T00:00:00.000Z",
};

describe("gateway.json", () => {
  const home = mkdtempSync(join(tmpdir(), "airlock-info-"));
  const file = gatewayInfoFile(home);
  after(() => rmSync(home, { recursive: true, force: true }));

  const fails = (content: string, problem: RegExp) => {
    writeFileSync(file, content);
    assert.throws(
      () => readGatewayInfo(home),
      (e: unknown) => {
        assert.ok(e instanceof GatewayInfoError, String(e));
        assert.equal(e.file, file);
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        assert.match(e.message, problem);
        return true;
      },
    );
  };

  it("absent is null; what `airlock gateway run` writes reads back as it is", () => {
    rmSync(file, { force: true });
    assert.equal(readGatewayInfo(home), null);
    writeFileSync(file, JSON.stringify(GOOD, null, 2));
    assert.deepEqual(readGatewayInfo(home), GOOD);
    writeFileSync(file, JSON.stringify({ ...GOOD, host: "::1", url: "http://[::1]:7411" }));
    assert.equal(readGatewayInfo(home)?.url, "http://[::1]:7411");
  });

  it("anything else names the file and the field", () => {
    fails("", /not JSON/);
    fails("{", /not JSON/);
    fails("[]", /\(file\): /);
    fails(JSON.stringify({ ...GOOD, port: "7411" }), /port: /);
    fails(JSON.stringify({ ...GOOD, port: 0 }), /port: /);
    fails(JSON.stringify({ ...GOOD, port: 7411.5 }), /port: /);
    fails(JSON.stringify({ ...GOOD, pid: -1 }), /pid: /);
    fails(JSON.stringify({ ...GOOD, url: undefined }), /url: /);
    fails(JSON.stringify({ ...GOOD, url: 42 }), /url: /);
    // Only a host and port: no path, query or userinfo for the token to be sent along to.
    fails(JSON.stringify({ ...GOOD, url: "http://127.0.0.1:7411/v1/x?y" }), /url: must be an http\(s\) URL/);
    fails(JSON.stringify({ ...GOOD, url: "file:///etc/passwd" }), /url: /);
    fails(JSON.stringify({ ...GOOD, url: "http://a b" }), /url: /);
    fails(JSON.stringify({ ...GOOD, started_at: null }), /started_at: /);
  });

  it("a client finding the gateway from the home refuses a bad file", () => {
    writeFileSync(file, JSON.stringify({ ...GOOD, url: ["http://127.0.0.1:1"] }));
    assert.throws(
      () => GatewayClient.fromEnv({ AIRLOCK_HOME: home, AIRLOCK_TOKEN: "t" }),
      (e: unknown) => e instanceof GatewayInfoError && /url: /.test(e.message),
    );
  });

  it("the CLI says which file and field, and exits 1", async () => {
    writeFileSync(file, JSON.stringify({ ...GOOD, port: "seven" }));
    const env = { AIRLOCK_FROM_SOURCE: "1", AIRLOCK_GATEWAY: "", AIRLOCK_TOKEN: "" };
    for (const args of [
      ["gateway", "status"],
      ["gateway", "stop"],
      ["gate", "asks"],
    ]) {
      const r = await runCli(args, { airlockHome: home, env, timeoutMs: 60_000 });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`airlock: ${file}: port: `), `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "a message, not a stack trace");
    }
  });
});
