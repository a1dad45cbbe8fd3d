// Index stage: passages + embeddings → HNSW (cosine) + keyword index + manifest, on disk.
// Builds incrementally: a passage whose text is unchanged reuses its stored vector.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import hnswlib from "hnswlib-node";
import { splitArticle } from "../corpus/split.js";
import type { Embedder } from "../embed/embedder.js";
import { KeywordIndex } from "../search/keyword.js";
import type { Article, Passage } from "../types.js";
import { checkHnswFile, HnswFormatError, readHnswHeader, summarizeHnsw } from "./hnswcheck.js";
import {
  BuildWriter,
  checkKeywordJson,
  currentBuildDir,
  FILES,
  hashCorpus,
  hashSettings,
  IndexError,
  type Manifest,
  parsePassages,
  parseVectors,
  readManifest,
  readVerified,
  type StoredPassages,
} from "./store.js";

const { HierarchicalNSW } = hnswlib;
export type Hnsw = InstanceType<typeof HierarchicalNSW>;

/** Everything that shapes the stored index besides the corpus; a change rebuilds it. */
export const INDEX_SETTINGS = { splitter: 4, keyword: 3, hnsw: { space: "cosine", m: 16, efConstruction: 200, seed: 100 } } as const;

export interface IndexData {
  manifest: Manifest;
  buildDir: string;
  articles: Article[];
  passages: Passage[];
  /** Row i holds passage i's unit vector. */
  vectors: Float32Array;
  hnsw: Hnsw;
  keyword: KeywordIndex;
}

export type Progress = (done: number, total: number, stage: "embed" | "index") => void;

