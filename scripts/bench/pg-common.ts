// What scripts/bench/pg.ts and the scale section's pg step (scripts/bench/pgscale.ts) both measure:
// N concurrent PostgreSQL clients asking at once, the server's memory and the schema's size on disk.
import fs from "node:fs";
import path from "node:path";
import type pg from "pg";
import { PgStore } from "../../src/store/pg/store.js";
import type { Snapshot } from "../../src/store/types.js";
import { round } from "./common.js";

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

/** Proportional set size of the server's processes (shared buffers counted once), in MB. */
export function serverPssMb(dataDir: string | undefined): number | null {
  if (!dataDir) return null;
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return null;
  const postmaster = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  let kb = 0;
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      if (Number(pid) !== postmaster && ppid !== postmaster) continue;
      kb += Number(/Pss:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return round(kb / 1024, 1);
}

/** The schema's tables (MB each, largest first) and the HNSW index's size on disk. */
export async function schemaSizes(pool: pg.Pool, schema: string): Promise<{ tables: { name: string; mb: number }[]; hnswMb: number }> {
  const tables = (
    await pool.query<{ name: string; mb: number }>(
      `SELECT c.relname AS name, round(pg_total_relation_size(c.oid) / 1048576.0, 1)::float8 AS mb
       FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'r' ORDER BY 2 DESC`,
      [schema],
    )
  ).rows;
  const hnswMb = (await pool.query<{ mb: number }>("SELECT round(pg_relation_size('passages_embedding') / 1048576.0, 1)::float8 AS mb")).rows[0]!.mb;
  return { tables, hnswMb };
}
