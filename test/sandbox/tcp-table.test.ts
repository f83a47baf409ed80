// The sandbox's network namespace has a TCP hash table of its own (bwrap.ts, privateTcpTable),
// in a plain run and in a contained run (the overlay's wrapper): real bubblewrap, real curl.
// Binary identity prints that table for every connection, so what it holds is what a lookup
// costs: the host's sockets never, and at most half its buckets of TIME_WAIT sockets.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SANDBOX_TCP_HASH_ENTRIES } from "../../src/sandbox/bwrap.ts";
import { removeDir, runSandboxed, scratchDir } from "./helpers.ts";

// Linux 6.1 added the setting; an older kernel keeps the host's table (slower, nothing less checked).
const supported = existsSync("/proc/sys/net/ipv4/tcp_child_ehash_entries");
const CONNECTIONS = 60;
// Each curl's connection is closed by the identity-echo handler first (TIME_WAIT on its side,
// inside the sandbox's namespace), then the table's TIME_WAIT lines (state 06) are counted.
const script = [
  "cat /proc/sys/net/ipv4/tcp_max_tw_buckets",
  `for i in $(seq ${CONNECTIONS}); do curl -s -o /dev/null --noproxy '*' http://127.0.0.1:3128/; done`,
  "awk 'NR > 1 && $4 == \"06\"' /proc/net/tcp | wc -l",
].join("\n");

function check(stdout: string): void {
  const [maxTimeWait, timeWait] = stdout.trim().split("\n").map(Number);
  const host = Number(readFileSync("/proc/sys/net/ipv4/tcp_max_tw_buckets", "utf8"));
  assert.equal(maxTimeWait, SANDBOX_TCP_HASH_ENTRIES / 2, "the kernel sized the sandbox's own table");
  assert.notEqual(host, maxTimeWait, "not the host's table");
  assert.ok(
    (timeWait as number) <= SANDBOX_TCP_HASH_ENTRIES / 2,
    `${timeWait} TIME_WAIT sockets after ${CONNECTIONS} connections`,
  );
}

describe("the sandbox's own TCP table", {
  skip: !supported && "kernel without tcp_child_ehash_entries",
  timeout: 60_000,
}, () => {
  const dir = scratchDir("tcp-table");
  after(() => removeDir(dir));

  test("airlock run", async () => {
    const run = await runSandboxed(["/bin/sh", "-c", script]);
    assert.equal(run.code, 0, run.stderr);
    check(run.stdout);
  });

  test("a contained run (the workdir on an overlay)", async () => {
    const workdir = join(dir, "wd");
    const layers = join(dir, "layers");
    mkdirSync(workdir);
    mkdirSync(layers);
    const run = await runSandboxed(["/bin/sh", "-c", script], {
      workdir,
      overlay: { dir: layers, sizeBytes: 1 << 20, statusFile: join(dir, "status"), after: ["true"] },
    });
    assert.equal(run.code, 0, run.stderr);
    check(run.stdout);
  });
});
