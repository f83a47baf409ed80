// bin/airlock.js runs the bundle only while every source it was built from is unchanged, and
// the sources (through tsx) otherwise, and keeps V8's code cache for exactly the bundle it ran:
// the real launcher, in a scratch package whose bundle and sources are stand-ins that say which
// of them ran.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { HELD_PREFIX } from "../../src/sandbox/bwrap.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
const standIn = (which: string) =>
  `export function exitQuietlyOnBrokenPipe() {}\nexport async function main() { console.log("${which}"); }\n`;
const bundleStandIn = (which: string) =>
  `exports.exitQuietlyOnBrokenPipe = () => {};\nexports.main = async () => console.log("${which}");\n`;

/**
 * A scratch package holding the real launcher, with `bundle` as dist/main.cjs, stand-in sources,
 * and a build record made at `builtAt` listing `inputs`.
 */
function scratchPackage(name: string, bundle: string, inputs: string[], builtAt: number): string {
  const pkg = scratchDir(name);
  for (const dir of ["bin", "dist", "src/cli"]) mkdirSync(join(pkg, dir), { recursive: true });
  writeFileSync(join(pkg, "package.json"), '{ "type": "module" }\n');
  symlinkSync(join(REPO, "node_modules"), join(pkg, "node_modules"));
  for (const file of ["airlock.js", "package.json"])
    copyFileSync(join(REPO, "bin", file), join(pkg, "bin", file));
  writeFileSync(join(pkg, "dist", "main.cjs"), bundle);
  writeFileSync(join(pkg, "src", "cli", "main.ts"), standIn("sources"));
  writeFileSync(join(pkg, "src", "cli", "other.ts"), "export {};\n");
  writeFileSync(join(pkg, "dist", "build.json"), JSON.stringify({ builtAt, inputs }));
  return pkg;
}

