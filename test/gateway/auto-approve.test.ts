// approval_mode: auto approves only inside the operator's ceiling and only without security notes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GatewayService } from "../../src/gateway/service.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { policyFrom as policy } from "../policy/helpers.ts";
import { storeCases } from "./fixtures.ts";

const BASE = policy(`
version: 1
network_policies:
  github_api:
    endpoints: [{ host: api.github.com, port: 443, protocol: rest, access: read-only }]
    binaries: [{ path: /usr/bin/curl }]
`);
const CEILING = policy(`
version: 1
network_policies:
  github:
    endpoints: [{ host: api.github.com, port: 443, protocol: rest, access: read-only }]
    binaries: [{ path: /usr/bin/* }]
  registry:
    endpoints: [{ host: registry.npmjs.org, port: 443 }]
    binaries: [{ path: /usr/bin/node }]
`);

for (const sc of storeCases()) {
  describe(`auto-approval: ${sc.name}`, { skip: sc.skip }, () => {
    async function setup(ceiling: Policy | undefined) {
      const h = await sc.fresh();
      const svc = new GatewayService(h.store, undefined, { ceiling });
      await svc.register("sb", BASE);
      await svc.setSetting("approval_mode", "auto", undefined, "operator");
      return { h, svc };
    }
    const submit = (svc: GatewayService, ruleName: string, rule: unknown) =>
      svc.submit(
        "sb",
        { source: "mechanistic", operations: [{ addRule: { ruleName, rule } }] },
        "supervisor",
      );

    test("a binary addition on a read-only REST endpoint auto-approves and stays rest + read-only", async () => {
      const { h, svc } = await setup(CEILING);
      try {
        const r = await submit(svc, "github_api", {
          endpoints: [{ host: "api.github.com", port: 443, protocol: "rest", access: "read-only" }],
          binaries: [{ path: "/usr/bin/node" }],
        });
        const chunk = r.chunks[0];
        assert.equal(chunk?.status, "approved");
        assert.equal(chunk?.decided_by, "auto");
        const head = await svc.getRevision("sb");
        const rule = head.policy.network_policies.github_api;
        assert.deepEqual(rule?.binaries.map((b) => b.path).sort(), ["/usr/bin/curl", "/usr/bin/node"]);
        assert.equal(rule?.endpoints[0]?.protocol, "rest");
        assert.equal(rule?.endpoints[0]?.access, "read-only");
        const history = await svc.history({ chunk_id: chunk?.id });
        assert.ok(history.some((d) => d.action === "approve" && d.actor === "auto"));
      } finally {
        await h.store.close();
        await h.dispose();
      }
    });

    test("outside the ceiling, with a security note, or without a ceiling: it waits for a human", async () => {
      for (const [ceiling, name, rule] of [
        [
          CEILING,
          "evil",
          { endpoints: [{ host: "evil.example.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
        ],
        [
          CEILING,
          "gh_l4",
          { endpoints: [{ host: "api.github.com", port: 443 }], binaries: [{ path: "/usr/bin/curl" }] },
        ],
        [
          CEILING,
          "pg",
          { endpoints: [{ host: "registry.npmjs.org", port: 5432 }], binaries: [{ path: "/usr/bin/node" }] },
        ],
        [
          undefined,
          "npm",
          { endpoints: [{ host: "registry.npmjs.org", port: 443 }], binaries: [{ path: "/usr/bin/node" }] },
        ],
      ] as const) {
        const { h, svc } = await setup(ceiling);
        try {
          const r = await submit(svc, name, rule);
          assert.equal(r.chunks[0]?.status, "pending", name);
        } finally {
          await h.store.close();
          await h.dispose();
        }
      }
    });

    test("inside the ceiling with no security note: approved automatically", async () => {
      const { h, svc } = await setup(CEILING);
      try {
        const r = await submit(svc, "npm", {
          endpoints: [{ host: "registry.npmjs.org", port: 443 }],
          binaries: [{ path: "/usr/bin/node" }],
        });
        assert.equal(r.chunks[0]?.status, "approved");
      } finally {
        await h.store.close();
        await h.dispose();
      }
    });
  });
}
