// Package managers inside `airlock run` with the shipped presets, unmodified: npm installs from a
// registry.npmjs.org stand-in and pip downloads from a pypi.org stand-in (both on loopback), each
// artifact checked by the client against the hash the index gave.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO } from "./cli-helpers.ts";
import { runInSandbox, sendJson, startUpstream, type Upstream } from "./clients-helpers.ts";
import { removeDir, scratchDir } from "./helpers.ts";

const NPM_PACKAGE = "airlock-demo-pkg";
const PY_PACKAGE = "airlock_demo_pkg";

/** A package tarball as npm publishes it (package/ prefix), made with the host's tar. */
function npmTarball(dir: string): Buffer {
  const src = join(dir, "npm-src");
  mkdirSync(join(src, "package"), { recursive: true });
  writeFileSync(
    join(src, "package", "package.json"),
    JSON.stringify({ name: NPM_PACKAGE, version: "1.0.0" }),
  );
  writeFileSync(join(src, "package", "index.js"), "module.exports = 'from the stand-in registry';\n");
  const tar = spawnSync("tar", ["-czf", "-", "-C", src, "package"]);
  assert.equal(tar.status, 0, String(tar.stderr));
  return tar.stdout;
}

/** A pure-Python wheel, zipped by the host's Python. */
function wheel(dir: string): { name: string; bytes: Buffer } {
  const name = `${PY_PACKAGE}-1.0-py3-none-any.whl`;
  const file = join(dir, name);
  const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("${PY_PACKAGE}/__init__.py", "VALUE = 'from the stand-in index'\\n")
    z.writestr("${PY_PACKAGE}-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: ${PY_PACKAGE}\\nVersion: 1.0\\n")
    z.writestr("${PY_PACKAGE}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("${PY_PACKAGE}-1.0.dist-info/RECORD", "")
`;
  const run = spawnSync("/usr/bin/python3", ["-c", script, file], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return { name, bytes: readFileSync(file) };
}

for (const preset of ["claude-code", "codex"]) {
  describe(`package managers inside airlock run with examples/policies/${preset}.yaml`, () => {
    let dir: string;
    let registries: Upstream;
    const policyFile = join(REPO, "examples", "policies", `${preset}.yaml`);
    before(async () => {
      dir = scratchDir(`clients-pkg-${preset}`);
      const tgz = npmTarball(dir);
      const whl = wheel(dir);
      const whlSha = createHash("sha256").update(whl.bytes).digest("hex");
      const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
      registries = await startUpstream(dir, ["registry.npmjs.org", "pypi.org"], (req, res) => {
        if (req.host === "registry.npmjs.org" && req.path === `/${NPM_PACKAGE}`) {
          return sendJson(res, 200, {
            name: NPM_PACKAGE,
            "dist-tags": { latest: "1.0.0" },
            versions: {
              "1.0.0": {
                name: NPM_PACKAGE,
                version: "1.0.0",
                dist: {
                  tarball: `https://registry.npmjs.org/${NPM_PACKAGE}/-/${NPM_PACKAGE}-1.0.0.tgz`,
                  integrity,
                },
              },
            },
          });
        }
        if (req.host === "registry.npmjs.org" && req.path === `/${NPM_PACKAGE}/-/${NPM_PACKAGE}-1.0.0.tgz`) {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          return void res.end(tgz);
        }
        if (req.host === "pypi.org" && req.path === "/simple/airlock-demo-pkg/") {
          res.writeHead(200, { "content-type": "text/html" });
          return void res.end(
            `<html><body><a href="https://pypi.org/packages/${whl.name}#sha256=${whlSha}">${whl.name}</a></body></html>`,
          );
        }
        if (req.host === "pypi.org" && req.path === `/packages/${whl.name}`) {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          return void res.end(whl.bytes);
        }
        sendJson(res, 404, { error: "not found" });
      });
    });
    after(async () => {
      await registries.close();
      removeDir(dir);
    });

    test("npm install and pip download fetch from the registries through the proxy", async () => {
      const wd = join(dir, "wd");
      mkdirSync(wd);
      const run = await runInSandbox(
        { airlockHome: join(dir, "airlock-home"), policyFile, workdir: wd, upstreams: [registries] },
        [
          "set -e",
          `npm install --no-audit --no-fund --no-update-notifier --cache /tmp/npm-cache ${NPM_PACKAGE} >/dev/null`,
          `node -p "require('${NPM_PACKAGE}')"`,
          `/usr/bin/python3 -m pip download --disable-pip-version-check --no-deps --no-cache-dir --dest /tmp/dl airlock-demo-pkg==1.0 >/dev/null`,
          `cd /tmp/dl && /usr/bin/python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(z.read('${PY_PACKAGE}/__init__.py').decode().strip())" *.whl`,
        ].join("\n"),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "from the stand-in registry\nVALUE = 'from the stand-in index'\n");
      const hosts = new Set(registries.seen.map((r) => r.host));
      assert.deepEqual([...hosts].sort(), ["pypi.org", "registry.npmjs.org"]);
    });
  });
}
