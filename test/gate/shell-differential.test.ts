// Differential test against bash itself: stub commands record every run; whatever bash
// actually ran must be among the commands the analysis found. (The analysis may find more:
// both sides of `||`, every branch of `if`.) Never fewer.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { basename } from "../../src/gate/shell/wrappers.ts";
import { shellQuote } from "../../src/sandbox/shell-quote.ts";
import { analyzer, pick, rng } from "./helpers.ts";

const root = mkdtempSync(join(tmpdir(), "airlock-shell-diff-"));
after(() => rmSync(root, { recursive: true, force: true }));
const bin = join(root, "bin");
const log = join(root, "log");
mkdirSync(bin);
const STUBS = ["s1", "s2", "s3", "s4"];
for (const name of STUBS) {
  writeFileSync(join(bin, name), `#!/bin/sh\necho ${name} >> "$STUB_LOG"\n`);
  chmodSync(join(bin, name), 0o755);
}

const SPELL = [
  (n: string) => n,
  (n: string) => `"${n}"`,
  (n: string) => `'${n}'`,
  (n: string) => `\\${n}`,
  (n: string) => `$'${n}'`,
  (n: string) => `$'\\x${n.charCodeAt(0).toString(16)}${n.slice(1)}'`,
  (n: string) => `${n[0]}''${n.slice(1)}`,
  (n: string) => `"${n[0]}"${n.slice(1)}`,
];
const ARGV_WRAPPERS = [
  "env ",
  "env -i PATH=$PATH STUB_LOG=$STUB_LOG ",
  "timeout 5 ",
  "nice -n 1 ",
  "command ",
  "time ",
  "stdbuf -o0 ",
  "xargs ",
  "builtin command ",
];
const STRING_WRAPPERS = ["bash -c ", "sh -c ", "bash -lc "];
const CONTEXTS = [
  (x: string) => `echo $(${x})`,
  (x: string) => `echo \`${x.replaceAll("\\", "\\\\").replaceAll("`", "\\`").replaceAll("$", "\\$")}\``,
  (x: string) => `cat <(${x})`,
  (x: string) => `(${x})`,
  (x: string) => `{ ${x}; }`,
  (x: string) => `if true; then ${x}; fi`,
  (x: string) => `true && ${x}`,
  (x: string) => `false || ${x}`,
  (x: string) => `echo | ${x}`,
  (x: string) => `true; ${x}`,
  (x: string) => `true\n${x}`,
  (x: string) => `cat <<EOF\n$(${x})\nEOF`,
  (x: string) => `echo "$(${x})"`,
  (x: string) => `X=$(${x})`,
  (x: string) => `[[ -n $(${x}) ]]`,
  (x: string) => `for i in 1; do ${x}; done`,
  (x: string) => `! ${x}`,
  (x: string) => `${x} > /dev/null`,
  // dynamic: bash runs it, the analysis cannot name it, so the line must be marked unknowable
  (x: string) => `eval ${shellQuote(x)}`,
  (x: string) => `C=${shellQuote(x)}; eval "$C"`,
  (x: string) => `$(echo bash) -c ${shellQuote(x)}`,
  (x: string) => `F() { ${x}; }; F`,
  // code in arithmetic contexts and assignments that change what a later word runs
  (x: string) => `(( 'a[$(${x})]' ))`,
  (x: string) => `[[ 'a[$(${x})]' -eq 0 ]]`,
  (x: string) => `a=1; [[ -v 'a[$(${x})]' ]]`,
  (x: string) => `BASH_CMDS[zz]=${join(bin, "s1")}; zz; ${x}`,
  (x: string) => `IFS[0]=1 ${x}`,
];

function generate(r: () => number, depth: number): { line: string; simple: boolean } {
  if (depth === 0) return { line: `${pick(r, SPELL)(pick(r, STUBS))} arg`, simple: true };
  const inner = generate(r, depth - 1);
  const k = r();
  if (k < 0.3) {
    const cmd = inner.simple ? inner.line : `bash -c ${shellQuote(inner.line)}`;
    const w = pick(r, ARGV_WRAPPERS);
    return {
      line: w.startsWith("xargs") ? `${w}${cmd} < /dev/null` : `${w}${cmd}`,
      simple: !w.startsWith("xargs"),
    };
  }
  if (k < 0.4) {
    const cmd = inner.simple ? inner.line : `sh -c ${shellQuote(inner.line)}`;
    return { line: `find . -maxdepth 0 -exec ${cmd} \\;`, simple: true };
  }
  if (k < 0.6) return { line: `${pick(r, STRING_WRAPPERS)}${shellQuote(inner.line)}`, simple: true };
  return { line: pick(r, CONTEXTS)(inner.line), simple: false };
}

describe("shell analysis against bash", () => {
  it("never misses a command bash runs, or marks the line unknowable (400 generated lines)", () => {
    const seed = 9001;
    const r = rng(seed);
    let ran = 0;
    for (let i = 0; i < 400; i++) {
      const { line } = generate(r, 1 + Math.floor(r() * 3));
      writeFileSync(log, "");
      const result = spawnSync("bash", ["-c", line], {
        cwd: root,
        env: { PATH: `${bin}:/usr/bin:/bin`, STUB_LOG: log, HOME: root },
        encoding: "utf8",
        timeout: 10000,
      });
      assert.equal(result.error, undefined, `${line}: ${result.error?.message}`);
      const executed = new Set(readFileSync(log, "utf8").split("\n").filter(Boolean));
      if (executed.size > 0) ran++;
      const analysis = analyzer(line);
      if (analysis.parseError) continue; // asked about, never allowed: nothing to miss
      const found = new Set(
        analysis.commands.filter((c) => !c.name.dynamic).map((c) => basename(c.name.value)),
      );
      for (const name of executed) {
        // Missing is only acceptable when the line is marked unknowable (never allowlisted).
        assert.ok(
          found.has(name) || analysis.unknowns.length > 0,
          `seed ${seed} #${i}: bash ran ${name} but the analysis found ${[...found].join(",")} and no unknowns\n${line}`,
        );
      }
    }
    assert.ok(ran > 300, `only ${ran} lines ran a stub: the generator is broken`);
  });
});
