// How the core opens its index: which store serves a corpus's index folder, when a snapshot is
// stale for a corpus, and the plan that brings it up to date. The one place where the engine is chosen.

import { loadCoreConfig } from "../config.js";
import type { Embedder } from "../embed/embedder.js";
import type { Progress } from "../index/settings.js";
import type { Article } from "../types.js";
import { incompatibility } from "./build.js";
import { FileStore, type FileStoreOptions } from "./fs/store.js";
import { hashArticle } from "./hash.js";
import type { IndexStore, Snapshot } from "./types.js";

export { SETTINGS_HASH } from "../index/settings.js";
export { incompatibility, planChanges } from "./build.js";

export type StoreOptions = FileStoreOptions & {
  /** Told when the vector index is being built (stage "index": 0 of 1 at the start, points added of all while a new base is built, 1 of 1 when done). */
  onProgress?: Progress;
  /** Which engine (default: STORE from the environment): the index folder, or PostgreSQL at `databaseUrl` (default DATABASE_URL). */
  kind?: "files" | "postgres";
  databaseUrl?: string;
  /** The PostgreSQL schema holding the index (default PG_SCHEMA: one corpus per schema). */
  schema?: string;
};

/**
 * The store serving a corpus: its index folder (`indexDirFor(dataDir, corpusDir)`) with the
 * embedded engine, or with STORE=postgres the database every bot process shares.
 */
export async function openStore(indexDir: string, opts: StoreOptions = {}): Promise<IndexStore> {
  const { onProgress, onStage, kind, databaseUrl, schema, ...rest } = opts;
  const config = kind === undefined || (kind === "postgres" && (databaseUrl === undefined || schema === undefined)) ? loadCoreConfig() : undefined;
  if ((kind ?? config?.STORE) === "postgres") {
    // Loaded only when used: a files-only install never opens a connection.
    const { PgStore } = await import("./pg/store.js");
    return PgStore.open({ url: databaseUrl ?? config?.DATABASE_URL, schema: schema ?? config?.PG_SCHEMA });
  }
  return new FileStore(indexDir, {
    ...rest,
    onStage: (stage) => {
      onStage?.(stage);
      if (stage === "keywords") onProgress?.(0, 1, "index");
      else if (stage === "hnsw") onProgress?.(1, 1, "index");
    },
    onHnswProgress: (done, total) => onProgress?.(done, total, "index"),
  });
}

/** Why `snapshot` does not match `articles` (undefined when it is up to date). */
export async function staleReason(snapshot: Snapshot, articles: Article[], embedder: Embedder): Promise<string | undefined> {
  const incompatible = incompatibility(snapshot.info, embedder);
  if (incompatible) return incompatible;
  const stored = await snapshot.articleHashes();
  if (stored.size !== articles.length || articles.some((a) => stored.get(a.id) !== hashArticle(a))) return "the articles changed";
  return undefined;
}
