// Upgrade smuggling, attacked from inside a real `airlock run`: an allowed GET that asks to
// upgrade must not turn an inspected connection into a raw splice. python3 sends the upgrade
// with a request pipelined behind it (over CONNECT + TLS and to the forward proxy), curl asks
// for one too; a loopback upstream that records every raw byte would answer 101. On an
// L4 endpoint (raw bytes allowed anyway) the upgrade goes through, and only after the 101.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { OcsfSchema } from "../audit/ocsf-schema.ts";
import { allLogLines, REPO } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  type CaseReply,
  denyBody,
  type RawCase,
  type RecordingUpstream,
  recordingUpstream,
  runCases,
  type SandboxRun,
} from "./proxy-helpers.ts";

const API = "api.example.com";
const OCSF_SCHEMA = [
  process.env.AIRLOCK_OCSF_SCHEMA ?? "",
  resolve(REPO, "..", "shared", "ocsf-schema-1.8.0"),
  "/work/shared/ocsf-schema-1.8.0",
].find((dir) => dir !== "" && existsSync(join(dir, "version.json")));

function ocsfEvents(dir: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...ocsfEvents(path));
    else if (/^airlock-ocsf\..*\.jsonl$/.test(name))
      for (const line of readFileSync(path, "utf8").split("\n")) if (line) out.push(JSON.parse(line));
  }
  return out;
}
const SMUGGLED = `DELETE /repos/o/r HTTP/1.1\r\nHost: ${API}\r\n\r\n`;
const WS =
  "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

const CASES: RawCase[] = [
  {
    name: "ws-rest",
    mode: "tls",
    target: `${API}:443`,
    data: `GET /ws HTTP/1.1\r\nHost: ${API}\r\n${WS}\r\n${SMUGGLED}`,
  },
  {
    name: "h2c-rest",
    mode: "tls",
    target: `${API}:443`,
    data: `GET /repos/o/r HTTP/1.1\r\nHost: ${API}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
  },
  {
    name: "ws-and-h2c",
    mode: "tls",
    target: `${API}:443`,
    data: `GET /ws HTTP/1.1\r\nHost: ${API}\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n`,
  },
  {
    // Without Connection: Upgrade it is a plain GET: forwarded, with no Upgrade header.
    name: "upgrade-header-only",
    mode: "tls",
    target: `${API}:443`,
    data: `GET /plain HTTP/1.1\r\nHost: ${API}\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n`,
  },
  {
    name: "fwd-ws-rest",
    mode: "forward",
    target: "",
    data: `GET http://plain.example.com/ws HTTP/1.1\r\nHost: plain.example.com\r\n${WS}\r\n${SMUGGLED}`,
  },
  {
    name: "fwd-ws-l4",
    mode: "forward",
    target: "",
    data: `GET http://ws.example.com/ws HTTP/1.1\r\nHost: ws.example.com\r\n${WS}\r\n`,
    later: "frame-after-101",
  },
  {
    name: "fwd-ws-l4-no-switch",
    mode: "forward",
    target: "",
    data: `GET http://ws.example.com/other HTTP/1.1\r\nHost: ws.example.com\r\n${WS}\r\nDELETE /smuggled HTTP/1.1\r\nHost: ws.example.com\r\n\r\n`,
    later: "PUT /late HTTP/1.1\r\nHost: ws.example.com\r\n\r\n",
  },
  {
    name: "fwd-h2c-l4",
    mode: "forward",
    target: "",
    data: "GET http://ws.example.com/ws HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
  },
];

