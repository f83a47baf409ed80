import assert from "node:assert/strict";
import { test } from "node:test";
import { coveredDenies } from "../../src/gateway/observed.ts";
import type { Deny } from "../../src/protocol/types.ts";

const deny = (over: Partial<Deny>): Deny => ({
  sandbox: "sb",
  binary: "/usr/bin/curl",
  host: "api.github.com",
  port: 443,
  layer: "l7",
  method: "PUT",
  path: "/repos/acme/site/contents/docs/a.md",
  reason: "no allow rule matches",
  count: 3,
  first_seen: "t0",
  last_seen: "t1",
  ...over,
});

test("a proposal is linked to exactly the observed denies it would have allowed", () => {
  const rule = {
    endpoints: [
      {
        host: "api.github.com",
        port: 443,
        protocol: "rest" as const,
        rules: [{ allow: { method: "PUT", path: "/repos/acme/site/contents/docs/**" } }],
      },
    ],
    binaries: [{ path: "/usr/bin/curl" }],
  };
  const denies = [
    deny({}),
    deny({ path: "/repos/acme/site/contents/src/x.ts" }),
    deny({ method: "DELETE" }),
    deny({ binary: "/usr/bin/node" }),
    deny({ layer: "l4", method: null, path: null, host: "blocked.example" }),
  ];
  const covered = coveredDenies("put_docs", rule, denies);
  assert.deepEqual(
    covered.map((d) => `${d.method} ${d.path} ${d.binary}`),
    ["PUT /repos/acme/site/contents/docs/a.md /usr/bin/curl"],
  );
  const l4 = coveredDenies(
    "allow_blocked_example_443",
    { endpoints: [{ host: "blocked.example", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
    denies,
  );
  assert.deepEqual(
    l4.map((d) => d.host),
    ["blocked.example"],
  );
});
