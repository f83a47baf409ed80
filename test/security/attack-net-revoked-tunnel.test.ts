// A raw tunnel outliving its grant, attacked from inside a real `airlock run` joined to a real
// gateway. python3 holds two L4 tunnels open (rec.test and keep.test) and a WebSocket upgraded
// through the forward proxy (ws.test), and keeps sending; the developer replaces the sandbox's
// policy with one that grants keep.test alone (a revoked or expired rule). Spliced bytes are
// never decided again, so the revoked tunnels must be closed by the proxy, and the one still
// granted must stay open.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
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
import os, socket, time
def tunnel(host):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(("CONNECT %s:80 HTTP/1.1\r\nHost: %s:80\r\n\r\n" % (host, host)).encode())
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
tunnels = {"rec.test": tunnel("rec.test"), "keep.test": tunnel("keep.test"), "ws.test": upgrade("ws.test")}
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

function policy(dir: string, name: string, hosts: string[]): string {
  const file = join(dir, `${name}.yaml`);
  const rules = hosts.map(
    (h) =>
      `  ${h.replace(".", "_")}:\n    endpoints: [{ host: ${h}, port: 80 }]\n    binaries: [{ path: /usr/bin/python3* }]\n`,
  );
  writeFileSync(file, `version: 1\nnetwork_policies:\n${rules.join("")}`);
  return file;
}

describe("a raw tunnel outliving its grant", () => {
  let dir: string;
  let home: string;
  let rec: RecordingUpstream;
  let keep: RecordingUpstream;
  let ws: HttpUpstream;
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
    const both = policy(dir, "both", ["rec.test", "keep.test", "ws.test"]);
    const keepOnly = policy(dir, "keep-only", ["keep.test"]);
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
    assert.match(run.stdout, /^keep\.test open$/m, run.stdout);
  });

  test("the closing is in the audit log", () => {
    assert.match(logs, /raw tunnel closed: the policy no longer grants it/);
  });
});
