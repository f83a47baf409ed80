// The bubblewrap command line and the environment inside the sandbox. Pure.
import { AIRLOCK_ETC, type MountOp, mountArgs } from "./mounts.ts";

export const PROXY_HOST = "127.0.0.1";
export const PROXY_PORT = 3128;
export const INIT_PATH = `${AIRLOCK_ETC}/init.cjs`;
export const CA_BUNDLE_PATH = `${AIRLOCK_ETC}/ca-bundle.pem`;
/** A directory holding only the bundle, for variables that name a directory of CAs. */
const CA_DIR_PATH = `${AIRLOCK_ETC}/certs`;
/** Preloaded into node programs: fetch and http/https through the proxy (node-proxy.cjs). */
export const NODE_PROXY_PRELOAD_PATH = `${AIRLOCK_ETC}/node-proxy.cjs`;
/** bubblewrap reads the seccomp filter (seccomp.ts) from this descriptor; launch.ts passes it there. */
export const SECCOMP_FD = 4;
/**
 * Buckets of the sandbox's own TCP hash table (see privateTcpTable). Printing the table walks
 * every bucket (about 16 ns each), and the kernel keeps at most half as many TIME_WAIT sockets
 * (tcp_max_tw_buckets), each one more line in every lookup. The namespace holds only loopback
 * connections (the proxy's and the command's own), where TIME_WAIT guards against nothing: no
 * segment is lost, delayed or duplicated there.
 */
export const SANDBOX_TCP_HASH_ENTRIES = 64;

export interface InitConfig {
  listenHost: string;
  listenPort: number;
  command: string[];
}

export interface BwrapSpec {
  name: string;
  mounts: readonly MountOp[];
  chdir: string;
  uid?: number;
  gid?: number;
  /** The node binary that runs the init inside (visible through the read-only root). */
  nodePath: string;
  command: readonly string[];
}

/** Namespaces, privileges and session: the part of the sandbox that does not depend on policy. */
export const ISOLATION_ARGS: readonly string[] = [
  "--unshare-user",
  "--unshare-pid",
  "--unshare-ipc",
  "--unshare-uts",
  "--unshare-net",
  "--unshare-cgroup-try",
  "--disable-userns",
  "--die-with-parent",
  "--new-session",
  "--cap-drop",
  "ALL",
  "--seccomp",
  String(SECCOMP_FD),
];

/**
 * The argv that starts bubblewrap (appended, exec'd in the same process) in a user and network
 * namespace whose `net.ipv4.tcp_child_ehash_entries` gives the sandbox's network namespace a TCP
 * hash table of its own (Linux 6.1+; older kernels ignore the setting). Binary identity reads the
 * sandbox's /proc/net/tcp for every connection, and the kernel walks the whole table to print it:
 * the host's is sized for the machine (hundreds of thousands of buckets) and holds every host
 * socket, so the lookup would cost what the host's sockets cost, not the sandbox's. The namespace
 * maps the user to root (only root there may set it): bubblewrap must be given the ids to keep.
 */
export function privateTcpTable(unshare: string): string[] {
  const script = `${PRIVATE_TCP_TABLE_STEP}; exec "$0" "$@"`;
  return [unshare, "--user", "--map-root-user", "--net", "--", "/bin/sh", "-c", script];
}

/**
 * The shell step that sizes the TCP hash table of network namespaces made from this one (run as
 * root of a namespace of its own, before bubblewrap makes the sandbox's). An older kernel
 * without the setting leaves the host's table in use: slower lookups, nothing less checked.
 */
export const PRIVATE_TCP_TABLE_STEP = `echo ${SANDBOX_TCP_HASH_ENTRIES} > /proc/sys/net/ipv4/tcp_child_ehash_entries 2>/dev/null`;

export function bwrapArgs(spec: BwrapSpec): string[] {
  const init: InitConfig = { listenHost: PROXY_HOST, listenPort: PROXY_PORT, command: [...spec.command] };
  return [
    ...ISOLATION_ARGS,
    "--hostname",
    spec.name,
    ...(spec.uid === undefined ? [] : ["--uid", String(spec.uid)]),
    ...(spec.gid === undefined ? [] : ["--gid", String(spec.gid)]),
    ...mountArgs(spec.mounts),
    "--chdir",
    spec.chdir,
    "--",
    spec.nodePath,
    INIT_PATH,
    JSON.stringify(init),
  ];
}