describe("bin/airlock.js", () => {
  let pkg: string;
  let builtAt: number;

  before(() => {
    builtAt = Date.now() + 60_000; // the stand-in sources are older than this build
    pkg = scratchPackage("bin", bundleStandIn("bundle"), ["src/cli/main.ts", "src/cli/other.ts"], builtAt);
  });
  after(() => removeDir(pkg));

  const run = (env: NodeJS.ProcessEnv = {}, args: string[] = []) => {
    const result = spawnSync(process.execPath, [join(pkg, "bin", "airlock.js"), ...args], {
      encoding: "utf8",
      env: { ...process.env, AIRLOCK_FROM_SOURCE: "", ...env },
      timeout: 30_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };

  test("a current bundle runs", () => {
    assert.equal(run(), "bundle");
  });

  test("AIRLOCK_FROM_SOURCE=1 runs the sources", () => {
    assert.equal(run({ AIRLOCK_FROM_SOURCE: "1" }), "sources");
  });

  test("a source edited after the build runs the sources, and a rebuild brings the bundle back", () => {
    const later = new Date(builtAt + 1000);
    utimesSync(join(pkg, "src", "cli", "other.ts"), later, later);
    assert.equal(run(), "sources");
    writeFileSync(
      join(pkg, "dist", "build.json"),
      JSON.stringify({ builtAt: builtAt + 2000, inputs: ["src/cli/main.ts", "src/cli/other.ts"] }),
    );
    assert.equal(run(), "bundle");
  });

  test("a source the bundle was built from that is gone, or no build record, runs the sources", () => {
    writeFileSync(
      join(pkg, "dist", "build.json"),
      JSON.stringify({ builtAt: builtAt + 2000, inputs: ["src/cli/main.ts", "src/cli/removed.ts"] }),
    );
    assert.equal(run(), "sources");
    writeFileSync(join(pkg, "dist", "build.json"), "not json");
    assert.equal(run(), "sources");
    writeFileSync(
      join(pkg, "dist", "build.json"),
      JSON.stringify({ builtAt: builtAt + 2000, inputs: ["src/cli/main.ts", "src/cli/other.ts"] }),
    );
    renameSync(join(pkg, "dist", "main.cjs"), join(pkg, "dist", "main.cjs.moved"));
    assert.equal(run(), "sources", "a build record without its bundle");
    renameSync(join(pkg, "dist", "main.cjs.moved"), join(pkg, "dist", "main.cjs"));
    assert.equal(run(), "bundle");
  });

  test("a command that can never finish exits 13, one that throws exits 1 with its error", () => {
    const stderrOf = (main: string) => {
      writeFileSync(
        join(pkg, "src", "cli", "main.ts"),
        `export function exitQuietlyOnBrokenPipe() {}\n${main}\n`,
      );
      return spawnSync(process.execPath, [join(pkg, "bin", "airlock.js")], {
        encoding: "utf8",
        env: { ...process.env, AIRLOCK_FROM_SOURCE: "1" },
        timeout: 30_000,
      });
    };
    assert.equal(stderrOf("export async function main() { await new Promise(() => {}); }").status, 13);
    const thrown = stderrOf('export async function main() { throw new Error("it broke"); }');
    assert.equal(thrown.status, 1);
    assert.match(thrown.stderr, /it broke/);
    assert.equal(stderrOf("export async function main() { process.exit(0); }").status, 0);
    writeFileSync(join(pkg, "src", "cli", "main.ts"), standIn("sources"));
  });

  describe("code cache", () => {
    const bundle = () => join(pkg, "dist", "main.cjs");
    const cache = () => readFileSync(join(pkg, "dist", "main.cjs.cache"));
    const stampOf = () => {
      const { size, mtimeMs } = statSync(bundle());
      return `${size} ${mtimeMs}\n`;
    };

    before(() => {
      writeFileSync(
        join(pkg, "dist", "build.json"),
        JSON.stringify({ builtAt: Date.now() + 120_000, inputs: ["src/cli/main.ts"] }),
      );
    });

    test("the first run writes a cache stamped with the bundle's size and mtime", () => {
      assert.equal(run(), "bundle");
      const written = cache();
      assert.equal(written.subarray(0, stampOf().length).toString(), stampOf());
      assert.ok(written.length > stampOf().length + 100, "V8's data follows the stamp");
    });

    test("a bundle rewritten with the same length never runs with the old cache", () => {
      const before = cache();
      writeFileSync(bundle(), bundleStandIn("BUNDLE"));
      const later = new Date(Date.now() + 5000);
      utimesSync(bundle(), later, later);
      assert.equal(run(), "BUNDLE");
      const after = cache();
      assert.notDeepEqual(after, before);
      assert.equal(after.subarray(0, stampOf().length).toString(), stampOf());
    });

    test("a damaged cache is rejected by V8, the bundle still runs and the cache is rewritten", () => {
      const stamp = Buffer.from(stampOf());
      writeFileSync(join(pkg, "dist", "main.cjs.cache"), Buffer.concat([stamp, Buffer.alloc(4096, 7)]));
      assert.equal(run(), "BUNDLE");
      const rewritten = cache();
      assert.ok(rewritten.subarray(0, stamp.length).equals(stamp));
      assert.notDeepEqual(rewritten.subarray(stamp.length, stamp.length + 64), Buffer.alloc(64, 7));
    });

    test("`run` replaces a cache it did not make, as it exits; other commands then keep it", () => {
      assert.equal(run({}, ["run", "--", "true"]), "BUNDLE");
      const byRun = cache();
      assert.equal(byRun.subarray(0, stampOf().length + 4).toString(), `${stampOf().trimEnd()} run\n`);
      assert.equal(run(), "BUNDLE");
      assert.equal(run({}, ["run", "--", "true"]), "BUNDLE");
      assert.deepEqual(cache(), byRun);
    });
  });
});

describe("bin/airlock.js as a shell script: NODE_EXTRA_CA_CERTS", () => {
  let pkg: string;
  // What node was started with (/proc/self/environ is the environment at exec) and what the CLI sees.
  const reporter = `exports.exitQuietlyOnBrokenPipe = () => {};\nexports.main = async () => console.log(JSON.stringify({ atStart: require("node:fs").readFileSync("/proc/self/environ", "latin1").split("\\0").filter((v) => v.includes("NODE_EXTRA_CA_CERTS")), seen: process.env.NODE_EXTRA_CA_CERTS ?? null, held: process.env.${HELD_PREFIX}NODE_EXTRA_CA_CERTS ?? null }));\n`;

  before(() => {
    pkg = scratchPackage("bin-sh", reporter, ["src/cli/main.ts"], Date.now() + 60_000);
  });
  after(() => removeDir(pkg));

  /** Executed as a user would (the kernel reads the #! line), not as `node bin/airlock.js`. */
  const exec = (args: string[], env: NodeJS.ProcessEnv) => {
    const result = spawnSync(join(pkg, "bin", "airlock.js"), args, {
      encoding: "utf8",
      env: { ...process.env, AIRLOCK_FROM_SOURCE: "", AIRLOCK_GATEWAY: "", ...env },
      timeout: 30_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as { atStart: string[]; seen: string | null; held: string | null };
  };

  test("`run` starts node without it and gives it back to the CLI (and so to every child)", () => {
    const report = exec(["run", "--", "true"], { NODE_EXTRA_CA_CERTS: "/extra.pem" });
    assert.deepEqual(report.atStart, [`${HELD_PREFIX}NODE_EXTRA_CA_CERTS=/extra.pem`]);
    assert.equal(report.seen, "/extra.pem");
    assert.equal(report.held, null);
  });

  test("other commands, and `run` with an https gateway (fetch needs the store), keep it", () => {
    for (const [args, env] of [
      [["--version"], {}],
      [["policy", "check", "x.yaml"], {}],
      [["run", "--", "true"], { AIRLOCK_GATEWAY: "https://gateway.example:8443" }],
      [["run", "--", "true"], { AIRLOCK_GATEWAY: "HTTPS://gateway.example" }],
    ] as const) {
      const report = exec([...args], { NODE_EXTRA_CA_CERTS: "/extra.pem", ...env });
      assert.deepEqual(report.atStart, ["NODE_EXTRA_CA_CERTS=/extra.pem"], args.join(" "));
      assert.equal(report.seen, "/extra.pem");
    }
  });

  test("unset stays unset", () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const result = spawnSync(join(pkg, "bin", "airlock.js"), ["run", "--", "true"], {
      encoding: "utf8",
      env: { ...env, AIRLOCK_FROM_SOURCE: "" },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { atStart: [], seen: null, held: null });
  });
});
