// A raw tunnel outliving its grant, attacked from inside a real `airlock run` joined to a real
// gateway. python3 holds two L4 tunnels open (rec.test and keep.test) and a WebSocket upgraded
// through the forward proxy (ws.test), and keeps sending; the developer replaces the sandbox's
// policy with one that grants keep.test alone (a revoked or expired rule). Spliced bytes are
// never decided again, so the revoked tunnels must be closed by the proxy, and the one still
// granted must stay open. A tunnel to the host's own address, and a WebSocket upgraded to it,
// close too once the rule that stays no longer names that address in allowed_ips (the SSRF
// guard judges both again: one path for every spliced connection).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseIp } from "../../src/policy/ip.ts";
import { hostInterfaceAddresses } from "../../src/proxy/host-addresses.ts";
import { type CliRun, runCli, startCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { type RecordingUpstream, recordingUpstream } from "./identity-helpers.ts";
import {
  type RecordingUpstream as HttpUpstream,
  recordingUpstream as httpUpstream,
} from "./proxy-helpers.ts";

const NAME = "revoked-tunnel";

/** Opens the tunnels, says ready, then sends a tick on each every 0.1 s until ./stop appears (at most 60 s). */
const HOLDER = String.raw`
import os, socket, sys, time
def tunnel(host, port=80):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    s.sendall(("before-%s\n" % host).encode())
    return s
def upgrade(host):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(("GET http://%s/ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" % (host, host)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    s.sendall(("before-%s\n" % host).encode())
    return s
own, own_port, own_ws_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tunnels = {"rec.test": tunnel("rec.test"), "keep.test": tunnel("keep.test"), "ws.test": upgrade("ws.test")}
if own != "-":
    tunnels["own"] = tunnel(own, own_port)
    tunnels["own-ws"] = upgrade("%s:%d" % (own, own_ws_port))
print("ready", flush=True)
closed = {}
deadline = time.time() + 60
n = 0
while not os.path.exists("stop") and time.time() < deadline:
    n += 1
    for host, s in tunnels.items():
        if host in closed:
            continue
        try:
            s.sendall(("tick-%s-%d\n" % (host, n)).encode())
        except OSError:
            closed[host] = n
    time.sleep(0.1)
for host in tunnels:
    print(host, "closed" if host in closed else "open", flush=True)
`;

/** The host's first non-loopback IPv4 address: reachable only while allowed_ips names it. */
const OWN_V4 = hostInterfaceAddresses().find((a) => parseIp(a)?.version === 4 && !a.startsWith("127."));

function policy(dir: string, name: string, hosts: string[], own?: string): string {
  const file = join(dir, `${name}.yaml`);
  const rules = hosts.map(
    (h) =>
      `  ${h.replace(".", "_")}:\n    endpoints: [{ host: ${h}, port: 80 }]\n    binaries: [{ path: /usr/bin/python3* }]\n`,
  );
  if (own) rules.push(`  own:\n    endpoints: [${own}]\n    binaries: [{ path: /usr/bin/python3* }]\n`);
  writeFileSync(file, `version: 1\nnetwork_policies:\n${rules.join("")}`);
  return file;
}

describe("a raw tunnel outliving its grant", () => {
  let dir: string;
  let home: string;
  let rec: RecordingUpstream;
  let keep: RecordingUpstream;
  let ws: HttpUpstream;
  let own: Server;
  let ownReceived = "";
  let ownWs: Server;
  let ownWsReceived = "";
  let run: CliRun;
  let set: CliRun;
  let logs = "";
  before(async () => {
    dir = scratchDir("sec-revoked");
    home = join(dir, "home");
    rec = await recordingUpstream();
    keep = await recordingUpstream();
    ws = await httpUpstream(["ws.test"]);
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "holder.py"), HOLDER);
    // A listener on every interface, reached at the host's own address while allowed_ips names it.
    own = createServer((s) => {
      s.on("data", (d) => (ownReceived += d.toString("latin1")));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => own.listen(0, "0.0.0.0", r));
    const ownPort = (own.address() as AddressInfo).port;
    // A WebSocket server on every interface: it switches on the first request head it receives.
    ownWs = createServer((s) => {
      let switched = false;
      s.on("data", (d) => {
        ownWsReceived += d.toString("latin1");
        if (switched || !ownWsReceived.includes("\r\n\r\n")) return;
        switched = true;
        s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => ownWs.listen(0, "0.0.0.0", r));
    const ownWsPort = (ownWs.address() as AddressInfo).port;
    const ownRule = (named: boolean) =>
      [ownPort, ownWsPort]
        .map((port) => `{ host: "${OWN_V4}", port: ${port}${named ? `, allowed_ips: ["${OWN_V4}"]` : ""} }`)
        .join(", ");
    const both = policy(dir, "both", ["rec.test", "keep.test", "ws.test"], OWN_V4 && ownRule(true));
    // The address's rule stays, but no longer names it in allowed_ips.
    const keepOnly = policy(dir, "keep-only", ["keep.test"], OWN_V4 && ownRule(false));
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const started = startCli(
      [
        "run",
        "--name",
        NAME,
        "--policy",
        both,
        "--connect-to",
        `rec.test:80:127.0.0.1:${rec.port}`,
        "--connect-to",
        `keep.test:80:127.0.0.1:${keep.port}`,
        "--connect-to",
        `ws.test:80:127.0.0.1:${ws.port}`,
        "--workdir",
        wd,
        "--",
        "/usr/bin/python3",
        "holder.py",
        OWN_V4 ?? "-",
        String(ownPort),
        String(ownWsPort),
      ],
      {
        airlockHome: home,
        gateway: true,
        timeoutMs: 120_000,
        onStdout: (_child, stdout) => {
          if (stdout.includes("ready")) ready();
        },
      },
    );
    await Promise.race([isReady, started.done]);
    set = await runCli(["policy", "set", NAME, keepOnly, "--wait"], { airlockHome: home, timeoutMs: 60_000 });
    // The holder keeps sending for a while under the new policy, then stops.
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(join(wd, "stop"), "");
    run = await started.done;
    const logDir = join(home, "sandboxes");
    if (existsSync(logDir))
      for (const file of readdirSync(logDir, { recursive: true }) as string[])
        if (file.endsWith(".jsonl") || file.endsWith(".log"))
          logs += readFileSync(join(logDir, file), "utf8");
  });
  after(async () => {
    await runCli(["gateway", "stop"], { airlockHome: home });
    await rec?.close();
    await keep?.close();
    await ws?.close();
    await new Promise<void>((r) => (own ? own.close(() => r()) : r()));
    await new Promise<void>((r) => (ownWs ? ownWs.close(() => r()) : r()));
    removeDir(dir);
  });

  test("the run held both tunnels and the new policy was loaded", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(set.code, 0, set.stderr + set.stdout);
    assert.match(rec.received(), /before-rec\.test/);
    assert.match(keep.received(), /before-keep\.test/);
    assert.match(ws.raw(), /before-ws\.test/);
  });

  test("the tunnels the new policy no longer grants were closed, the other stayed open", () => {
    assert.match(run.stdout, /^rec\.test closed$/m, run.stdout);
    assert.match(run.stdout, /^ws\.test closed$/m, "the upgraded connection too");
    if (OWN_V4) {
      assert.match(ownReceived, /before-/, "the host's address was reachable while named");
      assert.match(run.stdout, /^own closed$/m, "allowed_ips taken back closes it");
      assert.match(ownWsReceived, /before-/, "the upgrade to the host's address was spliced while named");
      assert.match(run.stdout, /^own-ws closed$/m, "and closes too once allowed_ips no longer names it");
    }
    assert.match(run.stdout, /^keep\.test open$/m, run.stdout);
  });

  test("the closing is in the audit log", () => {
    assert.match(logs, /raw tunnel closed: the policy no longer grants it/);
  });
});
