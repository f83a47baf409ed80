import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { connect, createServer } from "node:tls";
import {
  createSandboxCA,
  LeafCache,
  loadOrCreateSandboxCA,
  loadSandboxCA,
  saveSandboxCA,
} from "../../src/proxy/ca.ts";
import { tempDir } from "./helpers.ts";

test("CA is ECDSA P-256, saved 0600, loads back and signs leaves clients accept", async () => {
  const ca = await createSandboxCA("demo");
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  const dir = join(tempDir(), "ca");
  saveSandboxCA(ca, dir);
  assert.equal(statSync(join(dir, "ca.key")).mode & 0o777, 0o600);
  const loaded = await loadSandboxCA(dir);
  assert.equal(loaded.certPem, ca.certPem);
  const again = await loadOrCreateSandboxCA(dir);
  assert.equal(again.certPem, ca.certPem);

  const leaves = new LeafCache(loaded);
  const first = leaves.context("api.github.com");
  assert.equal(leaves.context("API.github.com"), first, "cached per host");
  const server = createServer(
    { SNICallback: (name, cb) => leaves.context(name).then((c) => cb(null, c), cb) },
    (s) => s.end("ok"),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect({ port, host: "127.0.0.1", servername: "api.github.com", ca: ca.certPem }, () => {
        let buf = "";
        s.on("data", (d) => {
          buf += d;
        });
        s.on("end", () => resolve(buf));
      });
      s.on("error", reject);
    });
    assert.equal(text, "ok");
  } finally {
    server.close();
  }
});

test("loading a missing or broken CA names the folder", async () => {
  await assert.rejects(loadSandboxCA(join(tempDir(), "nope")), /cannot load sandbox CA from .*nope/);
});
