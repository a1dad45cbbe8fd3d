// How the core opens its index: which store serves a corpus's index folder, when a snapshot is
// stale for a corpus, and the plan that brings it up to date. The one place where the engine is
// chosen: the bridge to today's files (LegacyFileStore) until the embedded engine replaces it.
import type { Embedder } from "../embed/embedder.js";
import { modelKey } from "../index/build.js";
import type { Article } from "../types.js";
import { hashArticle } from "./hash.js";
import { LegacyFileStore, type LegacyFileStoreOptions, SETTINGS_HASH } from "./legacy.js";
import type { IndexStore, Snapshot } from "./types.js";

export { planChanges, SETTINGS_HASH } from "./legacy.js";

export type StoreOptions = LegacyFileStoreOptions;

/** The store of a corpus's index folder (`indexDirFor(dataDir, corpusDir)`). */
export function openStore(indexDir: string, opts: StoreOptions = {}): IndexStore {
  return new LegacyFileStore(indexDir, opts);
}

/** Why a snapshot made with another model or settings can't serve this embedder (undefined: it can). */
export function incompatibility(info: Snapshot["info"], embedder: Embedder): string | undefined {
  if (info.model !== modelKey(embedder) || info.dimensions !== embedder.dimensions)
    return `the embedding model changed (${info.model} → ${modelKey(embedder)})`;
  if (info.settingsHash !== SETTINGS_HASH) return "the index settings changed";
  return undefined;
}

/** Why `snapshot` does not match `articles` (undefined when it is up to date). */
export async function staleReason(snapshot: Snapshot, articles: Article[], embedder: Embedder): Promise<string | undefined> {
  const incompatible = incompatibility(snapshot.info, embedder);
  if (incompatible) return incompatible;
  const stored = await snapshot.articleHashes();
  if (stored.size !== articles.length || articles.some((a) => stored.get(a.id) !== hashArticle(a))) return "the articles changed";
  return undefined;
}
