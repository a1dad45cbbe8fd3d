// Retrieve stage: question → ranked passages (dense + keyword, fused) → cited excerpts
// (sentence windows, adjacent hits merged, near-duplicates dropped) → an Answer that abstains
// when the evidence says the articles do not cover the question.
import type { Embedder } from "../embed/embedder.js";
import type { IndexData } from "../index/build.js";
import type { Answer, AnswerOptions, Article, Hit, Passage } from "../types.js";
import { words } from "./keyword.js";

export type RetrievalMode = "hybrid" | "dense" | "keyword";

export interface RetrieverSettings {
  mode: RetrievalMode;
  /** Candidates taken from each ranking before fusion. */
  candidates: number;
  /** Weight of the dense cosine against the normalised BM25 score in the fused score. */
  denseWeight: number;
  /** HNSW search breadth (recall/latency trade-off). */
  ef: number;
  /** Excerpts whose vectors are this similar to a chosen one are dropped as repeats (MMR-style). */
  duplicateCosine: number;
  /** Abstain unless the evidence score reaches this (see `evidence`). */
  abstainBelow: number;
  /** Characters of context around a hit. */
  maxContext: number;
}

export const DEFAULT_SETTINGS: RetrieverSettings = {
  mode: "hybrid",
  candidates: 50,
  denseWeight: 0.5,
  ef: 128,
  duplicateCosine: 0.92,
  abstainBelow: 0.5,
  maxContext: 600,
};

/** One scored passage before excerpts are built. */
export interface Candidate {
  index: number;
  dense: number;
  /** BM25 normalised by the best BM25 score of this question (0 when not matched). */
  keyword: number;
  score: number;
}

/** Signals behind the answer/abstain decision, exposed for evaluation. */
export interface Evidence {
  topDense: number;
  topKeyword: number;
  /** Share of the question's weight (by word importance) that the best passages cover, softly. */
  coverage: number;
  score: number;
}

export class Retriever {
  readonly settings: RetrieverSettings;
  private readonly byArticle = new Map<string, Passage[]>();
  private readonly articleById = new Map<string, Article>();
  private readonly dim: number;

  constructor(
    readonly index: IndexData,
    private readonly embedder: Embedder,
    settings: Partial<RetrieverSettings> = {},
  ) {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
    this.dim = index.manifest.dimensions;
    for (const a of index.articles) {
      this.articleById.set(a.id, a);
      this.byArticle.set(a.id, []);
    }
    for (const p of index.passages) this.byArticle.get(p.articleId)!.push(p);
  }

  /** Scores candidates for a question, best first. */
  async rank(question: string, restrictTo?: (index: number) => boolean): Promise<{ candidates: Candidate[]; queryVector: Float32Array }> {
    const { mode, candidates: C, denseWeight } = this.settings;
    const [queryVector] = await this.embedder.embed([question]);
    const q = queryVector!;
    const n = this.index.passages.length;
    const scores = new Map<number, Candidate>();
    const get = (index: number) => {
      let c = scores.get(index);
      if (!c) scores.set(index, (c = { index, dense: this.cosine(q, index), keyword: 0, score: 0 }));
      return c;
    };
    if (n === 0) return { candidates: [], queryVector: q };

    if (mode !== "keyword" && q.some((x) => x !== 0)) {
      const k = Math.min(n, C);
      this.index.hnsw.setEf(Math.max(this.settings.ef, k));
      const res = this.index.hnsw.searchKnn(Array.from(q), k, restrictTo);
      for (const i of res.neighbors) get(i);
    }
    if (mode !== "dense") {
      const { hits } = this.index.keyword.query(question, restrictTo ? n : C);
      const filtered = restrictTo ? hits.filter((h) => restrictTo(h.index)).slice(0, C) : hits;
      const best = filtered[0]?.score ?? 0;
      for (const h of filtered) get(h.index).keyword = best > 0 ? h.score / best : 0;
    }
    for (const c of scores.values()) {
      const dense = Math.max(0, c.dense);
      c.score = mode === "dense" ? dense : mode === "keyword" ? c.keyword : denseWeight * dense + (1 - denseWeight) * c.keyword;
    }
    const ranked = [...scores.values()].sort((a, b) => b.score - a.score || a.index - b.index);
    return { candidates: ranked, queryVector: q };
  }

  /** How well the best passages cover the question: the abstain/answer evidence. */
  async evidence(question: string, ranked: Candidate[]): Promise<Evidence> {
    const top = ranked.slice(0, 5);
    if (top.length === 0) return { topDense: 0, topKeyword: 0, coverage: 0, score: 0 };
    const [qTokens, ...pTokens] = await this.embedder.embedTokens([question, ...top.map((c) => this.index.passages[c.index]!.text)]);
    // Soft coverage: each question word counts by its vector's length (the model's word weight)
    // and is covered by its most similar word in the passage.
    let coverage = 0;
    const qWords = (qTokens ?? []).map((v) => ({ v, w: norm(v) })).filter((t) => t.w > 0);
    const total = qWords.reduce((s, t) => s + t.w, 0);
    if (total > 0) {
      for (const passage of pTokens) {
        const pv = passage.map((v) => ({ v, w: norm(v) })).filter((t) => t.w > 0);
        let covered = 0;
        for (const t of qWords) {
          let best = 0;
          for (const u of pv) best = Math.max(best, dot(t.v, u.v) / (t.w * u.w));
          covered += t.w * softMatch(best);
        }
        coverage = Math.max(coverage, covered / total);
      }
    }
    const topDense = Math.max(...top.map((c) => c.dense));
    const topKeyword = Math.max(...top.map((c) => c.keyword));
    const score = coverage;
    return { topDense, topKeyword, coverage, score };
  }

