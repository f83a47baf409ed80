// Shared by the binary-identity attacks: a plain-HTTP upstream on loopback that records every raw
// byte it receives, reached from inside a real `airlock run` as http://rec.test/ (--connect-to),
// and the run itself with a policy naming which binaries may reach it.
import { existsSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { type CliOptions, type CliRun, runCli } from "../sandbox/cli-helpers.ts";

/** A shared library every Debian-like system has, which loads without side effects. */
export const LIBZ = [
  "/usr/lib/x86_64-linux-gnu/libz.so.1",
  "/usr/lib/aarch64-linux-gnu/libz.so.1",
  "/lib64/libz.so.1",
].find((p) => existsSync(p)) as string;

/** python3 as the kernel names it (a symlink on most systems): what identity reports. */
export const PYTHON = realpathSync("/usr/bin/python3");

export interface RecordingUpstream {
  port: number;
  /** Everything received, all connections concatenated in arrival order. */
  received(): string;
  close(): Promise<void>;
}

/**
 * Answers each request head with a small 200 (after `delayMs` for paths starting /slow), keeping
 * the connection open, and records the raw bytes. Not an HTTP parser: what arrived is what counts.
 */
export async function recordingUpstream(delayMs = 3000): Promise<RecordingUpstream> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = "";
    socket.on("data", (data) => {
      chunks.push(data);
      pending += data.toString("latin1");
      let end = pending.indexOf("\r\n\r\n");
      while (end !== -1) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const answer = () =>
          socket.writable && socket.write("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nrecorded\n");
        if (/^\S+ \/slow/.test(head)) setTimeout(answer, delayMs);
        else answer();
        end = pending.indexOf("\r\n\r\n");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    received: () => Buffer.concat(chunks).toString("latin1"),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A policy letting `binaries` reach rec.test:80 (written into `dir`). */
export function recPolicy(dir: string, binaries: string): string {
  const file = join(dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `version: 1\nnetwork_policies:\n  rec:\n    endpoints: [{ host: rec.test, port: 80 }]\n    binaries: ${binaries}\n`,
  );
  return file;
}

/** `airlock run` of `sh -c script` in `workdir`, rec.test pointed at the upstream. */
export function runIn(
  upstream: RecordingUpstream,
  policy: string,
  workdir: string,
  home: string,
  script: string,
  env: NodeJS.ProcessEnv = {},
  inheritFds: CliOptions["inheritFds"] = [],
): Promise<CliRun> {
  return runCli(
    [
      "run",
      "--policy",
      policy,
      "--connect-to",
      `rec.test:80:127.0.0.1:${upstream.port}`,
      "--workdir",
      workdir,
      "--",
      "/bin/sh",
      "-c",
      script,
    ],
    { airlockHome: home, env, timeoutMs: 60_000, inheritFds },
  );
}

/**
 * A python client speaking to the proxy directly: one absolute-form GET per marker on one
 * keep-alive connection, printing each answer's status line and body (the structured 403 names
 * the reason).
 */
export const RAW_CLIENT = `
import socket, sys
def request(s, marker):
    s.sendall(("GET http://rec.test/%s HTTP/1.1\\r\\nHost: rec.test\\r\\n\\r\\n" % marker).encode())
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    head, _, body = data.partition(b"\\r\\n\\r\\n")
    length = 0
    for line in head.split(b"\\r\\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length": length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk: break
        body += chunk
    print(marker, head.split(b"\\r\\n")[0].decode(), body.decode(errors="replace").replace("\\n", " "), flush=True)
`;

/** Python: hands socket `s` to whoever listens on ./h.sock (SCM_RIGHTS); returns that unix socket. */
export const HAND_OVER = `
import socket, time
def hand_over(s):
    u = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            u.connect("h.sock")
            break
        except OSError:
            time.sleep(0.05)
    socket.send_fds(u, [b"x"], [s.fileno()])
    return u
`;
