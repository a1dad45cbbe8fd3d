// The index stores an end-to-end run of the whole bot can be pointed at. Each gives the environment
// variables that make `citebot bot` (and every shard process) open that store, and cleans up after.
// Today there is one, the embedded engine (index files under DATA_DIR); a PostgreSQL store is one more
// entry here (its variables, and a database made and dropped per run).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

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

/** The stores the end-to-end suites that take one run against. */
export const E2E_STORES: E2eStore[] = [embeddedStore];

/** A fresh DATA_DIR for one run. */
export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "citebot-e2e-data-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