  /** The cited answer to a question. */
  async answer(question: string, opts: AnswerOptions = {}): Promise<Answer & { evidence: Evidence }> {
    const limit = opts.limit ?? 3;
    const offset = opts.offset ?? 0;
    const { candidates } = await this.rank(question);
    const evidence = await this.evidence(question, candidates);
    const answered = candidates.length > 0 && evidence.score >= this.settings.abstainBelow;
    const excerpts = this.excerpts(candidates, offset + limit + 1);
    const hits = excerpts.slice(offset, offset + limit).map((h, i) => ({ ...h, rank: offset + i + 1 }));
    return { question, answered, hits, more: excerpts.length > offset + limit, evidence };
  }

  /** The best passage of one article for a query, with its context. */
  async searchArticle(articleId: string, query: string): Promise<Hit | undefined> {
    const own = this.byArticle.get(articleId);
    if (!own?.length) return undefined;
    const first = this.index.passages.indexOf(own[0]!);
    const last = first + own.length - 1;
    const { candidates } = await this.rank(query, (i) => i >= first && i <= last);
    const [hit] = this.excerpts(candidates.filter((c) => c.index >= first && c.index <= last), 1);
    return hit;
  }

  /** Passage n of an article, with its neighbours as context. */
  excerpt(articleId: string, n: number): Hit | undefined {
    const own = this.byArticle.get(articleId);
    const p = own?.[n];
    if (!p) return undefined;
    return this.buildHit(p.articleId, p.n, p.n, 1, 1);
  }

  passagesOf(articleId: string): Passage[] {
    return this.byArticle.get(articleId) ?? [];
  }

  /** Turns ranked candidates into up to `count` excerpts: windows, merged neighbours, no repeats. */
  excerpts(ranked: Candidate[], count: number): Hit[] {
    const chosen: Array<{ articleId: string; first: number; last: number; score: number; vectors: number[] }> = [];
    for (const c of ranked) {
      if (chosen.length >= count + 2) break;
      const p = this.index.passages[c.index]!;
      // A hit next to one already chosen joins that excerpt instead of repeating its context.
      const near = chosen.find((e) => e.articleId === p.articleId && p.n >= e.first - 1 && p.n <= e.last + 1);
      if (near) {
        if (near.last - near.first < 2) {
          near.first = Math.min(near.first, p.n);
          near.last = Math.max(near.last, p.n);
          near.vectors.push(c.index);
        }
        continue;
      }
      // Drop a passage that says what a chosen one already says (MMR-style redundancy check).
      if (chosen.some((e) => e.vectors.some((j) => this.cosineBetween(j, c.index) >= this.settings.duplicateCosine))) continue;
      chosen.push({ articleId: p.articleId, first: p.n, last: p.n, score: c.score, vectors: [c.index] });
    }
    return chosen.slice(0, count).map((e, i) => this.buildHit(e.articleId, e.first, e.last, i + 1, Math.min(1, e.score)));
  }

  private buildHit(articleId: string, first: number, last: number, rank: number, score: number): Hit {
    const article = this.articleById.get(articleId)!;
    const own = this.byArticle.get(articleId)!;
    const matched = own.slice(first, last + 1);
    const text = collapse(article.text.slice(matched[0]!.start, matched[matched.length - 1]!.end));
    // Grow the window one neighbour at a time (before, then after) while it fits.
    let lo = first;
    let hi = last;
    const fits = (a: number, b: number) => collapse(article.text.slice(own[a]!.start, own[b]!.end)).length <= this.settings.maxContext;
    for (let grew = true; grew; ) {
      grew = false;
      if (lo > 0 && lo >= first - 1 && fits(lo - 1, hi)) (lo--, (grew = true));
      if (hi < own.length - 1 && hi <= last && fits(lo, hi + 1)) (hi++, (grew = true));
    }
    let context = collapse(article.text.slice(own[lo]!.start, own[hi]!.end));
    let start = context.indexOf(text);
    if (context.length > this.settings.maxContext) {
      // A single sentence longer than the limit: shown trimmed at a word boundary.
      context = trimAtWord(text, this.settings.maxContext);
      start = 0;
    }
    const highlights = [{ start, end: Math.min(context.length, start + text.length) }];
    return {
      rank,
      text,
      context,
      highlights,
      score: Math.round(score * 1000) / 1000,
      article: {
        id: article.id,
        title: article.title,
        file: article.file,
        ...(article.url ? { url: article.url } : {}),
        ...(article.date ? { date: article.date } : {}),
        ...(article.source ? { source: article.source } : {}),
      },
      passageIds: matched.map((p) => p.id),
      position: { first, last, total: own.length },
    };
  }

  private cosine(q: Float32Array, index: number): number {
    const v = this.index.vectors;
    let s = 0;
    for (let d = 0, o = index * this.dim; d < this.dim; d++) s += q[d]! * v[o + d]!;
    return s;
  }

  private cosineBetween(a: number, b: number): number {
    const v = this.index.vectors;
    let s = 0;
    for (let d = 0; d < this.dim; d++) s += v[a * this.dim + d]! * v[b * this.dim + d]!;
    return s;
  }
}

/** Word similarity → how much it counts as "the same word": exact or near-synonym only. */
function softMatch(cos: number): number {
  if (cos >= 0.95) return 1;
  if (cos <= 0.45) return 0;
  return (cos - 0.45) / 0.5;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

export const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

function trimAtWord(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, "")}…`;
}

/** Content words of a question (for display and diagnostics). */
export const questionWords = (q: string) => words(q);
