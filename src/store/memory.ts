// An exact, in-memory Snapshot: brute-force cosine over every vector and the postings engine for
// keywords. It is the reference the other engines are compared with (parity tests) and the
// snapshot of small throw-away indexes; nothing here is approximate.
import { PostingsIndex } from "../search/postings/engine.js";
import type { Article, Passage } from "../types.js";
import { hashArticle } from "./hash.js";
import type { ArticleRows, Filter, KeywordScored, PassageId, Scored, Snapshot, SnapshotInfo } from "./types.js";

export class MemorySnapshot implements Snapshot {
  readonly info: SnapshotInfo;
  private readonly passageList: Passage[];
  private readonly vectorRows: Float32Array;
  private readonly byArticle = new Map<string, PassageId[]>();
  private readonly keywords: PostingsIndex;
  private readonly dim: number;

  /** Passage ids are assigned in order: article by article, sentence by sentence. */
  constructor(rows: ArticleRows[], meta: { model: string; dimensions: number; settingsHash: string; version?: string }) {
    this.dim = meta.dimensions;
    this.passageList = rows.flatMap((r) => r.passages);
    this.vectorRows = new Float32Array(this.passageList.length * this.dim);
    let id = 0;
    for (const r of rows) {
      if (r.vectors.length !== r.passages.length * this.dim) throw new Error(`vectors of ${r.article.id} do not match its passages`);
      this.vectorRows.set(r.vectors, id * this.dim);
      this.byArticle.set(
        r.article.id,
        r.passages.map((_, i) => id + i),
      );
      id += r.passages.length;
    }
    this.articleList = rows.map((r) => r.article);
    this.hashes = new Map(rows.map((r) => [r.article.id, r.hash]));
    this.keywords = PostingsIndex.build(this.passageList.map((p) => p.text));
    this.info = {
      version: meta.version ?? `memory-${Date.now().toString(36)}`,
      model: meta.model,
      dimensions: meta.dimensions,
      articles: rows.length,
      passages: this.passageList.length,
      settingsHash: meta.settingsHash,
      createdAt: new Date().toISOString(),
    };
  }

  private readonly articleList: Article[];
  private readonly hashes: Map<string, string>;

  /** Rows of `articles` with their passages and vectors laid out as `passages` + `vectors` (row i = passage i). */
  static rowsOf(articles: Article[], passages: Passage[], vectors: Float32Array, dimensions: number): ArticleRows[] {
    const at = new Map<string, number[]>();
    passages.forEach((p, i) => at.set(p.articleId, [...(at.get(p.articleId) ?? []), i]));
    return articles.map((article) => {
      const ids = at.get(article.id) ?? [];
      const v = new Float32Array(ids.length * dimensions);
      ids.forEach((i, k) => v.set(vectors.subarray(i * dimensions, (i + 1) * dimensions), k * dimensions));
      return { article, hash: hashArticle(article), passages: ids.map((i) => passages[i]!), vectors: v };
    });
  }

  async articles(): Promise<Article[]> {
    return this.articleList;
  }

  async articleHashes(): Promise<Map<string, string>> {
    return new Map(this.hashes);
  }

  async passages(ids: readonly PassageId[]): Promise<Passage[]> {
    return ids.map((id) => {
      const p = this.passageList[id];
      if (!p) throw new Error(`no passage ${id} in this snapshot`);
      return p;
    });
  }

  async passageIds(articleId: string): Promise<PassageId[]> {
    return [...(this.byArticle.get(articleId) ?? [])];
  }

  private allowed(filter?: Filter): Set<PassageId> | undefined {
    return filter?.articleId !== undefined ? new Set(this.byArticle.get(filter.articleId) ?? []) : undefined;
  }

  async dense(query: Float32Array, k: number, filter?: Filter): Promise<Scored[]> {
    const allow = this.allowed(filter);
    const ids = allow ? [...allow] : this.passageList.map((_, i) => i);
    const scored = ids.map((id) => {
      let s = 0;
      for (let d = 0, o = id * this.dim; d < this.dim; d++) s += query[d]! * this.vectorRows[o + d]!;
      return { id, score: s };
    });
    return scored.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, Math.max(0, k));
  }

  async keyword(question: string, k: number, filter?: Filter): Promise<{ hits: KeywordScored[]; queryTerms: number }> {
    const allow = this.allowed(filter);
    const { hits, queryTerms } = this.keywords.query(question, k, allow ? { allow } : {});
    return { hits: hits.map((h) => ({ id: h.index, score: h.score, matched: h.matched })), queryTerms };
  }

  async vectors(ids: readonly PassageId[]): Promise<Float32Array[]> {
    return ids.map((id) => {
      if (id < 0 || id >= this.passageList.length) throw new Error(`no passage ${id} in this snapshot`);
      return this.vectorRows.slice(id * this.dim, (id + 1) * this.dim);
    });
  }

  async documentFrequency(stems: readonly string[]): Promise<number[]> {
    return stems.map((s) => this.keywords.documentFrequency(s));
  }

  async close(): Promise<void> {}
}
