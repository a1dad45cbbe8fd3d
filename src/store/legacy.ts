// A bridge: today's on-disk index (src/index/: passages.json, vectors.f32, hnsw.bin, the manifest
// with checksums and the atomic `current` link) behind the store contract, until the embedded
// engine (src/store/fs/) replaces it. Dense search uses the loaded HNSW graph; keywords use the
// postings engine built from the passages at load (the stored minisearch file is only verified).
// Writes are whole builds: an update is applied to the current snapshot's rows and written anew.
import { existsSync, type FSWatcher, watch } from "node:fs";
import { splitArticle } from "../corpus/split.js";
import type { Embedder } from "../embed/embedder.js";
import { INDEX_SETTINGS, type IndexData, loadIndex, modelKey, type Progress, writeIndex } from "../index/build.js";
import { currentBuildDir, fileStamps, hashSettings, readManifest, verifyChecksums } from "../index/store.js";
import { PostingsIndex } from "../search/postings/engine.js";
import type { Article, Passage } from "../types.js";
import { hashArticle } from "./hash.js";
import type { IndexProbe, IndexProbeResult } from "./probe.js";
import type { ArticleRows, Changes, Filter, IndexStore, KeywordScored, PassageId, Scored, Snapshot, SnapshotInfo, WriteStats } from "./types.js";

/** The settings hash of an index written now: a snapshot with another one is rebuilt whole. */
export const SETTINGS_HASH = hashSettings(INDEX_SETTINGS);

/** HNSW search breadth (recall/latency trade-off): never below k. */
const EF = 256;

/** One loaded build: passage id = row = HNSW label. */
export class LegacySnapshot implements Snapshot {
  readonly info: SnapshotInfo;
  private readonly byArticle = new Map<string, PassageId[]>();
  private readonly keywords: PostingsIndex;
  private hashes?: Map<string, string>;
  private data: IndexData | undefined;

  constructor(data: IndexData) {
    this.data = data;
    const { manifest } = data;
    data.passages.forEach((p, id) => {
      let own = this.byArticle.get(p.articleId);
      if (!own) this.byArticle.set(p.articleId, (own = []));
      own.push(id);
    });
    this.keywords = PostingsIndex.build(data.passages.map((p) => p.text));
    this.info = {
      version: data.buildDir,
      model: manifest.model,
      dimensions: manifest.dimensions,
      articles: data.articles.length,
      passages: data.passages.length,
      settingsHash: manifest.settingsHash,
      createdAt: manifest.createdAt,
    };
  }

  private get index(): IndexData {
    if (!this.data) throw new Error("this index snapshot was closed");
    return this.data;
  }

  async articles(): Promise<Article[]> {
    return this.index.articles;
  }

  async articleHashes(): Promise<Map<string, string>> {
    this.hashes ??= new Map(this.index.articles.map((a) => [a.id, hashArticle(a)]));
    return new Map(this.hashes);
  }

  async passages(ids: readonly PassageId[]): Promise<Passage[]> {
    const all = this.index.passages;
    return ids.map((id) => {
      const p = all[id];
      if (!p) throw new Error(`no passage ${id} in this snapshot`);
      return p;
    });
  }

  async passageIds(articleId: string): Promise<PassageId[]> {
    return [...(this.byArticle.get(articleId) ?? [])];
  }

  async dense(query: Float32Array, k: number, filter?: Filter): Promise<Scored[]> {
    const { hnsw, passages } = this.index;
    const n = Math.min(Math.max(0, Math.floor(k)), passages.length);
    if (n === 0) return [];
    if (filter?.articleId !== undefined) {
      // An article's few passages: exact, and faster than a filtered graph search.
      const scored = (this.byArticle.get(filter.articleId) ?? []).map((id) => ({ id, score: this.dot(query, id) }));
      return scored.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, n);
    }
    hnsw.setEf(Math.max(EF, n));
    const res = hnsw.searchKnn(Array.from(query), n);
    return res.neighbors.map((id, i) => ({ id, score: 1 - res.distances[i]! }));
  }

  async keyword(question: string, k: number, filter?: Filter): Promise<{ hits: KeywordScored[]; queryTerms: number }> {
    const allow = filter?.articleId !== undefined ? new Set(this.byArticle.get(filter.articleId) ?? []) : undefined;
    const { hits, queryTerms } = this.keywords.query(question, k, allow ? { allow } : {});
    return { hits: hits.map((h) => ({ id: h.index, score: h.score, matched: h.matched })), queryTerms };
  }

  async vectors(ids: readonly PassageId[]): Promise<Float32Array[]> {
    const { vectors, passages } = this.index;
    const dim = this.info.dimensions;
    return ids.map((id) => {
      if (!Number.isInteger(id) || id < 0 || id >= passages.length) throw new Error(`no passage ${id} in this snapshot`);
      return vectors.slice(id * dim, (id + 1) * dim);
    });
  }

  async documentFrequency(stems: readonly string[]): Promise<number[]> {
    return stems.map((s) => this.keywords.documentFrequency(s));
  }

  async close(): Promise<void> {
    this.data = undefined;
  }

  private dot(q: Float32Array, id: number): number {
    const v = this.index.vectors;
    const dim = this.info.dimensions;
    let s = 0;
    for (let d = 0, o = id * dim; d < dim; d++) s += q[d]! * v[o + d]!;
    return s;
  }
}

