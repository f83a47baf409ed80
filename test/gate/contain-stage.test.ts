// Staging folders of contained runs: one left by a killed run is removed by the next run; a kept
// change set and a run still under way are not.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createStage, keepStage, removeAbandonedStages } from "../../src/gate/contain/stage.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

test("a run's folder is removed once its process is gone, unless it was kept", () => {
  const base = join(scratchDir("stages"), "contain");
  try {
    const live = createStage(base);
    const kept = createStage(base);
    keepStage(kept);
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    const killed = join(base, "run-killed");
    mkdirSync(join(killed, "files"), { recursive: true });
    writeFileSync(join(killed, "owner.pid"), `${gone}\n`);
    writeFileSync(join(killed, "files", "a.txt"), "staged\n");
    const other = join(base, "not-a-run");
    mkdirSync(other);

    assert.deepEqual(removeAbandonedStages(base), [killed]);
    assert.equal(existsSync(killed), false);
    for (const dir of [live, kept, other]) assert.ok(existsSync(dir), dir);

    // The next run clears up too, and marks its own folder.
    writeFileSync(join(kept, "owner.pid"), `${gone}\n`);
    const next = createStage(base);
    assert.deepEqual(
      readdirSync(base).sort(),
      [live, next, other].map((d) => d.slice(base.length + 1)).sort(),
    );
  } finally {
    removeDir(join(base, ".."));
  }
});
