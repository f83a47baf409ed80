// The store interface (docs/design.md §6): serialised write transactions and plain reads over a
// Repo (repo.ts), and committed events pushed to listeners. sqlite.ts and postgres.ts implement it.
import type { GatewayEvent } from "../../protocol/types.ts";
import type { Repo } from "./repo.ts";

export type EventListener = (event: GatewayEvent) => void;

/** The store: serialised write transactions, plain reads, and committed events pushed to listeners. */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  write<T>(fn: (tx: Repo) => Promise<T>): Promise<T>;
  read<T>(fn: (repo: Repo) => Promise<T>): Promise<T>;
  /** Listeners receive every committed event once, in id order (from any replica on PostgreSQL). */
  subscribe(listener: EventListener): () => void;
  close(): Promise<void>;
}
