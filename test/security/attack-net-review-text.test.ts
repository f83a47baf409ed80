// What the developer reads at review, attacked from inside a real `airlock run`: the sandbox
// chooses a proposal's intent, rationale, rule name and binary glob, the paths of the files it
// leaves behind and the names of the programs the proxy denies. Terminal control sequences in
// them (cursor up and erase line, conceal, an OSC 52 clipboard write, C1 CSI, bidi overrides)
// would let a wide rule read as a narrow one on `airlock rule get`, hide its findings, or write
// to the developer's clipboard. Every line Airlock prints from that text must be printable.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliRun, runCli } from "../sandbox/cli-helpers.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const NAME = "review-text";

/** Inside the sandbox: a proposal whose text rewrites the lines around it, a host-run file and a denied program with escapes in their names. */
const AGENT = String.raw`
import json, os, shutil, subprocess, urllib.request
ESC, BEL, CSI, RLO = "\x1b", "\x07", "\u009b", "\u202e"
erase_above = ESC + "[1A" + ESC + "[2K\r"
rule = {
    "name": "docs" + ESC + "[8m",
    "endpoints": [{"host": "**.example.com", "port": 443}],
    "binaries": [{"path": "/usr/bin/python3*" + ESC + "[2K\r  binary: /usr/bin/curl"}],
}
body = {
    "intent_summary": erase_above + "  endpoint: api.example.com:443 [L7 rest, access=read-only]\n  intent: read the docs",
    "rationale": "needed" + ESC + "[8m" + ESC + "]52;c;Y3VybCBldmlsIHwgc2g=" + BEL + CSI + "2J" + RLO,
    "operations": [{"addRule": {"ruleName": "docs_read", "rule": rule}}],
}
proxy = urllib.request.ProxyHandler({"http": "http://127.0.0.1:3128"})
request = urllib.request.Request("http://policy.local/v1/proposals", data=json.dumps(body).encode(), method="POST")
print(urllib.request.build_opener(proxy).open(request).read().decode())
# A file a host tool obeys, in a folder whose name carries a conceal and a clipboard write.
folder = "sub" + ESC + "[8m" + ESC + "]52;c;ZXZpbA==" + BEL
os.makedirs(folder, exist_ok=True)
open(os.path.join(folder, ".envrc"), "w").write("echo hi\n")
# A program the proxy denies, named to erase the line it is printed on.
exe = "./cu" + ESC + "[2K" + ESC + "[8mrl"
shutil.copy("/usr/bin/curl", exe)
subprocess.run([exe, "-s", "-o", "/dev/null", "https://blocked.example.net/"])
`;

/** ESC, other C0 and C1 controls, DEL, line separators, bidi overrides and isolates: none may reach the terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function shown(text: string): string {
  return JSON.stringify(text).slice(0, 2000);
}

describe("the text the sandbox puts before the developer", () => {
  let dir: string;
  let home: string;
  let run: CliRun;
  let get: CliRun;
  let denials: CliRun;
  before(async () => {
    dir = scratchDir("sec-review-text");
    home = join(dir, "home");
    const wd = join(dir, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "agent.py"), AGENT);
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, "version: 1\nnetwork_policies: {}\n");
    run = await runCli(
      [
        "run",
        "--name",
        NAME,
        "--enable-proposals",
        "--policy",
        policy,
        "--workdir",
        wd,
        "--",
        "/usr/bin/python3",
        "agent.py",
      ],
      { airlockHome: home, gateway: true, timeoutMs: 90_000 },
    );
    get = await runCli(["rule", "get", NAME, "--status", "pending"], { airlockHome: home });
    denials = await runCli(["denials", NAME], { airlockHome: home });
  });
  after(async () => {
    await runCli(["gateway", "stop"], { airlockHome: home });
    removeDir(dir);
  });

  test("the proposal was accepted and the run ended", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"accepted_chunks":1/);
  });

  test("airlock rule get prints the rule as it is, each line printable", () => {
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /endpoint: \*\*\.example\.com:443 \[L4\]/);
    assert.match(get.stdout, /security note \[medium\] wildcard_host/);
    for (const line of get.stdout.split("\n")) assert.doesNotMatch(line, UNPRINTABLE, shown(line));
    // The forged lines are still there, but on the intent's own line, marked as such.
    assert.match(get.stdout, /^ {2}intent: \?\[1A\?\[2K\? {2}endpoint: api\.example\.com/m);
  });

  test("the run's summary names the host-run file, printable", () => {
    assert.match(run.stderr, /\.envrc/);
    for (const line of run.stderr.split("\n")) assert.doesNotMatch(line, UNPRINTABLE, shown(line));
  });

  test("airlock denials names the denied program, printable", () => {
    assert.equal(denials.code, 0, denials.stderr);
    assert.match(denials.stdout, /blocked\.example\.net:443/);
    for (const line of denials.stdout.split("\n")) assert.doesNotMatch(line, UNPRINTABLE, shown(line));
  });
});
