// The event stream (Server-Sent Events): committed events as they happen, after an optional
// replay from Last-Event-ID, with heartbeat comments on idle connections.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { GatewayEvent } from "../protocol/types.ts";
import type { Store } from "./store/store.ts";

export interface StreamOptions {
  /** Only this sandbox's events (plus global ones); undefined = every event. */
  sandbox: string | undefined;
  /** Replay events after this id first. */
  after: number | undefined;
  heartbeatMs: number;
}

export function eventStream(c: Context, store: Store, opts: StreamOptions): Response {
  const { sandbox, after: resumeFrom, heartbeatMs: heartbeat } = opts;
  // Global events (settings) reach every sandbox's stream; asks of no sandbox (the developer's own
  // agents) are none of a sandbox's business.
  const wanted = (e: GatewayEvent) =>
    sandbox === undefined || e.sandbox === sandbox || (e.sandbox === null && !e.type.startsWith("ask."));
  return streamSSE(c, async (stream) => {
    const queue: GatewayEvent[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = store.subscribe((e) => {
      if (!wanted(e)) return;
      queue.push(e);
      wake?.();
    });
    stream.onAbort(() => {
      unsubscribe();
      wake?.();
    });
    let last = -1;
    const send = async (e: GatewayEvent) => {
      if (e.id <= last) return;
      last = e.id;
      await stream.writeSSE({ id: String(e.id), event: e.type, data: JSON.stringify(e) });
    };
    try {
      await stream.write(": connected\n\n");
      if (resumeFrom !== undefined) {
        let after = resumeFrom;
        for (;;) {
          const page = await store.read((r) => r.eventsAfter(after, 500));
          for (const e of page) if (wanted(e)) await send(e);
          if (page.length < 500) break;
          after = page[page.length - 1]?.id ?? after;
        }
      }
      while (!stream.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, heartbeat);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
          if (queue.length === 0 && !stream.aborted) await stream.write(": ping\n\n");
        }
        while (queue.length > 0) await send(queue.shift() as GatewayEvent);
      }
    } finally {
      unsubscribe();
    }
  });
}
