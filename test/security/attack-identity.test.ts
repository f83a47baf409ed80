// Binary identity attacked from inside a real `airlock run`, against a loopback upstream that
// records every byte: curl run through the dynamic loader (`ld.so /usr/bin/curl`), through
// `execveat` of a descriptor, and a copy of another program placed where a binary rule's glob
// matches (the presets name install layouts such as `/**/node_modules/.../claude.exe`). What the
// upstream received is the verdict.
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { allLogLines, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { type RecordingUpstream, recordingUpstream } from "./proxy-helpers.ts";

const HOST = "api.example.com";
const LOADER = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"].find((p) => existsSync(p));

describe("identity: loaders, descriptors and copies at a glob's path", () => {
  let dir: string;
  let up: RecordingUpstream;
  let stdout = "";
  let stderr = "";
  before(async () => {
    dir = scratchDir("attack-identity");
    const wd = join(dir, "wd");
    mkdirSync(wd);
    // The same program put by the host at a path the glob matches, shown read-only.
    const hostTool = join(dir, "host", "vendor", "tool", "bin");
    mkdirSync(hostTool, { recursive: true });
    copyFileSync("/usr/bin/python3", join(hostTool, "tool"));
    chmodSync(join(hostTool, "tool"), 0o755);
    up = await recordingUpstream([HOST], dir);
    const policy = join(dir, "policy.yaml");
    writeFileSync(
      policy,
      [
        "version: 1",
        "network_policies:",
        "  api:",
        `    endpoints: [{ host: ${HOST}, port: 443 }]`,
        "    binaries:",
        "      - path: /usr/bin/curl",
        "      - path: /**/vendor/tool/bin/tool",
        "      - path: /tmp/x/exact/tool",
        "filesystem_policy:",
        `  read_only: [${join(dir, "host")}]`,
        "",
      ].join("\n"),
    );
    const fetch = (who: string) =>
      `-c "import urllib.request as u; print('${who}', u.urlopen('https://${HOST}/${who}').status)" 2>/dev/null || echo '${who} 000'`;
    const get = (who: string) => `-s -o /dev/null -w '${who} %{http_code}\\n' https://${HOST}/${who}`;
    const script = [
      `/usr/bin/curl ${get("control")}`,
      LOADER ? `${LOADER} /usr/bin/curl ${get("loader")}` : "echo 'loader 000'",
      // execveat(fd of /usr/bin/curl): the kernel names /usr/bin/curl as the executable, so this
      // is curl itself (allowed); the point is that it is not something else.
      `python3 -c "import os,sys; fd=os.open('/usr/bin/curl', os.O_RDONLY); os.execve(fd, ['curl']+sys.argv[1:], os.environ)" ${get("execveat")}`,
      // A copy of python3 where the rule's glob matches: /tmp is the sandbox's own.
      "mkdir -p /tmp/x/vendor/tool/bin && cp /usr/bin/python3 /tmp/x/vendor/tool/bin/tool",
      `/tmp/x/vendor/tool/bin/tool ${fetch("copy")}`,
      // The host's copy on its read-only mount is what the glob names.
      `${join(hostTool, "tool")} ${fetch("hostput")}`,
      // An exact path names one file, trusted on first use (its hash pinned), wherever it lies.
      "mkdir -p /tmp/x/exact && cp /usr/bin/python3 /tmp/x/exact/tool",
      `/tmp/x/exact/tool ${fetch("exact")}`,
    ].join("; ");
    const run = await runCli(
      [
        "run",
        "--policy",
        policy,
        "--connect-to",
        `${HOST}:443:127.0.0.1:${up.port}`,
        "--upstream-ca",
        up.caFile as string,
        "--workdir",
        wd,
        "--",
        "/bin/sh",
        "-c",
        script,
      ],
      { airlockHome: join(dir, "home"), timeoutMs: 120_000 },
    );
    stdout = run.stdout;
    stderr = run.stderr;
  });
  after(async () => {
    await up.close();
    removeDir(dir);
  });

  const seen = (path: string) => up.requests.some((r) => r.url === path);

  test("control: the listed curl reaches the upstream", () => {
    assert.match(stdout, /^control 200$/m, stderr);
    assert.ok(seen("/control"));
  });

  test("curl run through the dynamic loader is the loader, not curl: nothing arrives", {
    skip: !LOADER,
  }, () => {
    assert.match(stdout, /^loader 000$/m, stderr);
    assert.equal(seen("/loader"), false);
  });

  test("execveat of curl's descriptor is curl (the kernel's exe), and only that", () => {
    assert.match(stdout, /^execveat 200$/m, stderr);
  });

  test("a copy of python3 at a path the rule's glob matches is not the listed tool", () => {
    assert.match(stdout, /^copy 000$/m, stderr);
    assert.equal(seen("/copy"), false, `the copy reached the upstream:\n${stdout}`);
    const denial = allLogLines(join(dir, "home")).find((l) => l.includes("lies on a writable mount"));
    assert.ok(denial, "the denial does not say why");
    assert.match(
      denial,
      /\/tmp\/x\/vendor\/tool\/bin\/tool matches the glob \/\*\*\/vendor\/tool\/bin\/tool/,
    );
  });

  test("the same program put by the host where the glob matches (a read-only mount) is the listed tool", () => {
    assert.match(stdout, /^hostput 200$/m, stderr);
    assert.ok(seen("/hostput"));
  });

  test("an exact path is trusted on first use wherever it lies", () => {
    assert.match(stdout, /^exact 200$/m, stderr);
    assert.ok(seen("/exact"));
  });
});