export interface BuildStats {
  passages: number;
  embedded: number;
  reused: number;
  seconds: number;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const textKey = (text: string) => createHash("sha1").update(text).digest("base64");

/**
 * Loads the current build of `indexDir` (or `buildDir`, a build of it), throwing IndexError when it
 * is missing or unusable. Nothing reaches a parser (JSON, hnswlib) before its bytes matched the
 * manifest's checksum, and the HNSW file is checked structurally before hnswlib reads it: a damaged
 * or tampered index is a reason to rebuild, never a native crash.
 */
export async function loadIndex(indexDir: string, buildDir = currentBuildDir(indexDir)): Promise<IndexData> {
  if (!buildDir) throw new IndexError("there is no index yet");
  const manifest = readManifest(buildDir);
  try {
    // Each step is synchronous; yielding between them keeps a running bot's event loop responsive.
    const { articles, passages } = parsePassages(await readVerified(buildDir, manifest, FILES.passages), manifest);
    await yieldToLoop();
    const vectors = parseVectors(await readVerified(buildDir, manifest, FILES.vectors), passages.length, manifest.dimensions);
    const keywordJson = (await readVerified(buildDir, manifest, FILES.keyword)).toString("utf8");
    checkKeywordJson(keywordJson, passages.length);
    await yieldToLoop();
    const hnsw = new HierarchicalNSW(INDEX_SETTINGS.hnsw.space, manifest.dimensions);
    if (passages.length > 0) {
      const file = path.join(buildDir, FILES.hnsw);
      await checkHnswFile(await readVerified(buildDir, manifest, FILES.hnsw), { dimensions: manifest.dimensions, summary: manifest.hnsw! });
      // readIndex runs off the main thread (the sync form would stall a running bot on a large index).
      await hnsw.readIndex(file);
      if (hnsw.getCurrentCount() !== passages.length) throw new IndexError("the vector index does not match the passages");
    } else hnsw.initIndex(1);
    await yieldToLoop();
    const keyword = await KeywordIndex.fromJSONAsync(keywordJson);
    return { manifest, buildDir, articles, passages, vectors, hnsw, keyword };
  } catch (err) {
    if (err instanceof IndexError) throw err;
    if (err instanceof HnswFormatError) throw new IndexError(`the index is damaged (${FILES.hnsw}: ${err.message})`);
    throw new IndexError(`the index is damaged (${(err as Error).message.split("\n")[0]})`);
  }
}

/** Whether a loaded index still matches the corpus and settings. */
/** The model as the manifest records it: its id, and for a local model the fingerprint of its weights. */
export const modelKey = (embedder: Embedder) => (embedder.weights ? `${embedder.modelId}@${embedder.weights}` : embedder.modelId);

export function staleReason(manifest: Manifest, articles: Article[], embedder: Embedder): string | undefined {
  if (manifest.model !== modelKey(embedder) || manifest.dimensions !== embedder.dimensions)
    return `the embedding model changed (${manifest.model} → ${modelKey(embedder)})`;
  if (manifest.settingsHash !== hashSettings(INDEX_SETTINGS)) return "the index settings changed";
  if (manifest.corpusHash !== hashCorpus(articles)) return "the articles changed";
  return undefined;
}

/** Builds a new index of `articles` and makes it current. `previous` lends vectors of unchanged passages. */
export async function buildIndex(
  indexDir: string,
  articles: Article[],
  embedder: Embedder,
  opts: { previous?: Pick<IndexData, "passages" | "vectors" | "manifest">; onProgress?: Progress; onSplit?: (article: Article) => void } = {},
): Promise<{ data: IndexData; stats: BuildStats }> {
  const t0 = performance.now();
  const dim = embedder.dimensions;
  const passages = articles.flatMap((a) => {
    opts.onSplit?.(a);
    return splitArticle(a);
  });
  const vectors = new Float32Array(passages.length * dim);

  // Reuse vectors of passages whose text is unchanged (same model only).
  const reusable = new Map<string, number>();
  const prev = opts.previous;
  if (prev && prev.manifest.model === modelKey(embedder) && prev.manifest.dimensions === dim) {
    prev.passages.forEach((p, i) => reusable.set(textKey(p.text), i));
  }
  const todo: number[] = [];
  passages.forEach((p, i) => {
    const j = reusable.get(textKey(p.text));
    if (j !== undefined) vectors.set(prev!.vectors.subarray(j * dim, (j + 1) * dim), i * dim);
    else todo.push(i);
  });

  const CHUNK = 512;
  opts.onProgress?.(0, todo.length, "embed");
  for (let c = 0; c < todo.length; c += CHUNK) {
    const ids = todo.slice(c, c + CHUNK);
    const embedded = await embedder.embed(ids.map((i) => passages[i]!.text));
    ids.forEach((i, k) => vectors.set(embedded[k]!, i * dim));
    opts.onProgress?.(Math.min(c + CHUNK, todo.length), todo.length, "embed");
  }

  const data = writeIndex(indexDir, articles, passages, vectors, { model: modelKey(embedder), dimensions: dim }, opts.onProgress);
  return {
    data,
    stats: { passages: passages.length, embedded: todo.length, reused: passages.length - todo.length, seconds: (performance.now() - t0) / 1000 },
  };
}

/**
 * Writes a build of `articles` (split into `passages`, row i of `vectors` passage i's unit vector)
 * and makes it current, atomically: the HNSW graph and keyword index are built here.
 */
export function writeIndex(
  indexDir: string,
  articles: Article[],
  passages: Passage[],
  vectors: Float32Array,
  meta: { model: string; dimensions: number },
  onProgress?: Progress,
): IndexData {
  const dim = meta.dimensions;
  const hnsw = new HierarchicalNSW(INDEX_SETTINGS.hnsw.space, dim);
  const { m, efConstruction, seed } = INDEX_SETTINGS.hnsw;
  hnsw.initIndex(Math.max(1, passages.length), m, efConstruction, seed);
  const row = new Array<number>(dim);
  for (let i = 0; i < passages.length; i++) {
    for (let d = 0; d < dim; d++) row[d] = vectors[i * dim + d]!;
    hnsw.addPoint(row, i);
    if (i % 2048 === 0 || i === passages.length - 1) onProgress?.(i + 1, passages.length, "index");
  }
  const keyword = KeywordIndex.build(passages.map((p) => p.text));

  const writer = new BuildWriter(indexDir);
  try {
    const articleIndex = new Map(articles.map((a, i) => [a.id, i]));
    const stored: StoredPassages = { articles, passages: passages.map((p) => [articleIndex.get(p.articleId)!, p.start, p.end]) };
    writer.write(FILES.passages, JSON.stringify(stored));
    writer.write(FILES.vectors, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
    if (passages.length > 0) {
      hnsw.writeIndexSync(path.join(writer.dir, FILES.hnsw));
      writer.recordFile(FILES.hnsw);
    }
    writer.write(FILES.keyword, keyword.toJSON());
    const manifest = writer.commit({
      model: meta.model,
      dimensions: dim,
      corpusHash: hashCorpus(articles),
      settingsHash: hashSettings(INDEX_SETTINGS),
      articles: articles.length,
      passages: passages.length,
      // What the HNSW header says as written: loading compares the file with it.
      ...(passages.length > 0 && { hnsw: summarizeHnsw(readHnswHeader(readFileSync(path.join(writer.dir, FILES.hnsw)))) }),
    });
    return { manifest, buildDir: writer.dir, articles, passages, vectors, hnsw, keyword };
  } catch (err) {
    writer.abort();
    throw err;
  }
}
