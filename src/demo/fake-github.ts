// A stand-in for api.github.com on loopback, with its own CA: enough of the contents API for the
// demo and the end-to-end tests (GET a file or repo, PUT a file). Test infrastructure, not policy.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createSandboxCA, LeafCache } from "../proxy/ca.ts";

export interface FakeGitHub {
  port: number;
  /** PEM file of the CA that signed the server's certificate (for `--upstream-ca`). */
  caFile: string;
  /** Files written through PUT, by path. */
  files: Map<string, string>;
  /** `METHOD path` of every request that reached the upstream. */
  seen: string[];
  close(): Promise<void>;
}

const CONTENTS = /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/;

export async function startFakeGitHub(dir: string, host = "api.github.com"): Promise<FakeGitHub> {
  const ca = await createSandboxCA("fake-github");
  const caFile = join(dir, "fake-github-ca.crt");
  writeFileSync(caFile, ca.certPem);
  const { cert, key } = await new LeafCache(ca).mintPem(host, []);
  const files = new Map<string, string>();
  const seen: string[] = [];
  const server: Server = createServer({ cert, key }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    seen.push(`${req.method} ${path}`);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const m = CONTENTS.exec(path);
      if (req.method === "PUT" && m) {
        let body: { content?: string; message?: string };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          return send(400, { message: "Problems parsing JSON" });
        }
        const text = Buffer.from(body.content ?? "", "base64").toString("utf8");
        files.set(m[3] as string, text);
        const sha = createHash("sha1").update(text).digest("hex");
        return send(201, { content: { path: m[3], sha }, commit: { sha, message: body.message ?? "" } });
      }
      if ((req.method === "GET" || req.method === "HEAD") && m) {
        const text = files.get(m[3] as string);
        if (text === undefined) return send(404, { message: "Not Found" });
        return send(200, { path: m[3], content: Buffer.from(text).toString("base64"), encoding: "base64" });
      }
      if (req.method === "GET")
        return send(200, { full_name: path.split("/").slice(2, 4).join("/"), fake: true });
      return send(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caFile,
    files,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
