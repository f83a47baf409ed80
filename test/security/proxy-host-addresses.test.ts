// The host's own addresses, attacked from inside a real `airlock run`: a service the host binds
// on every interface (here a recording listener on [::]:port) must stay out of reach through
// each of the host's non-loopback addresses, whatever rule names it, unless allowed_ips names
// that exact address. curl inside tries the forward proxy and a CONNECT tunnel.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseIp } from "../../src/policy/ip.ts";
import { hostInterfaceAddresses } from "../../src/proxy/host-addresses.ts";
import { runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

/** The host's addresses a sandbox could be pointed at: not loopback, not link-local (always blocked anyway). */
function reachableHostAddresses(): { v4?: string; v6?: string } {
  const out: { v4?: string; v6?: string } = {};
  for (const text of hostInterfaceAddresses()) {
    const ip = parseIp(text);
    if (!ip || text.startsWith("127.") || text === "::1" || /^fe80:/i.test(text)) continue;
    if (ip.version === 4) out.v4 ??= text;
    else out.v6 ??= text;
  }
  return out;
}

const own = reachableHostAddresses();

describe("the host's own addresses, from inside airlock run", {
  skip: own.v4 === undefined && "no non-loopback IPv4 address",
}, () => {
  let dir: string;
  let listener: Server;
  let port = 0;
  let received = "";
  before(async () => {
    dir = scratchDir("sec-hostaddr");
    listener = createServer((socket) => {
      socket.on("data", (d: Buffer) => {
        received += d.toString("latin1");
        socket.end("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhost-secret");
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => listener.listen({ port: 0, host: "::", ipv6Only: false }, r));
    port = (listener.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => listener.close(() => r()));
    removeDir(dir);
  });

  async function runWith(name: string, endpoints: string[], script: string) {
    const policy = join(dir, `${name}.yaml`);
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  host:",
        "    endpoints:",
        ...endpoints.map((e) => `      - ${e}`),
        "    binaries:",
        "      - path: /usr/bin/curl",
        "",
      ].join("\n"),
    );
    const wd = join(dir, name);
    mkdirSync(wd);
    return runCli(["run", "--policy", policy, "--workdir", wd, "--", "/bin/sh", "-c", script], {
      airlockHome: join(dir, `home-${name}`),
    });
  }

  const curlBoth = (host: string) =>
    `${[
      `curl -s -w '\\nforward %{http_code}\\n' http://${host}:${port}/x`,
      `curl -s -p -w '\\ntunnel %{http_connect}\\n' http://${host}:${port}/y`,
    ].join("; ")}; true`;

  test("a rule naming the address, or a range covering it, does not open it", async () => {
    const v4 = own.v4 as string;
    const endpoints = [`{ host: "${v4}", port: ${port} }`];
    let script = curlBoth(v4);
    if (own.v6) {
      // An IPv6 address of the host inside a private range the rule opens: still blocked.
      const range = `${own.v6}/64`;
      endpoints.push(`{ host: "${own.v6}", port: ${port}, allowed_ips: ["${range}"] }`);
      script = `${script}; ${curlBoth(`[${own.v6}]`).replaceAll("forward", "forward6").replaceAll("tunnel", "tunnel6")}`;
    }
    const run = await runWith("blocked", endpoints, script);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^forward 403$/m, run.stdout);
    assert.match(run.stdout, /^tunnel 403$/m, run.stdout);
    assert.match(run.stdout, /an address of this host, always blocked unless allowed_ips names exactly/);
    if (own.v6) {
      assert.match(run.stdout, /^forward6 403$/m, run.stdout);
      assert.match(run.stdout, /^tunnel6 403$/m, run.stdout);
    }
    assert.ok(!run.stdout.includes("host-secret"));
    assert.equal(received, "", "the host's listener was never reached");
  });

  test("allowed_ips naming that exact address opens it", async () => {
    const v4 = own.v4 as string;
    const run = await runWith(
      "exact",
      [`{ host: "${v4}", port: ${port}, allowed_ips: ["${v4}"] }`],
      curlBoth(v4),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /host-secret\nforward 200/);
    assert.match(run.stdout, /^tunnel 200$/m);
    assert.match(received, /^GET \/x HTTP\/1\.1\r\n/);
  });
});
