// The npm package as a user gets it: `npm pack`, then `npm install -g --prefix` of the tarball into
// a scratch prefix, then the installed `airlock` runs `--version`, the demo and a hook call. The
// tarball carries the bundle and the files it reads at run time, not the TypeScript sources, the
// tests or the build tools, so the installed command can only have run the bundle (and the code
// cache it leaves beside it shows that it did).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const REPO = resolve(import.meta.dirname, "..", "..");
const VERSION: string = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version;

function sh(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
) {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    // The install compiles better-sqlite3 (no prebuilt binary is reachable from CI): minutes on a
    // busy machine.
    timeout: 900_000,
    cwd: options.cwd ?? REPO,
    env: { ...process.env, AIRLOCK_FROM_SOURCE: "", ...options.env },
    input: options.input,
  });
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe("the npm package", () => {
  let scratch: string;
  let tarball: string;
  let installed: string;
  let airlock: string;

  before(() => {
    scratch = scratchDir("package");
    // `npm test` has just built dist/; a lone run of this file builds it here. Packing with
    // --ignore-scripts keeps prepack from rebuilding dist/ under tests running beside this one.
    if (!existsSync(join(REPO, "dist", "main.cjs"))) sh("npm", ["run", "build"]);
    const packed = JSON.parse(
      sh("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch]),
    );
    tarball = join(scratch, packed[0].filename);
    const files: string[] = packed[0].files.map((file: { path: string }) => file.path);
    assert.ok(files.includes("dist/main.cjs"), "the tarball carries the bundle");
    for (const file of files)
      assert.ok(
        !/^(test|bench|\.ci|scripts)\/|\.ts$/.test(file),
        `the tarball carries ${file}, which no user needs`,
      );
    const prefix = join(scratch, "prefix");
    sh("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball], {
      cwd: scratch,
      env: { JOBS: "max" }, // node-gyp builds on every core
    });
    installed = join(prefix, "lib", "node_modules", "airlock");
    airlock = join(prefix, "bin", "airlock");
  });
  after(() => removeDir(scratch));

  test("build and test tools are not installed with it", () => {
    for (const tool of ["tsx", "esbuild", "playwright-core", "typescript"])
      assert.ok(!existsSync(join(installed, "node_modules", tool)), `${tool} was installed as a dependency`);
    assert.ok(!existsSync(join(installed, "src", "cli", "main.ts")));
  });

  test("--version runs the bundle and leaves its code cache", () => {
    assert.equal(sh(airlock, ["--version"]).trim(), VERSION);
    assert.ok(readdirSync(join(installed, "dist")).includes("main.cjs.cache"));
  });

  test("the demo runs the whole loop from the installed package", () => {
    const home = join(scratch, "home-demo");
    const out = sh(airlock, ["demo"], { cwd: scratch, env: { AIRLOCK_HOME: home, AIRLOCK_GATEWAY: "" } });
    assert.match(out, /denied, proposed, reviewed, hot-reloaded, retried/);
  });

  test("a hook call answers with the gate's decision", () => {
    const payload = {
      session_id: "package-test",
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_input: { command: "ls" },
      cwd: scratch,
    };
    const out = sh(
      airlock,
      ["hook", "claude-code", "--policy", join(installed, "examples", "policies", "gate.yaml")],
      {
        cwd: scratch,
        env: { AIRLOCK_HOME: join(scratch, "home-hook"), AIRLOCK_GATEWAY: "" },
        input: JSON.stringify(payload),
      },
    );
    const answer = JSON.parse(out);
    assert.equal(answer.hookSpecificOutput.hookEventName, "PreToolUse");
    assert.equal(answer.hookSpecificOutput.permissionDecision, "allow");
  });
});
