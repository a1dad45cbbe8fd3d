// Late interaction (ColBERT-style MaxSim) over the model's own token vectors: each question token
// finds its best match among a text's tokens, and the text scores the mean of those best cosines.
// Token vectors are recomputed for the short list of candidates and kept in an LRU cache, so the
// index stores one vector per sentence however large the corpus grows.
import path from "node:path";
import { AutoTokenizer, type PreTrainedTokenizer } from "@huggingface/transformers";
import type { Embedder } from "../embed/embedder.js";
import { isStopWord } from "./keyword.js";

/** A text's token vectors, unit length, row after row, and their mean (the pooled text vector). */
export interface TokenMatrix {
  rows: number;
  data: Float32Array;
  /** Mean of the raw token vectors, L2-normalised: what the model's mean pooling gives. */
  pooled: Float32Array;
  /** How much each row counts as a question token (undefined: all equally). */
  weights?: Float32Array;
  /** Which content word of the question each row belongs to (-1: none), when the tokens were lined up with words. */
  words?: Int32Array;
  /** Those content words' text (lower case, pieces joined), indexed as in `words`. */
  wordTexts?: string[];
}

/** Token vectors of texts through the embedder, as unit rows plus the pooled vector. */
export async function tokenMatrices(embedder: Embedder, texts: string[]): Promise<TokenMatrix[]> {
  const dim = embedder.dimensions;
  const all = await embedder.embedTokens(texts);
  return all.map((tokens) => {
    const data = new Float32Array(tokens.length * dim);
    const pooled = new Float32Array(dim);
    tokens.forEach((t, r) => {
      let n = 0;
      for (let d = 0; d < dim; d++) (n += t[d]! * t[d]!), (pooled[d]! += t[d]!);
      n = Math.sqrt(n);
      if (n > 0) for (let d = 0; d < dim; d++) data[r * dim + d] = t[d]! / n;
    });
    let p = 0;
    for (let d = 0; d < dim; d++) p += pooled[d]! * pooled[d]!;
    p = Math.sqrt(p);
    if (p > 0) for (let d = 0; d < dim; d++) pooled[d]! /= p;
    return { rows: tokens.length, data, pooled };
  });
}

/** Weighted mean over the question's tokens of the best cosine with any of the text's tokens (0 when either is empty). */
export function maxSim(q: TokenMatrix, doc: TokenMatrix, dim: number): number {
  return lateScores(q, doc, dim).mean;
}

/**
 * Each question row's best cosine with any of the text's rows (ColBERT's MaxSim per row), for the
 * rows late interaction or focus use (weighted, or in a content word); NaN for the others, -1 for
 * all when the text has no rows. One pass shared by lateScores and wordSimilarities. Four question
 * rows against two text rows at once: each cosine is still summed in the same order, only eight run
 * side by side.
 */
export function bestCosines(q: TokenMatrix, doc: TokenMatrix, dim: number): Float64Array {
  const best = new Float64Array(q.rows).fill(Number.NaN);
  const rows: number[] = [];
  for (let i = 0; i < q.rows; i++) if ((q.weights ? q.weights[i] !== 0 : true) || (q.words !== undefined && q.words[i]! >= 0)) rows.push(i);
  const qd = q.data;
  const dd = doc.data;
  const n = doc.rows;
  // Question rows four at a time (the last group repeats its last row), text rows two at a time.
  for (let k = 0; k < rows.length; k += 4) {
    const r0 = rows[k]!;
    const r1 = rows[Math.min(k + 1, rows.length - 1)]!;
    const r2 = rows[Math.min(k + 2, rows.length - 1)]!;
    const r3 = rows[Math.min(k + 3, rows.length - 1)]!;
    const [a0, a1, a2, a3] = [r0 * dim, r1 * dim, r2 * dim, r3 * dim];
    let b0 = -1;
    let b1 = -1;
    let b2 = -1;
    let b3 = -1;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const o = j * dim;
      const p = o + dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = dd[o + d]!;
        const y = dd[p + d]!;
        const u0 = qd[a0 + d]!;
        const u1 = qd[a1 + d]!;
        const u2 = qd[a2 + d]!;
        const u3 = qd[a3 + d]!;
        s0 += u0 * x;
        s1 += u1 * x;
        s2 += u2 * x;
        s3 += u3 * x;
        t0 += u0 * y;
        t1 += u1 * y;
        t2 += u2 * y;
        t3 += u3 * y;
      }
      if (s0 > b0) b0 = s0;
      if (t0 > b0) b0 = t0;
      if (s1 > b1) b1 = s1;
      if (t1 > b1) b1 = t1;
      if (s2 > b2) b2 = s2;
      if (t2 > b2) b2 = t2;
      if (s3 > b3) b3 = s3;
      if (t3 > b3) b3 = t3;
    }
    if (j < n) {
      const o = j * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = dd[o + d]!;
        s0 += qd[a0 + d]! * x;
        s1 += qd[a1 + d]! * x;
        s2 += qd[a2 + d]! * x;
        s3 += qd[a3 + d]! * x;
      }
      if (s0 > b0) b0 = s0;
      if (s1 > b1) b1 = s1;
      if (s2 > b2) b2 = s2;
      if (s3 > b3) b3 = s3;
    }
    best[r0] = b0;
    best[r1] = b1;
    best[r2] = b2;
    best[r3] = b3;
  }
  return best;
}

/**
 * Late interaction of a question with a text: `mean`, the (weighted) mean over the question's
 * tokens of each one's best cosine with the text's tokens; `weakest`, the least-matched content
 * word of the question (the mean over its pieces), which is what is missing when a text is about
 * the question's topic but not the detail it asks for. Both 0 when either side is empty.
 */
