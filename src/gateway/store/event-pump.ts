// Committed events to in-process listeners, in id order, for both backends.
import type { Repo } from "./repo.ts";
import type { EventListener } from "./store.ts";

/**
 * Delivers committed events in id order. Backends call `pump()` after each commit (and on
 * NOTIFY from other replicas); writers hold a lock while appending, so ids are commit-ordered.
 */
export class EventPump {
  private listeners = new Set<EventListener>();
  private lastId = 0;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;

  constructor(private readonly read: () => Repo) {}

  async start(): Promise<void> {
    this.lastId = await this.read().lastEventId();
    this.started = true;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pump(): Promise<void> {
    if (!this.started) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const events = await this.read().eventsAfter(this.lastId, 500);
            for (const e of events) {
              this.lastId = e.id;
              for (const l of this.listeners) {
                try {
                  l(e);
                } catch {
                  // a listener's failure must not stop delivery to the others
                }
              }
            }
            if (events.length < 500) break;
          }
        } while (this.again);
      } catch {
        // the next commit or notification pumps again
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
