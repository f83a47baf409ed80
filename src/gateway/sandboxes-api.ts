// The sandbox routes: register (its policy becomes revision 1), list, read, and the policy
// revisions under /v1/sandboxes/:name (read, replace, the supervisor's loaded/failed report).
import { z } from "zod";
import { dumpPolicyYaml } from "../policy/canonical.ts";
import {
  RegisterBodySchema,
  RegisterResultSchema,
  RevisionSchema,
  RevisionStatusBodySchema,
  SandboxSchema,
  SetPolicyBodySchema,
} from "../protocol/types.ts";
import { type ApiRouter, wholeNumber } from "./api-route.ts";
import type { GatewayService } from "./service.ts";

export function registerSandboxRoutes(router: ApiRouter, service: GatewayService): void {
  router.route(
    {
      method: "post",
      path: "/v1/sandboxes",
      summary: "register a sandbox: its policy becomes revision 1; returns its sandbox token",
      auth: "operator",
      body: RegisterBodySchema,
      response: RegisterResultSchema,
    },
    async (c, { body }) => c.json(await service.register(body.name, body.policy), 201),
  );
  router.route(
    {
      method: "get",
      path: "/v1/sandboxes",
      summary: "sandboxes, most recently registered first",
      auth: "operator",
      response: z.object({ sandboxes: z.array(SandboxSchema) }),
    },
    async (c) => c.json({ sandboxes: await service.listSandboxes() }),
  );
  router.route(
    {
      method: "get",
      path: "/v1/sandboxes/:name",
      summary: "one sandbox",
      auth: "any",
      sandbox: "path",
      response: SandboxSchema,
    },
    async (c, { sandbox }) => c.json(await service.getSandbox(sandbox)),
  );
  router.route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/policy",
      summary: "the head policy revision (or ?rev=N), with its canonical YAML",
      auth: "any",
      sandbox: "path",
      query: { rev: "revision number" },
      response: RevisionSchema.extend({ policy_yaml: z.string() }),
    },
    async (c, { sandbox }) => {
      const rev = await service.getRevision(sandbox, wholeNumber(c.req.query("rev"), "rev"));
      return c.json({ ...rev, policy_yaml: dumpPolicyYaml(rev.policy) });
    },
  );
  router.route(
    {
      method: "put",
      path: "/v1/sandboxes/:name/policy",
      summary: "replace the policy: a new revision pushed to the sandbox",
      auth: "operator",
      sandbox: "path",
      body: SetPolicyBodySchema,
      response: RevisionSchema,
    },
    async (c, { body, sandbox, actor }) =>
      c.json(await service.setPolicy(sandbox, body.policy, actor, body.expected_hash)),
  );
  router.route(
    {
      method: "get",
      path: "/v1/sandboxes/:name/revisions",
      summary: "policy revisions, newest first",
      auth: "any",
      sandbox: "path",
      response: z.object({ revisions: z.array(RevisionSchema) }),
    },
    async (c, { sandbox }) => c.json({ revisions: await service.listRevisions(sandbox) }),
  );
  router.route(
    {
      method: "post",
      path: "/v1/sandboxes/:name/revisions/:version/status",
      summary: "the supervisor reports a revision loaded or failed",
      auth: "any",
      sandbox: "path",
      body: RevisionStatusBodySchema,
      response: RevisionSchema,
    },
    async (c, { body, sandbox, param }) => {
      const version = wholeNumber(param("version"), "version") as number;
      return c.json(await service.reportRevision(sandbox, version, body.status, body.detail ?? null));
    },
  );
}
