// The sandbox with its workdir on an overlay (real unshare, overlayfs, bubblewrap): the listener
// hand-off and binary identity work through the wrapper, writes stay in the upper layer, and the
// after-command sees them.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { removeDir, runSandboxed, scratchDir } from "./helpers.ts";

describe("sandbox with an overlaid workdir", { timeout: 60_000 }, () => {
  const dir = scratchDir("overlay");
  after(() => removeDir(dir));

  test("identity through the wrapper; writes staged in the upper layer; the after-command runs", async () => {
    const workdir = join(dir, "wd");
    const layers = join(dir, "layers");
    mkdirSync(workdir);
    mkdirSync(layers);
    const listing = join(dir, "upper.txt");
    const run = await runSandboxed(
      [
        "/bin/sh",
        "-c",
        'echo x > f && curl -s http://anything.example/ && echo && echo "$AIRLOCK_CONTAINED"',
      ],
      {
        workdir,
        overlay: {
          dir: layers,
          sizeBytes: 1 << 20,
          statusFile: join(dir, "status"),
          after: ["/bin/sh", "-c", `ls "$1" > ${listing}`, "sh"],
        },
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const [identity, contained] = run.stdout.trim().split("\n");
    const id = JSON.parse(identity ?? "{}");
    assert.equal(id.ok, true, identity);
    assert.equal(id.binary, "/usr/bin/curl");
    assert.equal(contained, "1");
    assert.equal(existsSync(join(workdir, "f")), false, "the real workdir is untouched");
    assert.equal(readFileSync(join(dir, "status"), "utf8").trim(), "0");
    assert.equal(readFileSync(listing, "utf8").trim(), "f");
  });

  test("an overlay that cannot be mounted is a clear start error", async () => {
    const workdir = join(dir, "wd2");
    mkdirSync(workdir);
    await assert.rejects(
      runSandboxed(["/bin/true"], {
        workdir,
        overlay: {
          dir: join(dir, "missing"),
          sizeBytes: 1 << 20,
          statusFile: join(dir, "s2"),
          after: ["true"],
        },
      }),
      /cannot put the workdir on an overlay \(tmpfs mount/,
    );
  });
});
