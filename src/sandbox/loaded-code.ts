// Whether a process runs only its own binary's code, judged from what /proc says about it. Pure.
// A listed binary is trusted for what its file does; code loaded into it from elsewhere (a
// loader variable, a library or memfd the sandbox wrote, a tracer rewriting it) makes it
// someone else's program under a trusted name, so it does not hold that binary's identity.
import { NODE_PROXY_PRELOAD_PATH } from "./bwrap.ts";

export interface MountEntry {
  /** Mount point as the sandbox sees it. */
  point: string;
  readOnly: boolean;
  /** The filesystem's device, "major:minor" in decimal. */
  device: string;
  /** The filesystem's type (`ext4`, `proc`...). */
  type: string;
}

/** Facts read from /proc/<pid>/ for one process. */
export interface ProcessFacts {
  pid: number;
  /** The executable's path (from /proc/<pid>/exe, " (deleted)" removed). */
  exe: string;
  /** /proc/<pid>/environ (NUL-separated), null when unreadable. */
  environ: string | null;
  /** /proc/<pid>/maps, null when unreadable. */
  maps: string | null;
  /** /proc/<pid>/status, null when unreadable. */
  status: string | null;
}

const DELETED = " (deleted)";

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** /proc/<pid>/mountinfo: each mount's point and whether that mount is read-only, in mount order. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    if (fields.length < 6) continue;
    const options = (fields[5] as string).split(",");
    // Optional fields come before the "-" that precedes the type.
    const separator = fields.indexOf("-", 6);
    out.push({
      point: unescapeMountPath(fields[4] as string),
      readOnly: options.includes("ro"),
      device: fields[2] as string,
      type: separator === -1 ? "" : (fields[separator + 1] ?? ""),
    });
  }
  return out;
}

const SLASH = 0x2f;

/** The mount a path lives on: the deepest mount point above it, the latest one of equal depth. */
export function mountOf(mounts: readonly MountEntry[], path: string): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    // Compared in place (no string built per mount: a lookup runs per executable mapping).
    const covers =
      m.point === "/" ||
      (path.startsWith(m.point) &&
        (path.length === m.point.length || path.charCodeAt(m.point.length) === SLASH));
    if (covers && (best === null || m.point.length >= best.point.length)) best = m;
  }
  return best;
}

/** Each table's answers so far: a sandbox's table never changes, and its processes map the same libraries. */
const mountsByPath = new WeakMap<readonly MountEntry[], Map<string, MountEntry | null>>();
/** Paths remembered per table at most (the sandbox can name as many files as it likes). */
const MAX_KNOWN_PATHS = 4096;

/** mountOf, remembered per table and path. */
function knownMountOf(mounts: readonly MountEntry[], path: string): MountEntry | null {
  let known = mountsByPath.get(mounts);
  if (!known) {
    known = new Map();
    mountsByPath.set(mounts, known);
  }
  let mount = known.get(path);
  if (mount === undefined) {
    mount = mountOf(mounts, path);
    if (known.size >= MAX_KNOWN_PATHS) known.clear();
    known.set(path, mount);
  }
  return mount;
}

/** A runtime's environment variables that make it run code its binary does not hold. */
interface CodeLoadingFamily {
  /** Exact names. */
  names?: readonly string[];
  /** Name prefixes: every variable of the family, including those not yet invented. */
  prefixes?: readonly string[];
  /**
   * Whether this value makes the program run other code: true, or why (shown beside the name),
   * or null when it does not. Absent: any value does, empty included (a runtime may act on the
   * variable being there at all).
   */
  judge?: (value: string) => string | true | null;
}

/** The loader ignores an empty variable. */
const nonEmpty = (value: string): true | null => value !== "" || null;

/** A warning filter's category with a dot is a module Python imports (`action:message:category:...`). */
function warningImportsModule(value: string): string | null {
  for (const filter of value.split(",")) {
    if ((filter.split(":")[2] ?? "").includes(".")) return "a warning category imports a module";
  }
  return null;
}

/**
 * Every environment variable with which a program runs code its binary does not hold, one family
 * per runtime that reads them. The principle: a variable counts when its value names code (a
 * shared object, a module or class path, a script, a config that loads either) the program
 * loads into itself, or turns the binary into another program. A variable that names data (CA
 * files, locales, caches) does not count, nor one that makes a program run another program (git's
 * GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_ASKPASS): that one is a process of its own, judged by its
 * own executable (only `children: true` hands an identity down, and it grants whatever the
 * parent runs by design, from a config file as much as from a variable). A shared object is also seen
 * in the maps (foreignCode) once mapped, but not after it is unloaded; interpreted code (Python,
 * Perl, Ruby, JVM classes, JavaScript) never shows there, so for it the variable is the only sign.
 * Any binary is judged against every family: the variable is what counts, whichever runtime
 * the binary embeds (a compiled program may carry Python, a JVM, Bun or node).
 */
