// Shared by the gate tests: load a gate from YAML text with the real shell analyzer.
import type { CallContext } from "../../src/gate/call.ts";
import type { CompiledGate } from "../../src/gate/compile.ts";
import { loadGateText } from "../../src/gate/load.ts";
import { type AnalyzeShell, loadShellAnalyzer } from "../../src/gate/shell/parser.ts";
import { formatProblem } from "../../src/policy/load.ts";

export const analyzer: AnalyzeShell = await loadShellAnalyzer();

export function gateFrom(yaml: string): CompiledGate {
  const loaded = loadGateText(yaml, "test.yaml", analyzer);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatProblem).join("\n"));
  return loaded.gate;
}

export const CTX: CallContext = {
  cwd: "/work/project",
  workdir: "/work/project",
  home: "/home/user",
  canAsk: true,
  canContain: true,
};

/** An agent working in `project` with `home` as its home, as a Claude Code hook sees it. */
export function agentContext(home: string, project: string): CallContext {
  return {
    cwd: project,
    workdir: project,
    home,
    airlockHome: `${home}/.airlock`,
    canAsk: true,
    canContain: false,
    canRewrite: true,
  };
}

/** A gate that allows a few read-only commands, with secret and gate-config hard stops. */
export const READ_ONLY_GATE = `
gate:
  hard_stops:
    - id: secrets
      decision: deny
      reason: secrets are off limits
      file: { path: ["~/.ssh/**", "~/.aws/**", "**/.env", "**/.env.*", "~/.airlock/**"] }
  allow:
    - id: read-only
      shell: { command: [cd, ls, cat, echo, grep, head, wc, pwd] }
    - id: find
      shell: { command: find, no_flags: [exec, execdir, ok, okdir, delete, fprint, fprint0, fprintf, fls] }
    - id: git-read
      shell: { command: git, subcommand: [status, log, diff, show], no_flags: [c, output, ext-diff, exec-path] }
`;

/** A small seeded generator (mulberry32): a failing generated case names a seed that reproduces it. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
