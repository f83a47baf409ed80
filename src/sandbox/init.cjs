// The sandbox init (docs/design.md §4.1). Runs with node INSIDE the sandbox, as the
// child of bubblewrap's PID 1 reaper, in the sandbox's network namespace:
//   1. listen on 127.0.0.1:3128 and pass the listening socket to the supervisor over Node's IPC
//      channel, wait for its "go", then close our copy and the channel (the command must not
//      inherit either);
//   2. run the command in its own process group with the terminal passed straight through;
//   3. forward signals to that group, and exit with the command's status.
// Plain CommonJS with no imports from the project: it starts fast and needs no loader.
"use strict";
const net = require("node:net");
const fs = require("node:fs");
const { spawn } = require("node:child_process");
const { constants } = require("node:os");

const config = JSON.parse(process.argv[2]);
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT"];

function fail(code, message) {
  process.stderr.write(`airlock: ${message}\n`);
  process.exit(code);
}

/** Descriptors inherited from the host without close-on-exec would leak into the command:
 * close them. Node's own descriptors all carry O_CLOEXEC and are left alone. */
function closeInheritedDescriptors() {
  const O_CLOEXEC = 0o2000000;
  let fds = [];
  try {
    fds = fs.readdirSync("/proc/self/fd").map(Number);
  } catch {
    return;
  }
  for (const fd of fds) {
    if (!(fd > 2)) continue;
    try {
      const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
      const flags = /^flags:\s*([0-7]+)/m.exec(info);
      if (flags && (Number.parseInt(flags[1], 8) & O_CLOEXEC) === 0) fs.closeSync(fd);
    } catch {
      // already gone (the directory listing's own descriptor)
    }
  }
}

// Signals are forwarded to the command's process group; any that arrive before it exists wait.
let child;
const early = [];
function forward(signal) {
  if (child?.pid === undefined) {
    early.push(signal);
    return;
  }
  try {
    process.kill(-child.pid, signal); // the whole group, as a terminal would
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already exited
    }
  }
}
for (const signal of FORWARDED) process.on(signal, () => forward(signal));

function run() {
  closeInheritedDescriptors();
  const env = { ...process.env };
  delete env.NODE_CHANNEL_FD;
  delete env.NODE_CHANNEL_SERIALIZATION_MODE;
  // Variables held back from this process come back (src/sandbox/bwrap.ts, HELD_PREFIX).
  const HELD = "AIRLOCK_HELD_";
  for (const key of Object.keys(env)) {
    if (!key.startsWith(HELD)) continue;
    env[key.slice(HELD.length)] = env[key];
    delete env[key];
  }
  try {
    child = spawn(config.command[0], config.command.slice(1), { stdio: "inherit", detached: true, env });
  } catch (error) {
    fail(126, `cannot run ${config.command[0]}: ${error.message}`);
  }
  child.on("error", (error) => {
    if (error.code === "ENOENT") fail(127, `command not found: ${config.command[0]}`);
    fail(126, `cannot run ${config.command[0]}: ${error.message}`);
  });
  child.on("spawn", () => {
    for (const signal of early.splice(0)) forward(signal);
  });
  child.on("exit", (code, signal) => {
    process.exit(code ?? 128 + (constants.signals[signal] ?? 1));
  });
}

const server = net.createServer();
server.on("error", (error) =>
  fail(125, `cannot listen on ${config.listenHost}:${config.listenPort}: ${error.message}`),
);
server.listen({ host: config.listenHost, port: config.listenPort, backlog: 511 }, () => {
  if (typeof process.send !== "function") fail(125, "no channel to the supervisor");
  // The supervisor answers "go" once the files the command trusts (the CA bundle) are complete;
  // it prepares them while this process starts, so the command never sees them half made.
  let released = false;
  process.on("message", (message) => {
    if (released || message?.type !== "go") return;
    released = true;
    process.disconnect();
    run();
  });
  process.once("disconnect", () => {
    if (!released) fail(125, "the supervisor went away before the command could start");
  });
  process.send({ type: "listener", pid: process.pid }, server, (error) => {
    if (error) fail(125, `cannot hand the listener to the supervisor: ${error.message}`);
    server.close();
  });
});
