// What an outsider tried on the network boundary that held, kept as regression guards. From
// inside one real `airlock run`: TLS to an inspected host offering only h2, or no SNI with a
// Host naming another site; a CONNECT to the inspected host on another port; HTTP/0.9; UDP and
// TCP straight at the host's own address and loopback; the host's abstract unix socket; a
// listed curl run from memory (memfd + execve) or through a hard link in the workdir. Asserted
// on what the host saw: the recording upstreams' bytes and the host listeners' hits.
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseIp } from "../../src/policy/ip.ts";
import { hostInterfaceAddresses } from "../../src/proxy/host-addresses.ts";
import { type CliRun, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import {
  type RecordingUpstream as PlainUpstream,
  recordingUpstream as plainUpstream,
} from "./identity-helpers.ts";
import { type RecordingUpstream, recordingUpstream } from "./proxy-helpers.ts";

const API = "api.example.com";
/** The host's first non-loopback IPv4 address (listeners on every interface answer there). */
const OWN_V4 = hostInterfaceAddresses().find((a) => parseIp(a)?.version === 4 && !a.startsWith("127."));
const ABSTRACT = `airlock-attacknet-${process.pid}`;

/** Each attempt prints `name: outcome` on one line. */
const ATTEMPTS = String.raw`
import os, socket, ssl, subprocess, sys
own, tcp_port, udp_port, abstract = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def say(name, outcome):
    print("%s: %s" % (name, outcome), flush=True)
def tunnel(alpn, sni):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
    if sni is None:
        ctx.check_hostname = False
    ctx.set_alpn_protocols(alpn)
    return ctx.wrap_socket(s, server_hostname=sni)
def exchange(s, data):
    s.sendall(data)
    s.settimeout(3)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except Exception:
        pass
    return out.split(b"\r\n")[0].decode("latin-1") or "(closed)"
try:
    t = tunnel(["h2"], "api.example.com")
    say("h2-only", "alpn=%s %s" % (t.selected_alpn_protocol(), exchange(t, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")))
except Exception as e:
    say("h2-only", "refused %s" % type(e).__name__)
t = tunnel(["http/1.1"], None)
say("no-sni-other-host", exchange(t, b"GET /repos/o/nosni HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n"))
t = tunnel(["http/1.1"], None)
say("no-sni-control", exchange(t, b"GET /repos/o/nosni-ok HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"))
s = socket.create_connection(("127.0.0.1", 3128))
say("other-port", exchange(s, b"CONNECT api.example.com:8443 HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n"))
t = tunnel(["http/1.1"], "api.example.com")
say("http09", exchange(t, b"GET /repos/o/http09\r\n\r\n"))
for name, host in (("tcp-own", own), ("tcp-loopback", "127.0.0.1")):
    try:
        socket.create_connection((host, tcp_port), timeout=2).close()
        say(name, "connected")
    except OSError as e:
        say(name, "refused %s" % type(e).__name__)
for name, host in (("udp-own", own), ("udp-loopback", "127.0.0.1")):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.sendto(b"attacknet-udp", (host, udp_port))
        say(name, "sent")
    except OSError as e:
        say(name, "refused %s" % type(e).__name__)
a = socket.socket(socket.AF_UNIX)
try:
    a.connect("\0" + abstract)
    say("abstract-unix", "connected")
except OSError as e:
    say("abstract-unix", "refused %s" % type(e).__name__)
curl = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:3128"]
fd = os.memfd_create("curl")
os.write(fd, open("/usr/bin/curl", "rb").read())
r = subprocess.run(["curl"] + curl + ["http://rec.test/memfd-marker"], executable="/proc/self/fd/%d" % fd, pass_fds=(fd,), capture_output=True, text=True)
say("memfd-curl", r.stdout or r.stderr.strip() or "exit %d" % r.returncode)
try:
    os.link("/usr/bin/curl", "curl-link")
    r = subprocess.run(["./curl-link"] + curl + ["http://rec.test/link-marker"], capture_output=True, text=True)
    say("hardlink-curl", r.stdout or "exit %d" % r.returncode)
except OSError as e:
    say("hardlink-curl", "refused %s" % type(e).__name__)
r = subprocess.run(["/usr/bin/curl"] + curl + ["http://rec.test/control-marker"], capture_output=True, text=True)
say("control-curl", r.stdout)
`;

describe("attempts on the network boundary that held", {
  skip: OWN_V4 ? false : "no non-loopback IPv4 address",
}, () => {
  let dir: string;
  let api: RecordingUpstream;
  let rec: PlainUpstream;
  let tcp: Server;
  let udp: UdpSocket;
  let abstract: Server;
  const hits = { tcp: 0, udp: 0, abstract: 0 };
  let run: CliRun;
  const outcome = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(run.stdout)?.[1];
  before(async () => {
    dir = scratchDir("sec-held");
    api = await recordingUpstream([API], dir);
    rec = await plainUpstream();
    tcp = createServer((s) => {
      hits.tcp++;
      s.destroy();
    });
    await new Promise<void>((r) => tcp.listen(0, "0.0.0.0", r));
    udp = createSocket("udp4");
    udp.on("message", () => hits.udp++);
    await new Promise<void>((r) => udp.bind(0, "0.0.0.0", r));
    abstract = createServer((s) => {
      hits.abstract++;
      s.destroy();
    });
    await new Promise<void>((r) => abstract.listen(`\0${ABSTRACT}`, r));
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  api:",
        `    endpoints: [{ host: ${API}, port: 443, protocol: rest, access: read-only }]`,
        "    binaries: [{ path: /usr/bin/python3* }]",
        "  rec:",
        "    endpoints: [{ host: rec.test, port: 80 }]",
        "    binaries: [{ path: /usr/bin/curl }]",
        "",
      ].join("\n"),
    );
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "attempts.py"), ATTEMPTS);
    const ports = [(tcp.address() as AddressInfo).port, udp.address().port];
    run = await runCli(
      [
        "run",
        "--policy",
        policy,
        "--connect-to",
        `${API}:443:127.0.0.1:${api.port}`,
        "--connect-to",
        `rec.test:80:127.0.0.1:${rec.port}`,
        "--upstream-ca",
        api.caFile as string,
        "--workdir",
        wd,
        "--",
        "/usr/bin/python3",
        "attempts.py",
        OWN_V4 as string,
        String(ports[0]),
        String(ports[1]),
        ABSTRACT,
      ],
      { airlockHome: join(dir, "home"), timeoutMs: 90_000 },
    );
  });
  after(async () => {
    await api?.close();
    await rec?.close();
    await new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r()));
    await new Promise<void>((r) => (abstract ? abstract.close(() => r()) : r()));
    udp?.close();
    removeDir(dir);
  });

  test("the sandbox ran every attempt", (t) => {
    t.diagnostic(run.stdout);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^control-curl: 200$/m, run.stdout);
  });

  test("TLS offering only h2 never speaks h2 to the upstream", () => {
    assert.match(outcome("h2-only") ?? "", /^(alpn=None HTTP\/1\.1 400|refused)/);
    assert.ok(!api.raw().includes("PRI *"), api.raw());
  });

  test("without SNI the Host header is still decided", () => {
    assert.match(outcome("no-sni-other-host") ?? "", /^HTTP\/1\.1 403/);
    assert.match(outcome("no-sni-control") ?? "", /^HTTP\/1\.1 200/);
  });

  test("the inspected host on another port, and HTTP/0.9, are refused", () => {
    assert.match(outcome("other-port") ?? "", /^HTTP\/1\.1 403/);
    // llhttp reads it as HTTP/0.9, which has no headers: no Host, a refusal.
    assert.match(outcome("http09") ?? "", /^HTTP\/1\.1 (400|403)/, run.stdout);
    assert.deepEqual(
      api.requests.map((r) => `${r.method} ${r.url}`),
      ["GET /repos/o/nosni-ok"],
    );
    assert.ok(!api.raw().includes("evil.example.com"));
  });

  test("nothing reaches the host's listeners straight: TCP, UDP, the abstract unix socket", () => {
    for (const name of ["tcp-own", "tcp-loopback", "abstract-unix"])
      assert.match(outcome(name) ?? "", /^refused /, `${name}: ${outcome(name)}`);
    assert.deepEqual(hits, { tcp: 0, udp: 0, abstract: 0 });
  });

  test("a listed curl run from memory or through a hard link is not the listed curl", () => {
    assert.match(outcome("memfd-curl") ?? "", /^403$/);
    assert.match(outcome("hardlink-curl") ?? "", /^(403|refused \w+)$/);
    const received = rec.received();
    assert.ok(received.includes("control-marker"));
    assert.ok(!received.includes("memfd-marker") && !received.includes("link-marker"), received);
  });
});
