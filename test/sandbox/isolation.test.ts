// The sandbox's only way out is the proxy, and its filesystem is what the policy says.
// Real bubblewrap; each check prints `name:ok` or `name:FAIL <detail>` from inside.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HELD_PREFIX } from "../../src/sandbox/bwrap.ts";
import { policyOf, removeDir, runSandboxed, scratchDir, verdicts } from "./helpers.ts";

function hostAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return null;
}

/** `sh` lines: run CMD; "ok" if it fails (exit ≠ 0), as every escape attempt should. */
function mustFail(name: string, cmd: string): string {
  return `if ${cmd} >/dev/null 2>&1; then echo "${name}:FAIL succeeded"; else echo "${name}:ok"; fi`;
}
function mustPass(name: string, cmd: string): string {
  return `if ${cmd} >/dev/null 2>&1; then echo "${name}:ok"; else echo "${name}:FAIL failed"; fi`;
}

function assertAllOk(stdout: string, names: string[]): void {
  const v = verdicts(stdout);
  for (const name of names)
    assert.equal(v.get(name), "ok", `${name}: ${v.get(name) ?? "no verdict"}\n${stdout}`);
}

describe("network isolation", () => {
  let tcp: Server;
  let tcpPort = 0;
  let unixServer: Server;
  const runSock = `/run/airlock-test-${process.pid}.sock`;
  before(async () => {
    tcp = createNetServer((s) => s.end("host service\n"));
    await new Promise<void>((r) => tcp.listen(0, "0.0.0.0", r));
    tcpPort = (tcp.address() as { port: number }).port;
    unixServer = createNetServer((s) => s.end("unix\n"));
    await new Promise<void>((r) => unixServer.listen(runSock, r));
  });
  after(() => {
    tcp.close();
    unixServer.close();
  });

  test("only the proxy is reachable", async () => {
    const ip = hostAddress();
    const py = (code: string) => `python3 -c '${code}'`;
    const script = [
      mustFail("tcp-host-loopback", `curl -sf --noproxy '*' -m 3 http://127.0.0.1:${tcpPort}/`),
      ip
        ? mustFail("tcp-host-ip", `curl -sf --noproxy '*' -m 3 http://${ip}:${tcpPort}/`)
        : "echo tcp-host-ip:ok",
      mustFail("noproxy-public", "curl -sf --noproxy '*' -m 3 http://1.1.1.1/"),
      mustFail("noproxy-name", "curl -sf --noproxy '*' -m 3 https://example.com/"),
      mustFail("ipv6-literal", "curl -sf --noproxy '*' -g -m 3 'http://[2606:4700:4700::1111]/'"),
      mustFail("dns", "getent hosts example.com"),
      mustFail(
        "udp",
        py(
          'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(b"x", ("8.8.8.8", 53)); s.recv(10)',
        ),
      ),
      mustFail(
        "raw-socket",
        py("import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"),
      ),
      mustFail("host-unix-run", `curl -sf --unix-socket ${runSock} http://x/`),
      mustFail("host-unix-exists", `test -e ${runSock}`),
      mustFail("nested-userns", "unshare -U true"),
      `grep -q '^CapEff:\\s*0000000000000000' /proc/self/status && echo caps:ok || echo caps:FAIL`,
      mustPass("via-proxy", "curl -sf -m 5 http://example.com/"),
    ].join("\n");
    const run = await runSandboxed(["/bin/sh", "-c", script]);
    assertAllOk(run.stdout, [
      "tcp-host-loopback",
      "tcp-host-ip",
      "noproxy-public",
      "noproxy-name",
      "ipv6-literal",
      "dns",
      "udp",
      "raw-socket",
      "host-unix-run",
      "host-unix-exists",
      "nested-userns",
      "caps",
      "via-proxy",
    ]);
  });

  test("the environment points every client at the proxy and the sandbox CA bundle", async () => {
    const run = await runSandboxed(["/usr/bin/env"], {
      env: {
        AIRLOCK_TOKEN: "secret-token",
        SSH_AUTH_SOCK: "/x",
        NODE_OPTIONS: "--no-warnings",
        NODE_USE_ENV_PROXY: "1",
        // A host variable under the held name: the init puts back only what Airlock held.
        [`${HELD_PREFIX}LD_PRELOAD`]: "/host/evil.so",
        // CA settings a host may carry (a corporate bundle): inside, only the sandbox's works.
        AWS_CA_BUNDLE: "/host/corp.pem",
        PIP_CERT: "/host/corp.pem",
        SSL_CERT_DIR: "/host/certs",
        npm_config_cafile: "/host/corp.pem",
      },
    });
    const env = new Map(
      run.stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    for (const key of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]) {
      assert.equal(env.get(key), "http://127.0.0.1:3128", key);
    }
    assert.equal(env.get("NO_PROXY"), "localhost,127.0.0.1,::1");
    for (const key of [
      "SSL_CERT_FILE",
      "CURL_CA_BUNDLE",
      "REQUESTS_CA_BUNDLE",
      "NODE_EXTRA_CA_CERTS",
      "GIT_SSL_CAINFO",
      "AWS_CA_BUNDLE",
      "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
      "HTTPLIB2_CA_CERTS",
      "PIP_CERT",
      "NPM_CONFIG_CAFILE",
    ]) {
      assert.equal(env.get(key), "/etc/airlock/ca-bundle.pem", key);
    }
    assert.equal(env.get("SSL_CERT_DIR"), "/etc/airlock/certs");
    assert.equal(env.has("npm_config_cafile"), false, "no case variant disagrees with the bundle");
    assert.equal(env.has("NODE_USE_ENV_PROXY"), false, "node's traffic is routed by the preload");
    assert.equal(env.has("AIRLOCK_TOKEN"), false, "tokens never enter the sandbox");
    assert.equal(env.has("SSH_AUTH_SOCK"), false);
    assert.equal(env.has("NODE_CHANNEL_FD"), false);
    assert.equal(
      env.get("NODE_OPTIONS"),
      "--require /etc/airlock/node-proxy.cjs --no-warnings",
      "the command gets the proxy preload and the user's NODE_OPTIONS back",
    );
    assert.deepEqual(
      [...env.keys()].filter((k) => k.startsWith(HELD_PREFIX)),
      [],
    );
    assert.equal(env.has("LD_PRELOAD"), false, "a host AIRLOCK_HELD_* is dropped, never restored");
  });

  test("the command inherits no descriptor beyond stdio (the IPC channel is closed)", async () => {
    const run = await runSandboxed(["/bin/sh", "-c", "ls /proc/self/fd"]);
    const fds = run.stdout.split(/\s+/).filter(Boolean).map(Number);
    // 0-2 and the descriptor `ls` opened on the directory itself.
    assert.ok(
      fds.every((fd) => fd <= 3),
      `unexpected descriptors: ${fds.join(" ")}`,
    );
  });
});

