// A CONNECT tunnel the proxy inspects (TLS terminated) is re-identified at every request inside
// it: an unlisted program that has a listed python send the CONNECT, then takes the socket back
// and speaks TLS through it, gets the structured 403 and the upstream sees nothing of it.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FakeGithub, fakeGithub, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { HAND_OVER, PYTHON } from "./identity-helpers.ts";

const COMMON = `
import os, socket, ssl, sys, time
def connect_tunnel(s):
    s.sendall(b"CONNECT api.github.com:443 HTTP/1.1\\r\\nHost: api.github.com:443\\r\\n\\r\\n")
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += s.recv(1)
    return data.split(b"\\r\\n")[0].decode()
def get(s, path):
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    t = ctx.wrap_socket(s, server_hostname="api.github.com")
    t.sendall(("GET %s HTTP/1.1\\r\\nHost: api.github.com\\r\\nConnection: close\\r\\n\\r\\n" % path).encode())
    data = b""
    while True:
        chunk = t.recv(65536)
        if not chunk: break
        data += chunk
    head, _, body = data.partition(b"\\r\\n\\r\\n")
    print(path, head.split(b"\\r\\n")[0].decode(), body.decode(errors="replace").replace("\\n", " "), flush=True)
`;

// The listed python: sends the CONNECT on the socket it is handed, then hands it back.
const HOLDER = `${COMMON}
srv = socket.socket(socket.AF_UNIX)
srv.bind("h.sock")
srv.listen(1)
conn, _ = srv.accept()
_, fds, _, _ = socket.recv_fds(conn, 16, 1)
conn.recv(1)  # the attacker has closed its copy
s = socket.socket(fileno=fds[0])
print("holder-connect", connect_tunnel(s), flush=True)
socket.send_fds(conn, [b"x"], [s.fileno()])
s.close()
conn.recv(16)
# The control: the listed python's own tunnel and request go through.
own = socket.create_connection(("127.0.0.1", 3128))
connect_tunnel(own)
get(own, "/repos/holder-own-marker")
`;

// The unlisted copy of python.
const ATTACKER = `${COMMON}${HAND_OVER}
s = socket.create_connection(("127.0.0.1", 3128))
u = hand_over(s)
s.close()
u.send(b"c")
_, fds, _, _ = socket.recv_fds(u, 16, 1)
get(socket.socket(fileno=fds[0]), "/repos/attacker-tunnel-marker")
u.close()
`;

describe("identity inside an inspected tunnel", () => {
  let dir: string;
  let gh: FakeGithub;
  let stdout = "";
  before(async () => {
    dir = scratchDir("sec-tunnel");
    gh = await fakeGithub(dir);
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      `version: 1\nnetwork_policies:\n  gh:\n    endpoints:\n      - { host: api.github.com, port: 443, protocol: rest, access: read-only }\n    binaries: [{ path: ${PYTHON} }]\n`,
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "holder.py"), HOLDER);
    writeFileSync(join(wd, "attacker.py"), ATTACKER);
    copyFileSync(PYTHON, join(wd, "evilpy"));
    const run = await runCli(
      [
        "run",
        "--policy",
        policy,
        "--connect-to",
        `api.github.com:443:127.0.0.1:${gh.port}`,
        "--upstream-ca",
        gh.caFile,
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        "/usr/bin/python3 holder.py & ./evilpy attacker.py; wait",
      ],
      { airlockHome: join(dir, "h"), timeoutMs: 60_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    stdout = run.stdout;
  });
  after(async () => {
    await gh.close();
    removeDir(dir);
  });

  test("the CONNECT by the listed python is allowed, and so is its own request (the control)", () => {
    assert.match(stdout, /^holder-connect HTTP\/1\.1 200/m);
    assert.match(stdout, /^\/repos\/holder-own-marker HTTP\/1\.1 200/m);
    assert.ok(gh.requests.some((r) => r.path === "/repos/holder-own-marker"));
  });

  test("the request the attacker sends through that tunnel is refused: the connection changed hands", () => {
    assert.match(
      stdout,
      /^\/repos\/attacker-tunnel-marker HTTP\/1\.1 403 .*changed hands: \S+python3\S* opened it, \S+evilpy holds it now/m,
    );
    assert.ok(!gh.requests.some((r) => r.path.includes("attacker")), "the upstream saw nothing of it");
  });
});
