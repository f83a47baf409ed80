// 200 MB up and down through L7 termination with bounded memory: bodies stream, never buffer.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  policyFrom,
  startProxy,
  startTlsUpstream,
  type TestProxy,
  tempDir,
  type Upstream,
} from "./helpers.ts";

const SIZE = 200 * 1024 * 1024;
const POLICY = `
version: 1
network_policies:
  bulk:
    endpoints:
      - host: bulk.example.com
        port: 443
        protocol: rest
        access: read-only
        rules:
          - allow: { method: PUT, path: "/upload" }
    binaries:
      - path: /usr/bin/curl
  bulk_l4:
    endpoints:
      - host: bulk4.example.com
        port: 443
    binaries:
      - path: /usr/bin/curl
`;

let up: Upstream;
let p: TestProxy;

before(async () => {
  up = await startTlsUpstream(["bulk.example.com", "bulk4.example.com"]);
  p = await startProxy(policyFrom(POLICY), {
    connectTo: [`bulk.example.com:443:127.0.0.1:${up.port}`, `bulk4.example.com:443:127.0.0.1:${up.port}`],
    upstreamCAs: [up.ca.certPem],
  });
});

after(async () => {
  await p.close();
  await up.close();
});

function sh(script: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "/bin/sh",
      ["-c", script],
      { timeout: timeoutMs, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(String(stdout)),
    );
  });
}

/** Peak RSS growth over a baseline while `work` runs (sampled every 20 ms). */
async function peakGrowth(work: () => Promise<unknown>): Promise<number> {
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

const curlBase = () =>
  `/usr/bin/curl -sS --max-time 100 --proxy http://127.0.0.1:${p.port} --noproxy '' --cacert ${p.caFile}`;

test("200 MB upload through L7 with bounded memory", { timeout: 150_000 }, async (t) => {
  let out = "";
  const growth = await peakGrowth(async () => {
    out = await sh(`head -c ${SIZE} /dev/zero | ${curlBase()} -T - https://bulk.example.com/upload`);
  });
  assert.equal(JSON.parse(out).bytes, SIZE);
  t.diagnostic(`peak RSS growth ${Math.round(growth / 1048576)} MB`);
  assert.ok(growth < 150 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1048576)} MB`);
});

test("200 MB download through L7 with bounded memory", { timeout: 150_000 }, async (t) => {
  let out = "";
  const growth = await peakGrowth(async () => {
    out = await sh(
      `${curlBase()} -o /dev/null -w '%{http_code} %{size_download}' 'https://bulk.example.com/download?bytes=${SIZE}'`,
    );
  });
  assert.equal(out, `200 ${SIZE}`);
  t.diagnostic(`peak RSS growth ${Math.round(growth / 1048576)} MB`);
  assert.ok(growth < 150 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1048576)} MB`);
});

test("200 MB download and upload through an L4 tunnel with bounded memory", {
  timeout: 150_000,
}, async (t) => {
  const upstreamCa = join(tempDir(), "upstream.crt");
  writeFileSync(upstreamCa, up.ca.certPem);
  const base = `/usr/bin/curl -sS --max-time 100 --proxy http://127.0.0.1:${p.port} --noproxy '' --cacert ${upstreamCa}`;
  let down = "";
  let upload = "";
  const growth = await peakGrowth(async () => {
    down = await sh(
      `${base} -o /dev/null -w '%{http_code} %{size_download}' 'https://bulk4.example.com/download?bytes=${SIZE}'`,
    );
    upload = await sh(`head -c ${SIZE} /dev/zero | ${base} -T - https://bulk4.example.com/upload`);
  });
  assert.equal(down, `200 ${SIZE}`);
  assert.equal(JSON.parse(upload).bytes, SIZE);
  t.diagnostic(`peak RSS growth ${Math.round(growth / 1048576)} MB`);
  assert.ok(growth < 150 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1048576)} MB`);
});

test("a denied large upload is refused before its body is sent (Expect: 100-continue)", {
  timeout: 60_000,
}, async () => {
  const out = await sh(
    `head -c ${20 * 1024 * 1024} /dev/zero | ${curlBase()} -H 'Expect: 100-continue' -T - -w '\\n%{http_code} %{size_upload}' https://bulk.example.com/forbidden`,
  );
  const lines = out.trim().split("\n");
  const body = lines[0];
  const [status, uploaded] = (lines.at(-1) ?? "").split(" ");
  assert.equal(status, "403");
  assert.equal(JSON.parse(body ?? "").layer, "l7");
  assert.ok(Number(uploaded) < 20 * 1024 * 1024, `uploaded ${uploaded} bytes`);
});