export interface LegacyFileStoreOptions {
  /** How often `watch` looks at the `current` link (ms); fs.watch events make it look sooner. Default 2000. */
  pollMs?: number;
  /** Wait this long after a watch event before looking (a build touches several files). Default 150. */
  debounceMs?: number;
  /** Told the progress of writing (the HNSW graph: stage "index"). */
  onProgress?: Progress;
}

export class LegacyFileStore implements IndexStore, IndexProbe {
  readonly kind = "files" as const;
  /** Stamps (size, mtime, inode) of the current build's files when their checksums last matched. */
  private verified: { build: string; stamps: string } | undefined;

  constructor(
    readonly indexDir: string,
    private readonly opts: LegacyFileStoreOptions = {},
  ) {}

  async current(): Promise<Snapshot | undefined> {
    if (!currentBuildDir(this.indexDir)) return undefined;
    return new LegacySnapshot(await loadIndex(this.indexDir));
  }

  async write(changes: Changes): Promise<{ snapshot: Snapshot; stats: WriteStats }> {
    const t0 = performance.now();
    let rows = changes.upsert;
    let removed = 0;
    let passagesRemoved = 0;
    if (changes.mode === "update") {
      const base = await this.current();
      if (!base) throw new Error("an update needs an index to update; write a replace first");
      try {
        const replaced = new Set([...changes.remove, ...changes.upsert.map((r) => r.article.id)]);
        const fresh = new Map(changes.upsert.map((r) => [r.article.id, r]));
        const kept: ArticleRows[] = [];
        for (const article of await base.articles()) {
          const ids = await base.passageIds(article.id);
          if (replaced.has(article.id)) {
            passagesRemoved += ids.length;
            if (!fresh.has(article.id)) removed++;
            // A changed article keeps its place; its new rows come from the change.
            const row = fresh.get(article.id);
            if (row) kept.push(row), fresh.delete(article.id);
            continue;
          }
          kept.push({ article, hash: hashArticle(article), passages: await base.passages(ids), vectors: concat(await base.vectors(ids), changes.dimensions) });
        }
        rows = [...kept, ...fresh.values()];
      } finally {
        await base.close();
      }
    }
    const articles = rows.map((r) => r.article);
    const passages = rows.flatMap((r) => r.passages);
    const vectors = new Float32Array(passages.length * changes.dimensions);
    let at = 0;
    for (const r of rows) {
      vectors.set(r.vectors, at);
      at += r.vectors.length;
    }
    if (changes.settingsHash !== SETTINGS_HASH) throw new Error("these changes were planned for other index settings");
    const data = writeIndex(this.indexDir, articles, passages, vectors, { model: changes.model, dimensions: changes.dimensions }, this.opts.onProgress);
    return {
      snapshot: new LegacySnapshot(data),
      stats: {
        articlesWritten: changes.upsert.length,
        articlesRemoved: removed,
        passagesWritten: changes.upsert.reduce((s, r) => s + r.passages.length, 0),
        passagesRemoved,
        seconds: (performance.now() - t0) / 1000,
      },
    };
  }