describe("upgrades, attacked from inside airlock run", () => {
  let dir: string;
  let home: string;
  let api: RecordingUpstream;
  let plain: RecordingUpstream;
  let ws: RecordingUpstream;
  let run: SandboxRun;
  const reply = (name: string) => run.replies.get(name) as CaseReply;
  before(async () => {
    dir = scratchDir("sec-upgrade");
    home = join(dir, "home");
    api = await recordingUpstream([API], dir);
    plain = await recordingUpstream(["plain.example.com"]);
    ws = await recordingUpstream(["ws.example.com"]);
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  app:",
        "    endpoints:",
        `      - { host: ${API}, port: 443, protocol: rest, access: read-only }`,
        "      - { host: plain.example.com, port: 80, protocol: rest, access: read-only }",
        "      - { host: ws.example.com, port: 80 }",
        "    binaries:",
        "      - path: /usr/bin/python3*",
        "      - path: /usr/bin/curl",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    run = await runCases(
      home,
      wd,
      [
        "--policy",
        policy,
        "--connect-to",
        `${API}:443:127.0.0.1:${api.port}`,
        "--connect-to",
        `plain.example.com:80:127.0.0.1:${plain.port}`,
        "--connect-to",
        `ws.example.com:80:127.0.0.1:${ws.port}`,
        "--upstream-ca",
        api.caFile as string,
      ],
      CASES,
      `curl -s -o /dev/null -w 'curl %{http_code}\\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' https://${API}/ws`,
    );
  });
  after(async () => {
    for (const u of [api, plain, ws]) await u?.close();
    removeDir(dir);
  });

  test("the sandbox ran every case", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.replies.size, CASES.length, run.stdout);
  });

  test("an upgrade on a protocol: rest endpoint is refused with a reason, over TLS and forward", () => {
    for (const name of ["ws-rest", "fwd-ws-rest"]) {
      assert.equal(reply(name).status, 403, reply(name).raw);
      const body = denyBody(reply(name));
      assert.equal(body.error, "policy_denied");
      assert.match(body.reason, /a protocol: rest endpoint does not grant it/);
    }
    assert.match(run.stdout, /^curl 403$/m, "curl's upgrade is refused too");
  });

  test("h2c and any token but websocket alone are refused, even on an L4 endpoint", () => {
    assert.match(denyBody(reply("h2c-rest")).reason, /"h2c" refused/);
    assert.match(denyBody(reply("ws-and-h2c")).reason, /only a WebSocket upgrade/);
    assert.match(denyBody(reply("fwd-h2c-l4")).reason, /"h2c" refused/);
  });

  test("no refused upgrade, and nothing pipelined behind one, reached an upstream", () => {
    assert.deepEqual(
      api.requests.map((r) => `${r.method} ${r.url}`),
      ["GET /plain"],
    );
    const plainGet = api.requests[0];
    assert.ok(
      !plainGet?.rawHeaders.some((h) => /^upgrade$/i.test(h)),
      "the Upgrade header was not forwarded",
    );
    assert.equal(plain.requests.length, 0);
    assert.equal(plain.raw(), "");
    for (const raw of [api.raw(), plain.raw(), ws.raw()]) {
      for (const never of ["DELETE", "PUT ", "PRI *", "h2c", "/smuggled", "/late"]) {
        assert.ok(!raw.includes(never), `an upstream received ${never}:\n${raw}`);
      }
    }
  });

  test("on an L4 endpoint a websocket upgrade is spliced after the upstream's 101, and only then", () => {
    const ok = reply("fwd-ws-l4");
    assert.equal(ok.status, 101, ok.raw);
    assert.ok(ok.body.includes("frame-after-101"), "the upstream echoed the frame sent after the 101");
    assert.ok(ws.raw().includes("frame-after-101"));
    const no = reply("fwd-ws-l4-no-switch");
    assert.equal(no.status, 200, no.raw);
    assert.equal(no.body, "no switch");
    assert.deepEqual(
      ws.requests.map((r) => `${r.method} ${r.url}`),
      ["GET /ws", "GET /other"],
    );
  });

  test("the audit log records the upgrade and the tunnel's end with bytes each way", () => {
    const lines = allLogLines(home);
    assert.ok(
      lines.some((l) => /ALLOWED GET http:\/\/ws\.example\.com:80\/ws .*upgrade to websocket/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        /NET:CLOSE .*ws\.example\.com:80 .*websocket tunnel closed: 15 bytes sent, 15 bytes received/.test(l),
      ),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => /upgrade not switched: the upstream answered 200, not 101/.test(l)));
    assert.ok(lines.some((l) => /DENIED GET .*\/ws .*engine:upgrade/.test(l)));
  });

  test("the tunnel's end is a valid OCSF Network Activity Close", {
    skip: !OCSF_SCHEMA && "no OCSF schema source",
  }, () => {
    const closes = ocsfEvents(home).filter((e) => e.class_uid === 4001 && e.activity_id === 2);
    assert.equal(closes.length, 2, "the switched tunnel and the answer that did not switch");
    const schema = new OcsfSchema(OCSF_SCHEMA as string);
    assert.deepEqual(
      closes.flatMap((e) => schema.validate(e)),
      [],
    );
  });
});
