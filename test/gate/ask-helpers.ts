// Shared by the ask tests: act on the next ask a gateway announces (SSE push, no polling).
import type { GatewayClient } from "../../src/gateway/client.ts";

/** Calls `decide` with the id of the next ask the gateway announces (SSE push, no polling). */
export async function whenAsked(client: GatewayClient, decide: (id: string) => Promise<unknown>) {
  const stop = new AbortController();
  let opened: () => void = () => undefined;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const done = (async () => {
    try {
      for await (const e of client.watch({ signal: stop.signal, onOpen: opened })) {
        if (e.type === "ask.created") {
          await decide(e.data.id as string);
          return e.data.id as string;
        }
      }
      throw new Error("event stream ended before an ask");
    } finally {
      stop.abort();
    }
  })();
  await open;
  return { done, stop: () => stop.abort() };
}