  watch(onChange: () => void): () => void {
    const pollMs = this.opts.pollMs ?? 2000;
    const debounceMs = this.opts.debounceMs ?? 150;
    let seen = currentBuildDir(this.indexDir);
    let watcher: FSWatcher | undefined;
    let debounce: NodeJS.Timeout | undefined;
    let stopped = false;
    const look = () => {
      if (stopped) return;
      ensureWatcher();
      const now = currentBuildDir(this.indexDir);
      if (now !== undefined && now !== seen) {
        seen = now;
        onChange();
      }
    };
    const schedule = () => {
      clearTimeout(debounce);
      debounce = setTimeout(look, debounceMs);
      debounce.unref();
    };
    const ensureWatcher = () => {
      if (watcher || stopped || !existsSync(this.indexDir)) return;
      try {
        const w = watch(this.indexDir, { persistent: false }, schedule);
        w.on("error", () => {
          // The folder was deleted (or similar): polling goes on and watches again when it is back.
          w.close();
          if (watcher === w) watcher = undefined;
          schedule();
        });
        watcher = w;
      } catch {
        // fs.watch unavailable here: polling only
      }
    };
    const poll = setInterval(look, pollMs);
    poll.unref();
    ensureWatcher();
    return () => {
      stopped = true;
      clearInterval(poll);
      clearTimeout(debounce);
      watcher?.close();
    };
  }

  /**
   * Every call: the current build's files there at their recorded sizes (cheap); checksums again
   * only when a file's size, mtime or inode changed since they last matched (a same-size edit).
   */
  async probe(): Promise<IndexProbeResult> {
    const build = currentBuildDir(this.indexDir);
    if (!build || !existsSync(build)) {
      this.verified = undefined;
      return { state: "missing", message: "the index on disk is gone" };
    }
    try {
      const manifest = readManifest(build);
      const stamps = fileStamps(build, manifest);
      if (this.verified?.build !== build || this.verified.stamps !== stamps) {
        await verifyChecksums(build, manifest);
        this.verified = { build, stamps };
      }
      return { state: "ok", version: build };
    } catch (err) {
      this.verified = undefined;
      return { state: "damaged", version: build, message: `the index on disk is damaged (${(err as Error).message})` };
    }
  }

  async close(): Promise<void> {}
}

function concat(rows: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(r, i * dim));
  return out;
}

/**
 * The changes that bring `current` to `articles`: a whole new index when there is none or it was
 * made with another model or settings, else the new, changed and removed articles. A sentence whose
 * text is unchanged keeps its stored vector; the others are embedded (progress: stage "embed").
 */
export async function planChanges(
  articles: Article[],
  current: Snapshot | undefined,
  embedder: Embedder,
  opts: { onProgress?: Progress; onSplit?: (article: Article) => void } = {},
): Promise<Changes> {
  const model = modelKey(embedder);
  const dim = embedder.dimensions;
  const sameModel = current !== undefined && current.info.model === model && current.info.dimensions === dim;
  const mode = sameModel && current.info.settingsHash === SETTINGS_HASH ? "update" : "replace";
  const before = current ? await current.articleHashes() : new Map<string, string>();
  const now = new Set(articles.map((a) => a.id));
  const write = articles.filter((a) => mode === "replace" || before.get(a.id) !== hashArticle(a));
  // Vectors to reuse, by sentence text: from the old passages of the articles being rewritten.
  const reusable = new Map<string, Float32Array>();
  if (sameModel) {
    for (const a of mode === "replace" ? [...before.keys()] : write.map((x) => x.id).filter((id) => before.has(id))) {
      const ids = await current.passageIds(a);
      const [passages, vectors] = await Promise.all([current.passages(ids), current.vectors(ids)]);
      passages.forEach((p, i) => reusable.set(p.text, vectors[i]!));
    }
  }
  const split = write.map((article) => {
    opts.onSplit?.(article);
    const passages = splitArticle(article);
    return { article, hash: hashArticle(article), passages, vectors: new Float32Array(passages.length * dim) };
  });
  const todo: Array<[row: ArticleRows, i: number]> = [];
  for (const row of split) {
    row.passages.forEach((p, i) => {
      const v = reusable.get(p.text);
      if (v) row.vectors.set(v, i * dim);
      else todo.push([row, i]);
    });
  }
  const CHUNK = 512;
  opts.onProgress?.(0, todo.length, "embed");
  for (let c = 0; c < todo.length; c += CHUNK) {
    const part = todo.slice(c, c + CHUNK);
    const embedded = await embedder.embed(part.map(([row, i]) => row.passages[i]!.text));
    part.forEach(([row, i], k) => row.vectors.set(embedded[k]!, i * dim));
    opts.onProgress?.(Math.min(c + CHUNK, todo.length), todo.length, "embed");
  }
  return {
    mode,
    model,
    dimensions: dim,
    settingsHash: SETTINGS_HASH,
    upsert: split,
    remove: mode === "update" ? [...before.keys()].filter((id) => !now.has(id)) : [],
  };
}
