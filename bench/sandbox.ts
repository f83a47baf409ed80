// bench/sandbox: how much a sandbox costs, side by side in one run (docs/design.md §11).
//   start-to-exit of `true`: no sandbox | Airlock (supervisor in process) | `airlock run` (the
//   CLI, from the bundle in dist/) | `srt -c true` (@anthropic-ai/sandbox-runtime)
//   a new connection per request from a real process inside the sandbox (curl, 200 requests):
//   direct | inside Airlock (its proxy, binary identity of every request), alone and beside ten
//   idle processes of 40 descriptors each (every process's descriptors are read at each
//   request) | inside srt (its proxy, reached over its socat bridge). srt needs socat:
//   installed here with apt-get when missing and possible, otherwise the run fails saying so. Two reference floors use the same
//   sandbox and listener hand-off with this process as the supervisor, copying each connection's
//   bytes to a new upstream connection with nothing parsed or decided: bare, and after the
//   binary identity lookup the proxy makes at each request head.
// Runs are interleaved and bounded; every figure is also a ratio against its baseline.
// When NODE_EXTRA_CA_CERTS is set (it makes every node start parse that bundle, tens of ms), the
// CLI and srt are also timed without it, in the same rounds.
//   npx tsx bench/sandbox.ts [--quick]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SandboxIdentifier } from "../src/sandbox/identity.ts";
import { runSupervised } from "../src/supervisor/supervisor.ts";
import { runSandboxed } from "../test/sandbox/helpers.ts";

const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 3 : 10;
const REQUESTS = QUICK ? 40 : 200;
const REQUEST_ROUNDS = QUICK ? 2 : 10;
const ROOT = join(fileURLToPath(import.meta.url), "..", "..");
const SRT = join(ROOT, "node_modules", ".bin", "srt");
const AIRLOCK = join(ROOT, "bin", "airlock.js");

const base = mkdtempSync(join(homedir(), ".cache", "airlock-bench-"));
mkdirSync(base, { recursive: true });
const home = join(base, "home");
const workdir = join(base, "wd");
mkdirSync(workdir);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function timeProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: workdir, env, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`));
      else resolve(performance.now() - start);
    });
  });
}

async function timeSupervised(): Promise<number> {
  const start = performance.now();
  const code = await runSupervised({ workdir, command: ["true"], airlockHome: home, quiet: true });
  if (code !== 0) throw new Error(`airlock (in process) exited ${code}`);
  return performance.now() - start;
}

type Capture = { code: number | null; stdout: string; stderr: string };

/** Output of a command, without blocking this process (the test server lives here). */
function capture(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Capture> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: workdir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Why srt cannot run here, or null. Its socat prerequisite is installed when missing (as root). */
function srtProblem(): string | null {
  if (!existsSync(SRT))
    return `${SRT} is missing (npm install: @anthropic-ai/sandbox-runtime is a devDependency)`;
  const hasSocat = () => spawnSync("socat", ["-V"], { stdio: "ignore" }).status === 0;
  if (!hasSocat() && process.getuid?.() === 0) {
    console.log("srt needs socat: apt-get install -y socat");
    spawnSync("apt-get", ["install", "-y", "-qq", "socat"], { stdio: "inherit", timeout: 300_000 });
  }
  if (!hasSocat()) return "srt needs socat, which is not installed (apt-get install socat)";
  const r = spawnSync(SRT, ["-c", "true"], { cwd: workdir, encoding: "utf8", timeout: 30_000 });
  return r.status === 0
    ? null
    : `srt -c true exited ${r.status ?? r.signal}: ${r.stderr.trim().slice(0, 300)}`;
}

/** The upstream, in a process of its own (as it is for every path measured). */
async function startUpstream(): Promise<{ port: number; stop: () => void }> {
  const source =
    'require("node:http").createServer((q, r) => r.end("ok\\n")).listen(0, "127.0.0.1", function () { console.log(this.address().port); });';
  const child = spawn(process.execPath, ["-e", source], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("exit", (code) => reject(new Error(`the upstream exited ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

