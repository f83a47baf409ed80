// `airlock run` as a process: exit status, signals, stdin, nothing left behind, preflight errors.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AIRLOCK_BIN, processesWith, runCli, startCli, waitFor } from "./cli-helpers.ts";
import { removeDir, scratchDir } from "./helpers.ts";

describe("airlock run as a process", () => {
  let dir: string;
  let home: string;
  let wd: string;
  before(() => {
    dir = scratchDir("proc");
    home = join(dir, "home");
    wd = join(dir, "wd");
    mkdirSync(wd);
  });
  after(() => removeDir(dir));
  const run = (args: string[], stdin?: string) =>
    runCli(["run", "-q", "--workdir", wd, "--", ...args], { airlockHome: home, stdin });

  test("the command's exit status is airlock's", async () => {
    assert.equal((await run(["/bin/sh", "-c", "exit 7"])).code, 7);
    assert.equal((await run(["true"])).code, 0);
    const missing = await run(["/no/such/command"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /command not found: \/no\/such\/command/);
  });

  test("stdin and stdout pass through", async () => {
    const result = await run(["/bin/sh", "-c", "tr a-z A-Z"], "hello sandbox\n");
    assert.equal(result.stdout, "HELLO SANDBOX\n");
    assert.equal(result.stderr, "", "-q: airlock prints nothing of its own");
  });

  test("a terminal passes through (the command sees a tty on stdin and stdout)", {
    skip: !existsSync("/usr/bin/script"),
  }, async () => {
    // script(1) gives airlock a pseudo-terminal, as an interactive shell would.
    const inner = `${process.execPath} ${AIRLOCK_BIN} run -q --no-gateway --workdir ${wd} -- /bin/sh -c 'test -t 0 && test -t 1 && echo tty-ok'`;
    const result = await new Promise<string>((resolve) => {
      const child = spawn("/usr/bin/script", ["-qec", inner, "/dev/null"], {
        env: { ...process.env, AIRLOCK_HOME: home },
        stdio: ["pipe", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.once("close", () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
    assert.match(result, /tty-ok/);
  });

  for (const [signal, expected] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    test(`${signal} reaches the command`, async () => {
      const { done } = startCli(
        ["run", "-q", "--workdir", wd, "--", "/bin/sh", "-c", "echo ready; exec sleep 60"],
        {
          airlockHome: home,
          timeoutMs: 30_000,
          onStdout: (child, out) => {
            if (out === "ready\n") setTimeout(() => child.kill(signal), 200);
          },
        },
      );
      const result = await done;
      assert.equal(result.code, expected, result.stderr);
    });
  }

  test("a trap in the command sees SIGINT and decides the status", async () => {
    const script = "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done";
    const { done } = startCli(["run", "-q", "--workdir", wd, "--", "/bin/sh", "-c", script], {
      airlockHome: home,
      timeoutMs: 30_000,
      onStdout: (child, out) => {
        if (out === "ready\n") setTimeout(() => child.kill("SIGINT"), 200);
      },
    });
    const result = await done;
    assert.equal(result.code, 5);
    assert.match(result.stdout, /got-int/);
  });

  test("no process is left behind after the command exits", async () => {
    const marker = `${40000 + (process.pid % 9000)}.25`;
    const result = await run(["/bin/sh", "-c", `sleep ${marker} & sleep ${marker} & echo started`]);
    assert.equal(result.code, 0);
    assert.ok(
      await waitFor(() => processesWith(`sleep\0${marker}`).length === 0, 5000),
      "background sleeps survived",
    );
  });

  test("SIGKILL of the supervisor takes the whole sandbox down", async () => {
    const marker = `${50000 + (process.pid % 9000)}.5`;
    const { child, done } = startCli(
      ["run", "-q", "--workdir", wd, "--", "/bin/sh", "-c", `echo ready; sleep ${marker}`],
      {
        airlockHome: home,
        timeoutMs: 30_000,
        onStdout: (c, out) => {
          if (out === "ready\n") setTimeout(() => c.kill("SIGKILL"), 200);
        },
      },
    );
    const result = await done;
    assert.equal(result.signal, "SIGKILL");
    assert.equal(child.exitCode, null);
    assert.ok(
      await waitFor(() => processesWith(`sleep\0${marker}`).length === 0, 10_000),
      "the sandbox outlived its supervisor",
    );
    // Its placeholders for absent protected files are still in the workdir; the next start
    // in the same Airlock home clears them.
    assert.equal(existsSync(join(wd, ".mcp.json")), true);
    const next = await run(["true"]);
    assert.equal(next.code, 0);
    for (const ghost of [".mcp.json", ".bashrc", ".claude", ".airlock"]) {
      assert.equal(existsSync(join(wd, ghost)), false, `${ghost} left behind`);
    }
    // Only the killed sandbox was looked at again: it is marked lost, and no sandbox keeps a
    // record of mount points once they are cleaned up.
    const sandboxes = join(home, "sandboxes");
    const infos = readdirSync(sandboxes).map((name) =>
      JSON.parse(readFileSync(join(sandboxes, name, "sandbox.json"), "utf8")),
    );
    assert.equal(infos.filter((info) => info.lost === true).length, 1);
    for (const name of readdirSync(sandboxes)) {
      assert.equal(
        existsSync(join(sandboxes, name, "mountpoints.json")),
        false,
        `${name} kept mountpoints.json`,
      );
    }
  });
});

describe("sandbox state", () => {
  test("name, policy snapshot, CA and logs live under $AIRLOCK_HOME/sandboxes/<name>", async () => {
    const dir = scratchDir("state");
    try {
      const home = join(dir, "home");
      const result = await runCli(["run", "--name", "my-box", "--workdir", dir, "--", "true"], {
        airlockHome: home,
      });
      assert.equal(result.code, 0, result.stderr);
      const state = join(home, "sandboxes", "my-box");
      assert.match(result.stderr, new RegExp(`sandbox my-box started \\(logs: ${state}/logs\\)`));
      const info = JSON.parse(readFileSync(join(state, "sandbox.json"), "utf8"));
      assert.equal(info.name, "my-box");
      assert.equal(info.exit_code, 0);
      assert.ok(info.ended);
      assert.match(readFileSync(join(state, "policy.yaml"), "utf8"), /^version: 1$/m);
      assert.match(readFileSync(join(state, "ca", "ca.crt"), "utf8"), /BEGIN CERTIFICATE/);
      assert.equal(statSync(join(state, "ca", "ca.key")).mode & 0o777, 0o600);
      assert.ok(readdirSync(join(state, "logs")).some((f) => /^airlock\.\d{4}-\d{2}-\d{2}\.log$/.test(f)));
      const bad = await runCli(["run", "--name", "Bad Name", "--workdir", dir, "--", "true"], {
        airlockHome: home,
      });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /sandbox name "Bad Name" must be/);
    } finally {
      removeDir(dir);
    }
  });
});

describe("preflight", () => {
  let dir: string;
  before(() => {
    dir = scratchDir("preflight");
  });
  after(() => removeDir(dir));

  test("a missing workdir is named", async () => {
    const result = await runCli(["run", "--workdir", join(dir, "nope"), "--", "true"], {
      airlockHome: join(dir, "h"),
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /airlock: workdir .*nope does not exist/);
  });

  test("an invalid policy reports file:line:col", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "version: 1\nnetwork_policies:\n  x:\n    endpoints:\n      - host: example.com\n        prot: 443\n",
    );
    const result = await runCli(["run", "--policy", file, "--workdir", dir, "--", "true"], {
      airlockHome: join(dir, "h"),
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:6:9: `));
  });

  test("bubblewrap missing says how to install it", async () => {
    const result = await runCli(["run", "--workdir", dir, "--", "true"], {
      airlockHome: join(dir, "h"),
      env: { PATH: join(dir, "empty-path") },
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /bubblewrap \(bwrap\) is not installed; install it with `apt-get install bubblewrap`/,
    );
    assert.equal(
      existsSync(join(dir, "h", "sandboxes")),
      false,
      "a failed preflight leaves no sandbox behind",
    );
  });

  test("a bad --connect-to and a missing command are usage problems", async () => {
    const bad = await runCli(["run", "--connect-to", "nonsense", "--workdir", dir, "--", "true"], {
      airlockHome: join(dir, "h"),
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--connect-to nonsense: expected HOST:PORT:ADDR:PORT2/);
    const none = await runCli(["run", "--workdir", dir], { airlockHome: join(dir, "h") });
    assert.equal(none.code, 2);
  });
});
