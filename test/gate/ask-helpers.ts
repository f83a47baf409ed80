// Shared by the ask tests: act on the next ask a gateway announces (SSE push, no polling).
import type { GatewayClient } from "../../src/protocol/client.ts";

/**
 * Opens the event stream (retrying a connection the server reset: a reused keep-alive socket
 * may race its idle timeout), then calls `decide` with the id of the next `ask.created`.
 */
export async function whenAsked(client: GatewayClient, decide: (id: string) => Promise<unknown>) {
  const stop = new AbortController();
  let opened: () => void = () => undefined;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const done = (async () => {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          for await (const e of client.watch({ signal: stop.signal, onOpen: opened })) {
            if (e.type === "ask.created") {
              await decide(e.data.id as string);
              return e.data.id as string;
            }
          }
          throw new Error("event stream ended before an ask");
        } catch (error) {
          if (attempt >= 3 || stop.signal.aborted) throw error;
        }
      }
    } finally {
      stop.abort();
    }
  })();
  // A stream that never opens fails the test here instead of leaving `done` unhandled.
  await Promise.race([open, done.then(() => undefined)]);
  return { done, stop: () => stop.abort() };
}
