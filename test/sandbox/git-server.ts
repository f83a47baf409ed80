// A smart-HTTP git server for the tests: the real `git http-backend` (CGI) behind the stand-in
// upstream, serving the bare repositories under `root` (push enabled, so a refused push is the
// proxy's doing).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import type { SeenRequest } from "./clients-helpers.ts";

const GIT_ENV = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export function git(args: string[], cwd: string): string {
  const run = spawnSync("git", args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
  return run.stdout.trim();
}

/** A bare repository at root/<name>.git with one commit of `file` on main; returns the commit. */
export function makeRepo(root: string, name: string, work: string, file: string, text: string): string {
  const bare = join(root, `${name}.git`);
  mkdirSync(dirname(bare), { recursive: true });
  git(["init", "-q", "--bare", "-b", "main", bare], root);
  git(["config", "http.receivepack", "true"], bare);
  git(["clone", "-q", bare, work], root);
  return commitFile(work, file, text);
}

export function commitFile(work: string, file: string, text: string): string {
  spawnSync("sh", ["-c", `printf '%s' "$1" > "$2"`, "sh", text, file], { cwd: work });
  git(["add", file], work);
  git(["commit", "-q", "-m", `write ${file}`], work);
  git(["push", "-q", "origin", "HEAD:main"], work);
  return git(["rev-parse", "HEAD"], work);
}

/** Answers one request with `git http-backend`. */
export function gitHttpBackend(root: string, req: SeenRequest, res: ServerResponse): Promise<void> {
  const url = new URL(req.path, "https://git.invalid");
  const child = spawn("git", ["http-backend"], {
    env: {
      ...process.env,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: String(req.headers["content-type"] ?? ""),
      CONTENT_LENGTH: String(req.body.length),
      GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      REMOTE_USER: "tester",
      REMOTE_ADDR: "127.0.0.1",
    },
  });
  const out: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stdin.on("error", () => {});
  child.stdin.end(req.body);
  return new Promise((resolve) => {
    child.once("close", () => {
      const all = Buffer.concat(out);
      const split = all.indexOf("\r\n\r\n") >= 0 ? all.indexOf("\r\n\r\n") : all.indexOf("\n\n");
      const sep = all.indexOf("\r\n\r\n") >= 0 ? 4 : 2;
      const head = all.subarray(0, split).toString("latin1").split(/\r?\n/);
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head) {
        const colon = line.indexOf(":");
        const key = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (key === "status") status = Number.parseInt(value, 10);
        else if (key) headers[key] = value;
      }
      res.writeHead(status, headers);
      res.end(all.subarray(split + sep));
      resolve();
    });
  });
}