const CODE_LOADING_FAMILIES: readonly CodeLoadingFamily[] = [
  // The dynamic loader (glibc's and musl's both LD_*): LD_PRELOAD, LD_AUDIT and LD_LIBRARY_PATH
  // load shared objects, the others change how; a new one would too.
  { prefixes: ["LD_"], judge: nonEmpty },
  // glibc itself: iconv loads gconv modules (shared objects) from GCONV_PATH. GLIBC_TUNABLES,
  // LOCPATH and NLSPATH name settings and data only.
  { names: ["GCONV_PATH"], judge: nonEmpty },
  // OpenSSL (curl, git's and Python's TLS): a config loads engines and providers (shared
  // objects); OPENSSL_CONF_INCLUDE is where its includes resolve, OPENSSL_ENGINES and
  // OPENSSL_MODULES where it loads those from. SSL_CERT_* are CA data.
  { names: ["OPENSSL_CONF", "OPENSSL_CONF_INCLUDE", "OPENSSL_ENGINES", "OPENSSL_MODULES"] },
  // Node: the options load modules or open the inspector (nodeOptionsProblem); NODE_PATH adds
  // directories modules resolve from; NODE_REPL_EXTERNAL_MODULE runs a module as the REPL.
  { names: ["NODE_OPTIONS"], judge: nodeOptionsProblem },
  { names: ["NODE_PATH", "NODE_REPL_EXTERNAL_MODULE"] },
  // Bun (Claude Code's native executable is Bun-compiled): BUN_BE_BUN runs it as the bun CLI,
  // BUN_OPTIONS hands it bun's flags (`--preload FILE`).
  { names: ["BUN_BE_BUN", "BUN_OPTIONS"] },
  // Electron: the app runs as node.
  { names: ["ELECTRON_RUN_AS_NODE"] },
  // .NET: startup hooks and extra dependencies are assemblies it loads, DOTNET_ROOT the runtime
  // it runs on, a CoreCLR profiler a shared object it loads (CORECLR_PROFILER_PATH*).
  {
    names: ["DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS", "DOTNET_SHARED_STORE", "DOTNET_ROOT"],
    prefixes: ["CORECLR_PROFILER"],
  },
  // The JVM: its options take -javaagent, -agentpath and -cp; CLASSPATH is where classes load from.
  { names: ["JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH"] },
  // Python: module paths (PYTHONPATH, PYTHONHOME's standard library, PYTHONUSERBASE's
  // site-packages and their .pth lines, PYTHONPLATLIBDIR), a startup script, interactive mode
  // after the program (PYTHONINSPECT reads code from stdin), breakpoint() importing a module; a
  // warning filter whose category is a module's.
  {
    names: [
      "PYTHONPATH",
      "PYTHONHOME",
      "PYTHONSTARTUP",
      "PYTHONINSPECT",
      "PYTHONUSERBASE",
      "PYTHONPLATLIBDIR",
      "PYTHONBREAKPOINT",
    ],
  },
  { names: ["PYTHONWARNINGS"], judge: warningImportsModule },
  // Perl: PERL5OPT takes -M and -d, the LIB variables add module directories, PERL5DB is the
  // debugger's code.
  { names: ["PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB"] },
  // Ruby: RUBYOPT takes -r, RUBYLIB adds library directories.
  { names: ["RUBYOPT", "RUBYLIB"] },
  // Lua (embedded in many programs): LUA_INIT* runs a chunk or file, LUA_PATH* and LUA_CPATH*
  // are where `require` finds Lua and C modules (each with its _5_x variants).
  { prefixes: ["LUA_INIT", "LUA_PATH", "LUA_CPATH"] },
  // PHP: an ini file loads extensions (shared objects) and prepends scripts; Tcl: package paths.
  { names: ["PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH"] },
  // Plugin directories and configs of libraries a program links: GLib's GIO modules, GTK's and
  // Qt's plugins, GStreamer's, Cyrus SASL's mechanisms, Kerberos's config (it names plugin
  // modules): all shared objects.
  {
    names: [
      "GIO_EXTRA_MODULES",
      "GIO_MODULE_DIR",
      "GTK_MODULES",
      "GTK3_MODULES",
      "GTK_PATH",
      "QT_PLUGIN_PATH",
      "SASL_PATH",
      "KRB5_CONFIG",
    ],
    prefixes: ["GST_PLUGIN_"],
  },
  // Shells are left out: no program embeds one, and one a program starts is a process of its
  // own (BASH_ENV, ENV and BASH_FUNC_* make bash run other code, as its arguments do anyway).
];

