// The execution oracle: every line of the corpus (hand-written and generated) that the preset
// allows at tier 0 is run by real bash in a throwaway bubblewrap sandbox (no network, a scratch
// home holding decoy secrets) under strace. Whatever ran, was opened or was written must be
// what the analysis reported for that line, or the ordinary files programs load; anything else
// fails the test with the line and the system call.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, posix } from "node:path";
import { after, describe, it } from "node:test";
import { decide } from "../../src/gate/cascade.ts";
import { loadGateFile } from "../../src/gate/file.ts";
import { namedPathKeys } from "../../src/gate/match.ts";
import { gatherFacts } from "../../src/gate/path-facts.ts";
import { baseDirs, pathsOf, rawPath } from "../../src/gate/paths.ts";
import type { ShellAnalysis } from "../../src/gate/shell/types.ts";
import { agentContext, analyzer, rng } from "./helpers.ts";
import { CORPUS, generateLine } from "./oracle-lines.ts";

const GENERATED = 700;
const SEED = 1515;
const have = (tool: string) => spawnSync("which", [tool]).status === 0;
const canRun = have("bwrap") && have("strace") && have("git");

const root = mkdtempSync(join(tmpdir(), "airlock-oracle-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const project = join(home, "project");

/** Decoys: a line that opens any of these has read or written a secret. */
const DECOYS = [
  ".ssh/id_rsa",
  ".aws/credentials",
  ".git-credentials",
  ".config/gh/hosts.yml",
  ".kube/config",
];

function scratch(): void {
  for (const d of DECOYS) {
    mkdirSync(join(home, posix.dirname(d)), { recursive: true });
    writeFileSync(join(home, d), "DECOY-SECRET\n");
  }
  writeFileSync(join(home, ".bashrc"), "# decoy rc\n");
  for (const d of ["src", "build", "dist"]) mkdirSync(join(project, d), { recursive: true });
  writeFileSync(join(project, "README.md"), "airlock\nTODO x\n");
  writeFileSync(join(project, "src", "a.ts"), "export const a = 1; // TODO\n");
  writeFileSync(join(project, "log.txt"), "one\ntwo\n");
  writeFileSync(join(project, "list"), "README.md\0");
  writeFileSync(join(project, ".env"), "DECOY-SECRET\n");
  symlinkSync(join(home, ".ssh", "id_rsa"), join(project, "k"));
  symlinkSync(join(home, ".ssh"), join(project, "kd"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=o", "-c", "user.email=o@o", ...args], {
      cwd: project,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", "README.md", "src");
  git("commit", "-qm", "first");
  writeFileSync(join(project, "README.md"), "airlock\nTODO x\nchanged\n");
}

interface Planned {
  line: string;
  run: string;
  generated: boolean;
  analysis: ShellAnalysis;
  /** Programs the analysis found (basenames). */
  programs: Set<string>;
  /** Paths it named, resolved; writes: the redirections that write. */
  paths: string[];
  writes: string[];
  bases: string[];
}

const SYSTEM_READ =
  /^\/(usr|lib|lib32|lib64|bin|sbin|etc|sys|run|var\/lib|var\/cache|proc\/(self|thread-self|\d+)\/(?!environ)|proc\/(filesystems|meminfo|mounts|sys|stat|cpuinfo|version)|dev\/(null|tty|urandom|fd\/[012]|stdin|stdout|stderr)$)/;
const SECRET_SYSTEM =
  /^\/(etc\/(shadow|gshadow|sudoers)|proc\/\d+\/(task\/\d+\/)?environ|proc\/(self|thread-self)\/environ)/;
const HARMLESS_WRITE = /^\/dev\/(null|tty|fd\/[12]|stdout|stderr)$/;
const MUTATING = new Set([
  "creat",
  "mkdir",
  "mkdirat",
  "unlink",
  "unlinkat",
  "rename",
  "renameat",
  "renameat2",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "truncate",
  "chmod",
  "fchmodat",
  "chown",
  "fchownat",
  "lchown",
  "utimensat",
  "rmdir",
]);
const TRACED = ["execve", "execveat", "open", "openat", "connect", "bind", "sendto", ...MUTATING].join(",");

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);

/** The violations in one line's traces (one file per process, `strace -ff`). */
function violations(p: Planned, traces: string[]): string[] {
  const out: string[] = [];
  const decoys = [...DECOYS.map((d) => join(home, d)), join(project, ".env"), join(home, ".bashrc")];
  const resolveAll = (path: string) =>
    path.startsWith("/") ? [posix.normalize(path)] : p.bases.map((b) => posix.resolve(b, path));
  for (const text of traces) {
    for (const row of text.split("\n")) {
      const m = /^(\w+)\((.*)\)\s+=\s+(-?\d+|\?)/.exec(row);
      if (!m) continue;
      const [, call, args, result] = m as unknown as [string, string, string, string];
      const ok = result !== "-1";
      if (call === "execve" || call === "execveat") {
        const prog = /"([^"]*)"/.exec(args)?.[1] ?? "";
        if (ok && !p.programs.has(basename(prog)) && basename(prog) !== "bash")
          out.push(`ran ${prog} (the analysis found ${[...p.programs].join(",") || "nothing"})`);
        continue;
      }
      if (call === "connect" || call === "bind" || call === "sendto") {
        if (
          !/sun_path="\/(var\/)?run\/nscd\/socket"/.test(args) &&
          /sa_family=AF_INET|AF_INET6|AF_NETLINK|sun_path/.test(args)
        )
          out.push(`${call}(${args.slice(0, 80)})`);
        continue;
      }
      // Paths relative to a directory descriptor are inside a directory already checked.
      if (call === "openat" && !args.startsWith("AT_FDCWD")) continue;
      const quoted = /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
      if (quoted === undefined) continue;
      const forms = resolveAll(quoted);
      const writes = MUTATING.has(call) || /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(args);
      if (forms.some((f) => decoys.some((d) => under(f, d)) || SECRET_SYSTEM.test(f))) {
        out.push(`${call} ${quoted} (a decoy secret)`);
        continue;
      }
      if (writes) {
        if (forms.some((f) => HARMLESS_WRITE.test(f) || p.writes.includes(f))) continue;
        out.push(
          `${call} ${quoted} for writing (${ok ? "done" : "attempted"}; reported writes: ${p.writes.join(",") || "none"})`,
        );
        continue;
      }
      const known = (f: string) =>
        (SYSTEM_READ.test(f) && !SECRET_SYSTEM.test(f)) ||
        under(f, project) ||
        p.paths.some((q) => under(f, q)) ||
        under(f, join(home, ".gitconfig")) ||
        under(f, join(home, ".config", "git"));
      if (!forms.some(known))
        out.push(`${call} ${quoted} (not among the paths reported: ${p.paths.join(",")})`);
    }
  }
  return out;
}

function sandboxRun(planned: Planned[]): Map<number, string[]> {
  const lines = join(root, "lines");
  const traces = join(root, "traces");
  mkdirSync(lines);
  mkdirSync(traces);
  for (const [i, p] of planned.entries()) writeFileSync(join(lines, `${i}`), p.run);
  const driver = `cd "$PROJECT" || exit 9
for f in "$LINES"/*; do
  n=\${f##*/}
  timeout -k 1 5 strace -ff -qq -o "$TRACES/$n" -e trace=${TRACED} bash -c "$(cat "$f")" </dev/null >/dev/null 2>&1
done`;
  const realHome = process.env["HOME"] ?? "/root";
  const args = [
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    ...(realHome.startsWith(root) ? [] : ["--tmpfs", realHome]),
    "--bind",
    root,
    root,
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--setenv",
    "HOME",
    home,
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--setenv",
    "LANG",
    "C",
    "--setenv",
    "PROJECT",
    project,
    "--setenv",
    "LINES",
    lines,
    "--setenv",
    "TRACES",
    traces,
    "bash",
    "-c",
    driver,
  ];
  const result = spawnSync("bwrap", args, { encoding: "utf8", timeout: 150000 });
  assert.equal(result.error, undefined, `bwrap: ${result.error?.message}`);
  assert.equal(result.status, 0, `the oracle's sandbox failed: ${result.stderr}`);
  const byLine = new Map<number, string[]>();
  for (const file of readdirSync(traces)) {
    const n = Number(file.split(".")[0]);
    const list = byLine.get(n) ?? [];
    list.push(readFileSync(join(traces, file), "utf8"));
    byLine.set(n, list);
  }
  return byLine;
}

describe("execution oracle: what the gate allows at tier 0, run under strace", { skip: !canRun }, () => {
  it(`runs every tier-0 line of the corpus and ${GENERATED} generated lines; nothing beyond the analysis`, async (t) => {
    scratch();
    const loaded = loadGateFile(join(import.meta.dirname, "../../examples/policies/gate.yaml"), analyzer);
    assert.ok(loaded.ok, "the preset loads");
    const gate = loaded.gate;
    const ctx = agentContext(home, project);
    const r = rng(SEED);
    const lines = [
      ...CORPUS.map((line) => ({ line: line.replaceAll("$HOME", home), generated: false })),
      ...Array.from({ length: GENERATED }, () => ({ line: generateLine(r), generated: true })),
    ];
    const planned: Planned[] = [];
    const seen = new Set<string>();
    for (const { line, generated } of lines) {
      if (seen.has(line)) continue;
      seen.add(line);
      const call = { kind: "shell" as const, command: line };
      const d = await decide(gate, call, ctx, { analyze: analyzer, facts: gatherFacts });
      if (d.decision !== "allow" || d.tier !== 0) continue;
      const analysis = analyzer(line);
      const paths = pathsOf(ctx);
      const facts = gatherFacts(call, analysis, ctx);
      const real = (key: string) => facts.real?.get(key)?.path ?? posix.resolve(key);
      const bd = baseDirs(paths, analysis);
      planned.push({
        line,
        run: d.rewrite?.kind === "shell" ? d.rewrite.command : line,
        generated,
        analysis,
        programs: new Set(
          analysis.commands.filter((c) => !c.name.dynamic).map((c) => basename(c.name.value)),
        ),
        paths: namedPathKeys(call, analysis, paths).map(real),
        writes: analysis.redirects
          .filter((x) => x.op === "write" && !x.path.dynamic)
          .flatMap((x) => bd.bases.map((b) => real(rawPath(paths, x.path.value, b)))),
        bases: bd.bases.map((b) => real(b)),
      });
    }
    const byLine = sandboxRun(planned);
    const found: string[] = [];
    planned.forEach((p, i) => {
      for (const v of violations(p, byLine.get(i) ?? [])) found.push(`${JSON.stringify(p.line)}: ${v}`);
    });
    const generatedRun = planned.filter((p) => p.generated).length;
    t.diagnostic(
      `oracle: ${lines.length} lines (${CORPUS.length} corpus, ${GENERATED} generated, seed ${SEED}), ` +
        `${planned.length} allowed at tier 0 and executed (${generatedRun} generated), ${found.length} violations`,
    );
    assert.ok(
      byLine.size >= planned.length * 0.9,
      `only ${byLine.size} of ${planned.length} lines left a trace`,
    );
    assert.ok(
      planned.length > 60,
      `only ${planned.length} lines were tier 0: the corpus or the preset is broken`,
    );
    assert.deepEqual(found, []);
  });

  it("the oracle itself notices a line that reads a decoy, writes unreported, runs or connects", () => {
    const analysis = analyzer("cat README.md");
    const p: Planned = {
      line: "cat README.md",
      run: "",
      generated: false,
      analysis,
      programs: new Set(["cat"]),
      paths: [join(project, "README.md")],
      writes: [],
      bases: [project],
    };
    const trace = [
      `execve("/usr/bin/cat", ["cat"], 0x0 /* 3 vars */) = 0`,
      `openat(AT_FDCWD, "${home}/.ssh/id_rsa", O_RDONLY) = 3`,
      `openat(AT_FDCWD, "out", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3`,
      `execve("/usr/bin/touch", ["touch"], 0x0 /* 3 vars */) = 0`,
      `connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16) = -1 ENETUNREACH`,
      `openat(AT_FDCWD, "/opt/elsewhere", O_RDONLY) = 3`,
    ].join("\n");
    assert.equal(violations(p, [trace]).length, 5);
  });
});
