// Groups L4 denials by (host, port, binary) and hands the groups over every flush interval.
// The clock is injected; start() is the only place a timer is made.
import type { DenialGroup } from "./mapper.ts";

export interface L4Denial {
  host: string;
  port: number;
  binary: string;
  time: string;
}

export class DenialAggregator {
  private groups = new Map<string, DenialGroup>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onFlush: (groups: DenialGroup[]) => void | Promise<void>,
    private readonly intervalMs = 2000,
  ) {}

  add(denial: L4Denial): void {
    const key = `${denial.host}|${denial.port}|${denial.binary}`;
    const group = this.groups.get(key);
    if (group) {
      group.hits++;
      group.lastSeen = denial.time;
    } else {
      this.groups.set(key, {
        host: denial.host,
        port: denial.port,
        binary: denial.binary,
        hits: 1,
        firstSeen: denial.time,
        lastSeen: denial.time,
      });
    }
  }

  /** Passes the pending groups on; if that fails they stay buffered for the next flush (no silent loss). */
  async flush(): Promise<void> {
    if (this.groups.size === 0) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    try {
      await this.onFlush(groups);
    } catch (error) {
      for (const g of groups) {
        const key = `${g.host}|${g.port}|${g.binary}`;
        const newer = this.groups.get(key);
        this.groups.set(key, newer ? { ...g, hits: g.hits + newer.hits, lastSeen: newer.lastSeen } : g);
      }
      throw error;
    }
  }

  pending(): number {
    return this.groups.size;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