const FAMILY_BY_NAME = new Map(
  CODE_LOADING_FAMILIES.flatMap((family) => (family.names ?? []).map((name) => [name, family] as const)),
);
const FAMILY_BY_PREFIX = CODE_LOADING_FAMILIES.flatMap((family) =>
  (family.prefixes ?? []).map((prefix) => [prefix, family] as const),
);

function familyOf(name: string): CodeLoadingFamily | undefined {
  return FAMILY_BY_NAME.get(name) ?? FAMILY_BY_PREFIX.find(([prefix]) => name.startsWith(prefix))?.[1];
}

function literal(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "\\$&");
}

/**
 * An entry of the table's at the start of the environment or after a NUL: its name and value.
 * One regular expression over the whole environment: it runs per request, and most entries
 * match nothing (no string is built for them).
 */
const CODE_LOADING_ENTRY = new RegExp(
  `(?:^|\0)(${[
    ...[...FAMILY_BY_NAME.keys()].map(literal),
    ...FAMILY_BY_PREFIX.map(([prefix]) => `${literal(prefix)}[^=\0]*`),
  ].join("|")})=([^\0]*)`,
  "g",
);

/**
 * The variables of a NUL-separated environment with which the program takes code from the
 * environment instead of its binary (CODE_LOADING_FAMILIES), each named, and its reason beside
 * it where the value was judged. Every entry is judged, a repeated name's too.
 */
export function loaderVariables(environ: string): string[] {
  const out: string[] = [];
  for (const m of environ.matchAll(CODE_LOADING_ENTRY)) {
    const name = m[1] as string;
    const family = familyOf(name);
    const verdict = family?.judge ? family.judge(m[2] as string) : true;
    if (verdict === true) out.push(name);
    else if (verdict !== null) out.push(`${name} (${verdict})`);
  }
  return out;
}

/** Node options that name code to load (a file, a module, a config that loads engines) first. */
const NODE_CODE_OPTIONS = new Set([
  "-r",
  "--require",
  "--import",
  "--loader",
  "--experimental-loader",
  "--env-file",
  "--env-file-if-exists",
  "--openssl-config",
  "--snapshot-blob",
]);
const NODE_INSPECTOR = /^--(?:inspect|debug)(?:-brk|-port|-wait|-publish-uid)?(?:=|$)/;

/**
 * Why a NODE_OPTIONS value makes node run code its binary does not hold, or null: the inspector
 * (whoever connects runs code in it), or any code to load but Airlock's own
 * `--require /etc/airlock/node-proxy.cjs` (a path cannot be judged from its text: a symlink on a
 * read-only mount may lead to a file the sandbox wrote, and a module name resolves against it).
 */
export function nodeOptionsProblem(value: string): string | null {
  const tokens = value.split(/\s+/).filter((t) => t !== "");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (NODE_INSPECTOR.test(token)) return `${token.split("=")[0]} opens the inspector`;
    const eq = token.indexOf("=");
    const flag = eq === -1 ? token : token.slice(0, eq);
    if (!NODE_CODE_OPTIONS.has(flag)) continue;
    const loaded = eq === -1 ? tokens[++i] : token.slice(eq + 1);
    if ((flag === "-r" || flag === "--require") && loaded === NODE_PROXY_PRELOAD_PATH) continue;
    return `${flag} loads code other than Airlock's preload`;
  }
  return null;
}

