// N concurrent PostgreSQL clients (each its own connection, one snapshot each) asking questions at
// once: shared by scripts/bench/pg.ts and the scale section's pg step (scripts/bench/pgscale.ts).
import { PgStore } from "../../src/store/pg/store.js";
import type { Snapshot } from "../../src/store/types.js";

export interface ClientsRun {
  /** One latency (ms) per question, all clients together. */
  latencies: number[];
  /** Wall time of the concurrent part, in seconds. */
  wallS: number;
  /** The same questions asked by one client alone, one after another (ms each). */
  single: number[];
  /** The clients' stores, for the caller to close. */
  stores: PgStore[];
}

/** `clients` connections each ask `perClient` questions at once (after 5 warm-up questions each), then one asks them alone. */
export async function runClients(
  url: string,
  schema: string,
  clients: number,
  perClient: number,
  question: (snapshot: Snapshot, i: number) => Promise<void>,
): Promise<ClientsRun> {
  const stores = await Promise.all(Array.from({ length: clients }, () => PgStore.open({ url, schema, maxConnections: 1 })));
  const snaps = await Promise.all(stores.map(async (c) => (await c.current())!));
  for (const s of snaps) for (let i = 0; i < 5; i++) await question(s, i);
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    snaps.map(async (s, c) => {
      for (let i = 0; i < perClient; i++) {
        const q0 = performance.now();
        await question(s, i * clients + c);
        latencies.push(performance.now() - q0);
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const single: number[] = [];
  for (let i = 0; i < perClient; i++) {
    const q0 = performance.now();
    await question(snaps[0]!, i);
    single.push(performance.now() - q0);
  }
  return { latencies, wallS, single, stores };
}
