// The workdir on an overlay (docs/design.md §10, tier 1): bubblewrap 0.8 has no overlay options, so
// a user+mount+network namespace (`unshare`) sizes the TCP hash table the sandbox's network
// namespace will get (bwrap.ts, privateTcpTable), mounts a tmpfs and an overlayfs of the workdir
// on it, and then runs the very bubblewrap command a plain sandbox would run, with the merged
// view bound over the workdir. Writes land in the upper layer, never in the real workdir; after
// bubblewrap exits, a command given by the caller (the gate's collector) reads the layers inside
// the same namespace.
// Pure: this builds the wrapper's argv.
import { PRIVATE_TCP_TABLE_STEP } from "./bwrap.ts";
import { PreflightError } from "./preflight.ts";
import { shellQuote } from "./shell-quote.ts";

export interface OverlaySpec {
  /** An empty host directory; a tmpfs holding the layers is mounted on it inside the namespace. */
  dir: string;
  /** Size of that tmpfs: the most the command can write. */
  sizeBytes: number;
  /** Receives the command's exit status after bubblewrap exits (absent: it never got that far). */
  statusFile: string;
  /** Run inside the namespace after bubblewrap exits, with UPPER LOWER MERGED appended. */
  after: readonly string[];
}

export interface OverlayLayers {
  upper: string;
  work: string;
  merged: string;
}

/** Exit statuses of the wrapper itself (the command's own statuses pass through). */
export const OVERLAY_EXIT = { tmpfs: 120, overlay: 121, after: 122 } as const;

export function overlayLayers(spec: OverlaySpec): OverlayLayers {
  return { upper: `${spec.dir}/upper`, work: `${spec.dir}/work`, merged: `${spec.dir}/merged` };
}

/** Overlay mount options; a path containing `,` or `:` would be misread, so it is refused. */
function overlayOptions(lower: string, layers: OverlayLayers): string {
  for (const p of [lower, layers.upper, layers.work]) {
    if (/[,:\\]/.test(p))
      throw new PreflightError(`cannot put ${p} on an overlay: its path contains , : or \\`);
  }
  return `lowerdir=${lower},upperdir=${layers.upper},workdir=${layers.work},userxattr`;
}

/**
 * The script run inside `unshare --user --map-root-user --mount --net`. bubblewrap inherits the
 * IPC channel (fd 3, NODE_CHANNEL_FD) for the listener hand-off; the after-command must not, so
 * it runs with the descriptor closed and a clean environment (and no network: it reads files).
 */
export function overlayScript(
  spec: OverlaySpec,
  workdir: string,
  bwrap: string,
  args: readonly string[],
): string {
  const layers = overlayLayers(spec);
  const q = shellQuote;
  return [
    "set -u",
    PRIVATE_TCP_TABLE_STEP,
    `mount -t tmpfs -o size=${Math.max(1, Math.floor(spec.sizeBytes))} tmpfs ${q(spec.dir)} 3>&- || exit ${OVERLAY_EXIT.tmpfs}`,
    `mkdir ${q(layers.upper)} ${q(layers.work)} ${q(layers.merged)} 3>&- || exit ${OVERLAY_EXIT.tmpfs}`,
    `mount -t overlay overlay -o ${q(overlayOptions(workdir, layers))} ${q(layers.merged)} 3>&- || exit ${OVERLAY_EXIT.overlay}`,
    [bwrap, ...args].map(q).join(" "),
    "rc=$?",
    "exec 3>&-",
    `echo "$rc" > ${q(spec.statusFile)}`,
    // A host program: none of the sandbox's variables (its CA paths exist only inside).
    `env -i PATH="$PATH" ${[...spec.after, layers.upper, workdir, layers.merged].map(q).join(" ")} || exit ${OVERLAY_EXIT.after}`,
    'exit "$rc"',
  ].join("\n");
}

/**
 * The wrapper's argv. `setpriv --pdeathsig KILL` makes it die with the supervisor (as a bare
 * bubblewrap would through --die-with-parent), and bubblewrap's own --die-with-parent then takes
 * the sandbox down with the wrapper.
 */
export function overlayCommand(
  spec: OverlaySpec,
  workdir: string,
  bwrap: string,
  args: readonly string[],
): { file: string; args: string[] } {
  return {
    file: "setpriv",
    args: [
      "--pdeathsig",
      "KILL",
      "unshare",
      "--user",
      "--map-root-user",
      "--mount",
      "--net",
      "bash",
      "-c",
      overlayScript(spec, workdir, bwrap, args),
    ],
  };
}