describe("filesystem policy", () => {
  let home: string;
  let workdir: string;
  let extra: string;
  before(() => {
    home = scratchDir("userhome");
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh", "id_ed25519"), "PRIVATE KEY\n");
    writeFileSync(join(home, ".netrc"), "machine x password y\n");
    workdir = scratchDir("wd");
    mkdirSync(join(workdir, ".git", "hooks"), { recursive: true });
    writeFileSync(join(workdir, ".git", "config"), "[core]\n");
    writeFileSync(join(workdir, ".git", "HEAD"), "ref: refs/heads/main\n");
    mkdirSync(join(workdir, "vendor-ro"));
    mkdirSync(join(workdir, "sub", ".git", "hooks"), { recursive: true });
    writeFileSync(join(workdir, "sub", ".git", "config"), "[core]\n");
    extra = scratchDir("extra");
  });
  after(() => {
    removeDir(home);
    removeDir(workdir);
    removeDir(extra);
  });

  test("deny hides, / is read-only, the writable set is writable, protected files are not", async () => {
    const policy = policyOf({
      version: 1,
      filesystem_policy: {
        read_write: [extra],
        read_only: [join(workdir, "vendor-ro")],
        deny: ["~/.ssh", "~/.netrc", "/etc/shadow"],
      },
    });
    const w = workdir;
    const script = [
      mustFail("deny-dir", `cat ${home}/.ssh/id_ed25519`),
      mustFail("deny-file", `grep -q password ${home}/.netrc`),
      mustFail("deny-etc", "grep -q root /etc/shadow"),
      mustPass("etc-readable", "grep -q root /etc/passwd"),
      mustFail("write-usr", "touch /usr/airlock-test"),
      mustFail("write-home", `touch ${home}/x`),
      mustFail("write-etc", "touch /etc/airlock/x"),
      mustFail("write-skill", "sh -c 'echo x >> /etc/airlock/skills/policy_advisor.md'"),
      mustPass("read-skill", "test -r /etc/airlock/skills/policy_advisor.md"),
      mustPass("write-workdir", `sh -c 'echo hi > ${w}/out.txt'`),
      mustPass("write-tmp", "touch /tmp/x"),
      mustPass("write-extra", `touch ${extra}/x`),
      mustFail("write-read-only-in-workdir", `touch ${w}/vendor-ro/x`),
      mustFail("git-hook-new", `sh -c 'echo evil > ${w}/.git/hooks/pre-commit'`),
      mustFail("git-config", `sh -c 'echo evil >> ${w}/.git/config'`),
      mustFail("nested-git-hook", `sh -c 'echo evil > ${w}/sub/.git/hooks/post-checkout'`),
      mustFail("bashrc-new", `sh -c 'echo evil > ${w}/.bashrc'`),
      mustFail(
        "claude-settings-new",
        `sh -c 'mkdir -p ${w}/.claude && echo {} > ${w}/.claude/settings.json'`,
      ),
      mustFail("mcp-new", `sh -c 'echo {} > ${w}/.mcp.json'`),
      mustFail("airlock-config-new", `mkdir ${w}/.airlock`),
      mustFail("rename-over-protected", `sh -c 'echo x > ${w}/t && mv ${w}/t ${w}/.bashrc'`),
      mustFail("extra-bashrc", `sh -c 'echo evil > ${extra}/.bashrc'`),
    ].join("\n");
    const run = await runSandboxed(["/bin/sh", "-c", script], { policy, workdir, home });
    assertAllOk(run.stdout, [
      "deny-dir",
      "deny-file",
      "deny-etc",
      "etc-readable",
      "write-usr",
      "write-home",
      "write-etc",
      "write-skill",
      "read-skill",
      "write-workdir",
      "write-tmp",
      "write-extra",
      "write-read-only-in-workdir",
      "git-hook-new",
      "git-config",
      "nested-git-hook",
      "bashrc-new",
      "claude-settings-new",
      "mcp-new",
      "airlock-config-new",
      "rename-over-protected",
      "extra-bashrc",
    ]);
    // On the host: the write that was allowed landed, nothing forbidden did, no mount point is left.
    assert.equal(readFileSync(join(workdir, "out.txt"), "utf8"), "hi\n");
    assert.equal(readFileSync(join(workdir, ".git", "config"), "utf8"), "[core]\n");
    assert.deepEqual(readdirSync(join(workdir, ".git", "hooks")), []);
    for (const ghost of [".bashrc", ".claude", ".mcp.json", ".airlock", ".profile", ".vscode"]) {
      assert.equal(existsSync(join(workdir, ghost)), false, `${ghost} left behind on the host`);
    }
    assert.equal(existsSync(join(extra, ".bashrc")), false);
  });

  test("Airlock's home (tokens, keys, other sandboxes) is hidden", async () => {
    const airlockHome = scratchDir("ahome");
    writeFileSync(join(airlockHome, "operator.token"), "secret\n");
    try {
      const script = [
        mustFail("token", `cat ${airlockHome}/operator.token`),
        mustFail("ca-key", `ls ${airlockHome}/sandboxes/test/ca.key`),
        mustFail("write", `touch ${airlockHome}/x`),
      ].join("\n");
      const run = await runSandboxed(["/bin/sh", "-c", script], { airlockHome });
      assertAllOk(run.stdout, ["token", "ca-key", "write"]);
    } finally {
      removeDir(airlockHome);
    }
  });

  test("process.run_as_user maps the uid inside", async () => {
    const policy = policyOf({ version: 1, process: { run_as_user: 1000, run_as_group: 1000 } });
    const run = await runSandboxed(["/bin/sh", "-c", "id -u; id -g"], { policy });
    assert.deepEqual(run.stdout.trim().split("\n"), ["1000", "1000"]);
  });
});