export function lateScores(q: TokenMatrix, doc: TokenMatrix, dim: number, best: Float64Array = bestCosines(q, doc, dim)): { mean: number; weakest: number } {
  if (q.rows === 0 || doc.rows === 0) return { mean: 0, weakest: 0 };
  let sum = 0;
  let total = 0;
  const kept = new Float32Array(q.rows);
  for (let i = 0; i < q.rows; i++) {
    const w = q.weights ? q.weights[i]! : 1;
    if (w === 0) continue;
    total += w;
    kept[i] = best[i]!;
    sum += w * best[i]!;
  }
  const mean = total > 0 ? sum / total : 0;
  if (!q.words) return { mean, weakest: mean };
  const per = new Map<number, { s: number; n: number }>();
  for (let i = 0; i < q.rows; i++) {
    const g = q.words[i]!;
    if (g < 0) continue;
    const e = per.get(g) ?? { s: 0, n: 0 };
    e.s += kept[i]!;
    e.n++;
    per.set(g, e);
  }
  let weakest = per.size ? Infinity : mean;
  for (const { s, n } of per.values()) weakest = Math.min(weakest, s / n);
  return { mean, weakest };
}

const tokenizers = new WeakMap<Embedder, Promise<PreTrainedTokenizer | undefined>>();

/** The embedder's tokenizer (loaded once, from the same model folder or cache), undefined when it can't be loaded. */
function tokenizerOf(embedder: Embedder): Promise<PreTrainedTokenizer | undefined> {
  let t = tokenizers.get(embedder);
  if (!t) {
    // Never from the network: the model's own folder (or the hub cache the embedder filled).
    t = AutoTokenizer.from_pretrained(path.basename(embedder.modelId), { local_files_only: true }).catch(() => undefined);
    tokenizers.set(embedder, t);
  }
  return t;
}

/**
 * Marks the question's content tokens: the pieces of words that are not stop words. "what did …
 * say about" matches every sentence a little, and with every token counted it drowns the words
 * that say what the question is about. All tokens count when the tokens can't be lined up.
 */
export async function markContentTokens(embedder: Embedder, text: string, m: TokenMatrix): Promise<TokenMatrix> {
  const tokenizer = await tokenizerOf(embedder);
  if (!tokenizer) return m;
  const pieces = tokenizer.tokenize(text);
  // The model's rows are the pieces, plus special tokens at both ends ([CLS] … [SEP]) or none.
  const specials = m.rows - pieces.length;
  if (specials !== 0 && specials !== 2) return m;
  const offset = specials / 2;
  const weights = new Float32Array(m.rows);
  const words = new Int32Array(m.rows).fill(-1);
  const wordTexts: string[] = [];
  let word = "";
  let start = 0;
  let count = 0;
  let previous = "";
  const close = (end: number) => {
    // The word after "how" says the question's form ("how many", "how long"), not what it is about.
    const content = /[\p{L}\p{N}]/u.test(word) && !isStopWord(word.toLowerCase()) && word !== "[UNK]" && previous !== "how";
    previous = word.toLowerCase();
    for (let i = start; i < end; i++) (weights[offset + i] = content ? 1 : 0), (words[offset + i] = content ? count : -1);
    if (content) (wordTexts[count] = word.toLowerCase()), count++;
  };
  pieces.forEach((p, i) => {
    if (p.startsWith("##")) word += p.slice(2);
    else {
      if (i > 0) close(i);
      word = p;
      start = i;
    }
  });
  if (pieces.length) close(pieces.length);
  return weights.some((w) => w > 0) ? { ...m, weights, words, wordTexts } : m;
}

/**
 * What the token cache holds by default: 48 MiB of token vectors (~32k rows of 384-d, the windows of
 * ~140 questions: enough for "More" pages, follow-ups and repeated questions). It used to hold
 * 200,000 rows whatever their width: 307 MB at 384-d, which a bot serving 1M sentences would
 * reach in a few hundred questions, on top of its index.
 */
const TOKEN_CACHE_BYTES = 48 * 2 ** 20;

/** Token matrices by key, least recently used dropped first once the cache holds `maxTokens` token rows. */
export class TokenCache {
  private readonly entries = new Map<string, TokenMatrix>();
  private tokens = 0;

  constructor(
    private readonly embedder: Embedder,
    /** Default: TOKEN_CACHE_BYTES worth of rows at the embedder's dimensions. */
    private readonly maxTokens = Math.max(1000, Math.floor(TOKEN_CACHE_BYTES / (4 * Math.max(1, embedder.dimensions)))),
  ) {}

  /** The matrices of `texts` (keyed by `keys`), embedding only the ones not cached, in one model call. */
  async get(keys: string[], texts: string[]): Promise<TokenMatrix[]> {
    const missing: number[] = [];
    keys.forEach((k, i) => {
      const hit = this.entries.get(k);
      if (hit) {
        // Move to the most recently used end.
        this.entries.delete(k);
        this.entries.set(k, hit);
      } else if (!missing.some((j) => keys[j] === k)) missing.push(i);
    });
    if (missing.length) {
      const made = await tokenMatrices(
        this.embedder,
        missing.map((i) => texts[i]!),
      );
      missing.forEach((i, k) => {
        this.entries.set(keys[i]!, made[k]!);
        this.tokens += made[k]!.rows;
      });
      for (const [k, m] of this.entries) {
        if (this.tokens <= this.maxTokens || this.entries.size <= keys.length) break;
        this.entries.delete(k);
        this.tokens -= m.rows;
      }
    }
    return keys.map((k) => this.entries.get(k)!);
  }

  get size(): number {
    return this.entries.size;
  }

  /** How many token rows it holds at most. */
  get maxRows(): number {
    return this.maxTokens;
  }

  clear(): void {
    this.entries.clear();
    this.tokens = 0;
  }
}
