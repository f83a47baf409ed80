// The settings routes: the effective settings (global over sandbox) and both layers; the operator
// sets one globally or for a sandbox, and the change is pushed live as settings.changed.

import { SetSettingBodySchema, SettingsViewSchema } from "../protocol/types.ts";
import type { ApiRouter } from "./api-route.ts";
import type { GatewayService } from "./service.ts";

export function registerSettingRoutes(router: ApiRouter, service: GatewayService): void {
  router.route(
    {
      method: "get",
      path: "/v1/settings",
      summary: "effective settings (global overrides sandbox) and both layers (?sandbox=)",
      auth: "any",
      sandbox: "query",
      query: { sandbox: "sandbox name" },
      response: SettingsViewSchema,
    },
    async (c, { sandbox }) => {
      if (sandbox) await service.getSandbox(sandbox);
      return c.json(await service.settings(sandbox));
    },
  );
  router.route(
    {
      method: "put",
      path: "/v1/settings/:key",
      summary: "set a setting globally or for one sandbox (value null clears it); pushed live",
      auth: "operator",
      sandbox: "body",
      body: SetSettingBodySchema,
      response: SettingsViewSchema,
    },
    async (c, { body, sandbox, actor, param }) =>
      c.json(await service.setSetting(param("key"), body.value, sandbox, actor)),
  );
}