/** TracerPid from /proc/<pid>/status (0: not traced); null when the line is missing. */
export function tracerOf(status: string): number | null {
  const m = /^TracerPid:\s*(\d+)$/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** "x", third of a mapping's four permission letters (rwxp). */
const EXECUTE = 0x78;
const MAPS_LINE = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ ([0-9a-f]+):([0-9a-f]+) \d+ *(.*)$/;

/**
 * The first executable mapping whose code is not the binary's own nor from a file on a read-only
 * mount (which the sandbox cannot have written): a file on a writable mount, or memory that
 * names no file the host put there (a memfd, SysV or shared memory, all shown as deleted files
 * of the kernel's internal filesystem). A file the host deleted while it was mapped (a package
 * upgrade) still names its read-only mount and that mount's device. Anonymous and kernel
 * mappings ([vdso], JIT memory) are the process's own making and pass.
 */
export function foreignCode(maps: string, exe: string, mounts: readonly MountEntry[]): string | null {
  return judgeMappings(maps, exe, mounts).foreign;
}

/**
 * Whether the executable itself is a file the host put there, judged from its code's mapping as
 * foreignCode judges a library's: on a read-only mount, and (when deleted) still of its device.
 * False when no executable mapping names it.
 */
export function exeIsHostPut(maps: string, exe: string, mounts: readonly MountEntry[]): boolean {
  return judgeMappings(maps, exe, mounts).exeHostPut;
}

/**
 * One pass over the executable mappings (the identity lookup reads them per request): the
 * first foreign one, and whether the binary's own first mapping is host-put. Lines are found in
 * place, and only those whose permissions (after the first space) include execute are sliced
 * and parsed: most mappings are data.
 */
export function judgeMappings(
  maps: string,
  exe: string,
  mounts: readonly MountEntry[],
): { foreign: string | null; exeHostPut: boolean } {
  let exeSeen = false;
  let exeHostPut = false;
  let foreign: string | null = null;
  for (let start = 0; start < maps.length; ) {
    const newline = maps.indexOf("\n", start);
    const end = newline === -1 ? maps.length : newline;
    const space = maps.indexOf(" ", start);
    const m =
      space !== -1 && space < end && maps.charCodeAt(space + 3) === EXECUTE
        ? executableMapping(maps.slice(start, end))
        : null;
    start = end + 1;
    if (!m) continue;
    const shown = m[4] as string;
    if (pathOf(shown) === exe) {
      if (!exeSeen) exeHostPut = hostPut(m, mounts);
      exeSeen = true;
      continue;
    }
    if (shown === "" || shown.startsWith("[")) continue;
    if (foreign === null && !hostPut(m, mounts)) foreign = shown;
  }
  return { foreign, exeHostPut };
}

/** A maps line of an executable mapping, parsed; null for any other. */
function executableMapping(line: string): RegExpExecArray | null {
  const m = MAPS_LINE.exec(line);
  return m && (m[1] as string).includes("x") ? m : null;
}

function pathOf(shown: string): string {
  return shown.endsWith(DELETED) ? shown.slice(0, -DELETED.length) : shown;
}

/** A mapped file the sandbox cannot have written: on a read-only mount, and if deleted, of that mount's device. */
function hostPut(m: RegExpExecArray, mounts: readonly MountEntry[]): boolean {
  const shown = m[4] as string;
  const path = pathOf(shown);
  const mount = path.startsWith("/") ? knownMountOf(mounts, path) : null;
  if (!mount?.readOnly) return false;
  if (!shown.endsWith(DELETED)) return true;
  return `${Number.parseInt(m[2] as string, 16)}:${Number.parseInt(m[3] as string, 16)}` === mount.device;
}

/** Why this process does not hold its binary's identity, or null when nothing was loaded into it. */
export function loadedCodeProblem(facts: ProcessFacts, mounts: readonly MountEntry[]): string | null {
  return judgeLoadedCode(facts, mounts).problem;
}

/**
 * loadedCodeProblem, and whether the host put the binary there (false whenever there is a
 * problem), from one reading of its mappings.
 */
export function judgeLoadedCode(
  facts: ProcessFacts,
  mounts: readonly MountEntry[],
): { problem: string | null; hostPut: boolean } {
  const who = `pid ${facts.pid} (${facts.exe})`;
  const voids = `so it does not hold the identity of ${facts.exe}`;
  const refuse = (problem: string) => ({ problem, hostPut: false });
  if (facts.environ === null || facts.maps === null || facts.status === null)
    return refuse(`cannot read what ${who} runs (/proc/${facts.pid})`);
  const tracer = tracerOf(facts.status);
  if (tracer === null) return refuse(`cannot read whether ${who} is traced`);
  if (tracer !== 0)
    return refuse(`${who} is traced by pid ${tracer}: a tracer can change the code it runs, ${voids}`);
  const variables = loaderVariables(facts.environ);
  if (variables.length > 0)
    return refuse(
      `${who} was started with ${variables.join(", ")} set: it can load other code into it, ${voids}`,
    );
  const { foreign, exeHostPut } = judgeMappings(facts.maps, facts.exe, mounts);
  if (foreign !== null)
    return refuse(
      `${who} runs code from ${foreign}, which is neither the binary itself nor a file on a read-only mount, ${voids}`,
    );
  return { problem: null, hostPut: exeHostPut };
}