/** Host variables that must not reach the sandbox: Airlock's credentials, IPC plumbing, and
 * addresses of host services that are unreachable inside anyway (so tools fail fast). */
const DROPPED = [
  /^AIRLOCK_/,
  /^NODE_CHANNEL_/,
  /^NODE_UNIQUE_ID$/,
  /^SSH_AUTH_SOCK$/,
  /^SSH_AGENT_PID$/,
  /^GPG_AGENT_INFO$/,
  /^DBUS_SESSION_BUS_ADDRESS$/,
  /^DOCKER_HOST$/,
  /^XDG_RUNTIME_DIR$/,
  /^(?:https?|all|no|ftp)_proxy$/i,
  // Node's own proxy support (22.21+, 24) tunnels plain http:// too, which the proxy decides only
  // as forward requests; the preload (node-proxy.cjs) routes node's traffic in every version.
  /^NODE_USE_ENV_PROXY$/,
];

/** Variables held back from the init (node itself) and restored by it for the command. */
export const HELD_FOR_COMMAND = ["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"] as const;
/**
 * Where a variable node must not see at its own start waits: `AIRLOCK_HELD_<NAME>` holds NAME
 * until the first code that runs puts it back. The one scheme for it: the init restores what
 * sandboxEnv holds for the command (init.cjs), and bin/airlock.js restores NODE_EXTRA_CA_CERTS,
 * held by its shell line for `airlock run`.
 */
export const HELD_PREFIX = "AIRLOCK_HELD_";

/**
 * Every variable a common client reads a CA file from. Each is set, whether or not the host set
 * it: inside, the sandbox's bundle is the only trust that works, and a host value (a corporate
 * bundle without the sandbox's CA) would break the client instead.
 */
export const CA_VARIABLES = [
  "SSL_CERT_FILE", // OpenSSL (Python, Ruby, git's OpenSSL builds), Go, rustls-native-certs
  "CURL_CA_BUNDLE",
  "REQUESTS_CA_BUNDLE",
  "NODE_EXTRA_CA_CERTS",
  "GIT_SSL_CAINFO",
  "PIP_CERT",
  "AWS_CA_BUNDLE",
  "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
  "HTTPLIB2_CA_CERTS",
  "CARGO_HTTP_CAINFO",
  "NPM_CONFIG_CAFILE",
  "DENO_CERT",
  "NIX_SSL_CERT_FILE",
] as const;
/** Variables that name a directory of CAs (OpenSSL's hashed directory, Go's SSL_CERT_DIR). */
const CA_DIR_VARIABLES = ["SSL_CERT_DIR"] as const;

export function sandboxEnv(host: NodeJS.ProcessEnv, name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(host)) {
    if (value !== undefined && !DROPPED.some((re) => re.test(key))) env[key] = value;
  }
  const proxy = `http://${PROXY_HOST}:${PROXY_PORT}`;
  for (const key of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]) {
    env[key] = proxy;
    env[key.toLowerCase()] = proxy;
  }
  // Only the sandbox's own loopback: servers the agent starts stay reachable to it.
  env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1";
  // Case variants the host may have set (npm reads npm_config_cafile too) go, so none disagrees.
  for (const key of Object.keys(env)) {
    if ((CA_VARIABLES as readonly string[]).includes(key.toUpperCase())) delete env[key];
  }
  for (const key of CA_VARIABLES) env[key] = CA_BUNDLE_PATH;
  for (const key of CA_DIR_VARIABLES) env[key] = CA_DIR_PATH;
  // Node 20/22 ignore the proxy variables in fetch and http/https; the preload routes them.
  const userOptions = env["NODE_OPTIONS"];
  env["NODE_OPTIONS"] = `--require ${NODE_PROXY_PRELOAD_PATH}${userOptions ? ` ${userOptions}` : ""}`;
  env["TMPDIR"] = "/tmp";
  env["AIRLOCK_SANDBOX"] = name;
  // The init is node too. The user's NODE_OPTIONS (say `--import tsx`) must not load into it,
  // and NODE_EXTRA_CA_CERTS would have it parse the whole CA bundle at start-up (tens of ms)
  // for nothing: they travel under other names and the init restores them for the command.
  for (const key of HELD_FOR_COMMAND) {
    if (env[key] === undefined) continue;
    env[`${HELD_PREFIX}${key}`] = env[key];
    delete env[key];
  }
  return env;
}