/**
 * A reference floor: a real sandbox (the same bubblewrap, init and listener hand-off as
 * `airlock run`), with this process accepting for it and copying each connection's bytes to a
 * new upstream connection. Nothing is parsed, decided or logged; with `identify`, the holder of
 * the connection is identified first, as the proxy does when a request head arrives.
 */
async function relayFloor(command: string, upstreamPort: number, identify: boolean): Promise<Capture> {
  const relay = (client: Socket, identifier: SandboxIdentifier) => {
    client.setNoDelay(true);
    client.on("error", () => client.destroy());
    if (identify) identifier.accepted(client);
    client.once("data", async (head: Buffer) => {
      client.pause();
      if (identify && !(await identifier.identify(client)).ok) {
        client.destroy();
        return;
      }
      const upstream = connect(upstreamPort, "127.0.0.1");
      upstream.setNoDelay(true);
      upstream.on("error", () => client.destroy());
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };
  return runSandboxed(["/bin/sh", "-c", command], {
    workdir,
    airlockHome: home,
    handler: relay,
    timeoutMs: 120_000,
  });
}

/** `curl` N times in a loop, printing each request's total time; run directly or in a sandbox. */
function curlLoop(url: string, n: number, curlArgs = ""): string {
  return `for i in $(seq ${n}); do curl ${curlArgs} -s -o /dev/null -w '%{time_total}\\n' ${url}; done`;
}
/**
 * The same loop beside CROWD idle processes holding 40 descriptors each, started first and
 * waited for (each writes a file once its descriptors are open): the identity lookup reads
 * every process's descriptors at every request head.
 */
const CROWD = 10;
function crowdedLoop(url: string, n: number): string {
  const holder =
    'import os, sys, time; fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(37)]; open(sys.argv[1], "w").close(); time.sleep(600)';
  return [
    `for j in $(seq ${CROWD}); do /usr/bin/python3 -c '${holder}' .crowd-$j & pids="$pids $!"; done`,
    `for t in $(seq 300); do [ "$(ls .crowd-* 2>/dev/null | wc -l)" -ge ${CROWD} ] && break; sleep 0.1; done`,
    curlLoop(url, n),
    "kill $pids; rm -f .crowd-*",
  ].join("; ");
}
function parseTimes(out: string): number[] {
  return out
    .split("\n")
    .filter(Boolean)
    .map((s) => Number(s) * 1000);
}

async function main(): Promise<void> {
  const srtFailure = srtProblem();
  if (srtFailure) console.log(`srt: FAILED: ${srtFailure}`);
  const hasSrt = srtFailure === null;
  const start = {
    direct: [] as number[],
    supervised: [] as number[],
    cli: [] as number[],
    srt: [] as number[],
    cliBare: [] as number[],
    srtBare: [] as number[],
  };
  const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  const bareEnv = { ...process.env };
  delete bareEnv.NODE_EXTRA_CA_CERTS;
  // Executed as users run it (the kernel reads its #! line), not as `node bin/airlock.js`.
  const cliArgs = ["run", "-q", "--no-gateway", "--", "true"];
  // Warm caches (the CA module, the TypeScript loader's cache) once before measuring.
  await timeSupervised();
  await timeProcess(AIRLOCK, cliArgs, { ...process.env, AIRLOCK_HOME: home });
  for (let i = 0; i < ROUNDS; i++) {
    start.direct.push(await timeProcess("true", []));
    start.supervised.push(await timeSupervised());
    start.cli.push(await timeProcess(AIRLOCK, cliArgs, { ...process.env, AIRLOCK_HOME: home }));
    if (hasSrt) start.srt.push(await timeProcess(SRT, ["-c", "true"]));
    if (extraCa) {
      start.cliBare.push(await timeProcess(AIRLOCK, cliArgs, { ...bareEnv, AIRLOCK_HOME: home }));
      if (hasSrt) start.srtBare.push(await timeProcess(SRT, ["-c", "true"], bareEnv));
    }
  }

  // One request: a local HTTP server, reached by curl directly and from inside a sandbox
  // (policy allows bench.test:80 for curl; --connect-to points the name at the server).
  const upstream = await startUpstream();
  const port = upstream.port;
  const policyFile = join(base, "bench-policy.yaml");
  writeFileSync(
    policyFile,
    "version: 1\nnetwork_policies:\n  bench:\n    endpoints: [{ host: bench.test, port: 80 }]\n    binaries: [{ path: /usr/bin/curl }]\n",
  );
  // srt's proxy allows 127.0.0.1 by name; its NO_PROXY lists loopback, so curl is told to use
  // the proxy anyway (as it does for any other host).
  const srtSettings = join(base, "srt-settings.json");
  writeFileSync(
    srtSettings,
    JSON.stringify({
      network: { allowedDomains: ["127.0.0.1"], deniedDomains: [] },
      filesystem: { denyRead: [], allowWrite: [workdir], denyWrite: [] },
    }),
  );
  const airlockArgs = (loop: string) => [
    "run",
    "-q",
    "--no-gateway",
    "--policy",
    policyFile,
    "--connect-to",
    `bench.test:80:127.0.0.1:${port}`,
    "--workdir",
    workdir,
    "--",
    "/bin/sh",
    "-c",
    loop,
  ];
  // Interleaved rounds: a busy machine's load changes by the second, and each path should see
  // the same mix of it.
  const perRound = REQUESTS / REQUEST_ROUNDS;
  const reqDirect: number[] = [];
  const reqSandbox: number[] = [];
  const reqCrowded: number[] = [];
  const reqSrt: number[] = [];
  const reqFloor: number[] = [];
  const reqFloorIdentity: number[] = [];
  const collect = (into: number[], what: string, run: Capture) => {
    const times = parseTimes(run.stdout);
    if (times.length !== perRound)
      throw new Error(`${what} failed (${run.code}): ${run.stdout}${run.stderr}`);
    into.push(...times);
  };
  for (let round = 0; round < REQUEST_ROUNDS; round++) {
    collect(
      reqDirect,
      "direct requests",
      await capture("/bin/sh", ["-c", curlLoop(`http://127.0.0.1:${port}/`, perRound)]),
    );
    collect(
      reqSandbox,
      "requests inside Airlock",
      await capture(AIRLOCK, airlockArgs(curlLoop("http://bench.test/", perRound)), {
        ...process.env,
        AIRLOCK_HOME: home,
      }),
    );
    collect(
      reqCrowded,
      `requests inside Airlock beside ${CROWD} idle processes`,
      await capture(AIRLOCK, airlockArgs(crowdedLoop("http://bench.test/", perRound)), {
        ...process.env,
        AIRLOCK_HOME: home,
      }),
    );
    if (hasSrt) {
      const loop = curlLoop(`http://127.0.0.1:${port}/`, perRound, "--noproxy ''");
      collect(reqSrt, "requests inside srt", await capture(SRT, ["-s", srtSettings, "-c", loop]));
    }
    const floorLoop = curlLoop("http://bench.test/", perRound);
    collect(reqFloor, "requests through the relay floor", await relayFloor(floorLoop, port, false));
    collect(
      reqFloorIdentity,
      "requests through the relay floor with identity",
      await relayFloor(floorLoop, port, true),
    );
  }
  upstream.stop();

  const d = median(start.direct);
  const s = median(start.supervised);
  const c = median(start.cli);
  const r = hasSrt ? median(start.srt) : Number.NaN;
  const f = (ms: number) => `${ms.toFixed(1)} ms`.padStart(11);
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "n/a");
  console.log(`sandbox start-to-exit of \`true\` (median of ${ROUNDS}, interleaved)`);
  console.log("path                              median      vs no sandbox   vs srt");
  console.log(`no sandbox                   ${f(d)}      1.00x           ${x(d / r)}`);
  console.log(`airlock (supervisor in proc) ${f(s)}      ${x(s / d).padEnd(16)}${x(s / r)}`);
  console.log(`airlock run (CLI)            ${f(c)}      ${x(c / d).padEnd(16)}${x(c / r)}`);
  console.log(
    `srt -c true                  ${hasSrt ? f(r) : "   (absent)"}      ${x(r / d).padEnd(16)}${hasSrt ? "1.00x" : "n/a"}`,
  );
  const cb = median(start.cliBare);
  const rb = hasSrt ? median(start.srtBare) : Number.NaN;
  if (extraCa) {
    console.log("without NODE_EXTRA_CA_CERTS (set here; every node start parses that bundle):");
    console.log(`airlock run (CLI)            ${f(cb)}      ${x(cb / d).padEnd(16)}${x(cb / rb)}`);
    console.log(
      `srt -c true                  ${hasSrt ? f(rb) : "   (absent)"}      ${x(rb / d).padEnd(16)}${hasSrt ? "1.00x" : "n/a"}`,
    );
  }
  const pd50 = median(reqDirect);
  const ps50 = median(reqSandbox);
  const pd99 = percentile(reqDirect, 99);
  const ps99 = percentile(reqSandbox, 99);
  const pr50 = hasSrt ? median(reqSrt) : Number.NaN;
  const pr99 = hasSrt ? percentile(reqSrt, 99) : Number.NaN;
  console.log(
    `\none HTTP request with curl (new connection each; ${REQUESTS} requests in ${REQUEST_ROUNDS} interleaved rounds)`,
  );
  console.log("path                              p50         p99        vs direct   vs srt");
  console.log(`direct                       ${f(pd50)}${f(pd99)}      1.00x       ${x(pd50 / pr50)}`);
  console.log(
    `inside Airlock via proxy     ${f(ps50)}${f(ps99)}      ${x(ps50 / pd50).padEnd(12)}${x(ps50 / pr50)}`,
  );
  const pc50 = median(reqCrowded);
  const pc99 = percentile(reqCrowded, 99);
  console.log(
    `${`  beside ${CROWD} idle processes`.padEnd(29)}${f(pc50)}${f(pc99)}      ${x(pc50 / pd50).padEnd(12)}${x(pc50 / pr50)}`,
  );
  console.log(
    `inside srt via its proxy     ${hasSrt ? f(pr50) + f(pr99) : "   (failed)           "}      ${x(pr50 / pd50).padEnd(12)}${hasSrt ? "1.00x" : "n/a"}`,
  );
  const pf50 = median(reqFloor);
  const pf99 = percentile(reqFloor, 99);
  const pi50 = median(reqFloorIdentity);
  const pi99 = percentile(reqFloorIdentity, 99);
  console.log("reference floors: the same sandbox and hand-off, bytes copied, nothing decided");
  console.log(
    `relay, nothing else          ${f(pf50)}${f(pf99)}      ${x(pf50 / pd50).padEnd(12)}${x(pf50 / pr50)}`,
  );
  console.log(
    `relay after identity lookup  ${f(pi50)}${f(pi99)}      ${x(pi50 / pd50).padEnd(12)}${x(pi50 / pr50)}`,
  );
  console.log(
    JSON.stringify({
      bench: "sandbox",
      quick: QUICK,
      start_ms: { none: d, airlock_supervisor: s, airlock_cli: c, srt: hasSrt ? r : null },
      start_ratio: {
        airlock_supervisor_vs_srt: hasSrt ? s / r : null,
        airlock_cli_vs_srt: hasSrt ? c / r : null,
        airlock_supervisor_vs_none: s / d,
        ...(extraCa ? { airlock_cli_vs_srt_without_extra_ca_certs: hasSrt ? cb / rb : null } : {}),
      },
      ...(extraCa ? { start_ms_without_extra_ca_certs: { airlock_cli: cb, srt: hasSrt ? rb : null } } : {}),
      request_ms: {
        direct_p50: pd50,
        direct_p99: pd99,
        sandbox_p50: ps50,
        sandbox_p99: ps99,
        sandbox_crowded_p50: pc50,
        sandbox_crowded_p99: pc99,
        srt_p50: hasSrt ? pr50 : null,
        srt_p99: hasSrt ? pr99 : null,
        floor_relay_p50: pf50,
        floor_relay_p99: pf99,
        floor_relay_identity_p50: pi50,
        floor_relay_identity_p99: pi99,
      },
      request_ratio_p50: ps50 / pd50,
      request_ratio_p50_vs_srt: hasSrt ? ps50 / pr50 : null,
      ...(srtFailure ? { srt_failure: srtFailure } : {}),
    }),
  );
  if (srtFailure) process.exitCode = 1;
}

try {
  await main();
} finally {
  rmSync(base, { recursive: true, force: true });
}
