// What shapes a stored index besides the articles (a change means a full rebuild), and the
// figures a build reports.
import { createHash } from "node:crypto";
import type { Embedder } from "../embed/embedder.js";

/** Everything that shapes the stored index besides the corpus; a change rebuilds it. */
export const INDEX_SETTINGS = { splitter: 4, keyword: 3, hnsw: { space: "cosine", m: 16, efConstruction: 200, seed: 100 } } as const;

export function hashSettings(settings: unknown): string {
  return createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16);
}

/** Hash of INDEX_SETTINGS as a snapshot records it: a change means a full rebuild. */
export const SETTINGS_HASH = hashSettings(INDEX_SETTINGS);

/** The model as a snapshot records it: its id, and for a local model the fingerprint of its weights. */
export const modelKey = (embedder: Embedder) => (embedder.weights ? `${embedder.modelId}@${embedder.weights}` : embedder.modelId);

export type Progress = (done: number, total: number, stage: "embed" | "index") => void;

export interface BuildStats {
  passages: number;
  embedded: number;
  reused: number;
  seconds: number;
}
