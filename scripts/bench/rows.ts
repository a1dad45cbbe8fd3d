// The scale benches' rows: N synthetic-but-realistic sentences with their 384-d vectors, derived
// from ~6,000 real sentences embedded once (shared by scripts/bench/store.ts, the scale section of
// `npm run bench`, and bench/peer/store-peer.ts).
//
// Real English sentences (the shipped corpus, test/fixtures, and the README.md files under
// node_modules/: prose, like the Debian documentation the scale bench used) are embedded once with
// all-MiniLM-L6-v2 (384-d; cached in data/bench/store/). Row i then takes two real sentences a, b:
// vector = normalize(e_a + w·e_b + noise) (w uniform 0–0.6, Gaussian noise of norm ≈ 0.3), text =
// the first half of a's words + the second half of b's. The vectors spread between real sentence
// vectors instead of sitting in tight clusters around a few (plain jitter) or uniformly on the
// sphere (random vectors, far too easy for HNSW recall). 25 rows per article. Embedding 1M real
// sentences would take ~48 min to hours here; derived rows stand in for cached embeddings.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { splitSentences } from "../../src/corpus/split.js";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { hashArticle } from "../../src/store/hash.js";
import type { ArticleRows } from "../../src/store/types.js";
import type { Article } from "../../src/types.js";
import { BENCH_DIR, log, ROOT, rng, round, variedQuestions } from "./common.js";

/** Where the embedded real sentences (and the store bench's indexes) live. */
export const DIR = path.join(BENCH_DIR, "store");
/** The model whose vectors the rows are made of (384-d). */
export const MODEL = "all-MiniLM-L6-v2";
export const PER_ARTICLE = 25;
/** "100k" → 100000, "1m" → 1000000. */
export const sizeOf = (s: string) => Number(s.replace(/k$/i, "e3").replace(/m$/i, "e6"));

export interface Base {
  texts: string[];
  vectors: Float32Array;
  dim: number;
  queries: string[];
  queryVectors: Float32Array;
}

function realSentences(limit: number): string[] {
  const files: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth > 0) walk(p, depth - 1);
      else if (e.isFile() && /\.(txt|md)$/i.test(e.name)) files.push(p);
    }
  };
  walk(path.join(ROOT, "corpus"), 0);
  walk(path.join(ROOT, "test", "fixtures"), 1);
  walk(path.join(ROOT, "node_modules"), 2);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of files.sort()) {
    const text = readFileSync(f, "utf8")
      .replace(/```[\s\S]*?```/g, " ")
      .replace(/[#>*`|[\]()_]+/g, " ");
    for (const s of splitSentences(text)) {
      const t = s.text.replace(/\s+/g, " ").trim();
      const words = t.split(" ").length;
      if (t.length < 40 || t.length > 300 || words < 7 || /https?:|[{}<>=;]/.test(t) || seen.has(t)) continue;
      seen.add(t);
      out.push(t);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export async function base(questions: number): Promise<Base> {
  // Texts as JSON, vectors as raw float32 (a JSON array of 2.3M numbers would dominate the steps' peak RSS).
  const file = path.join(DIR, `base-${MODEL}.json`);
  const bin = path.join(DIR, `base-${MODEL}.f32`);
  if (existsSync(file) && existsSync(bin)) {
    const j = JSON.parse(readFileSync(file, "utf8")) as { texts: string[]; queries: string[]; dim: number };
    if (j.queries.length >= questions) {
      const raw = readFileSync(bin);
      const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const split = j.texts.length * j.dim;
      return {
        texts: j.texts,
        vectors: all.subarray(0, split),
        dim: j.dim,
        queries: j.queries.slice(0, questions),
        queryVectors: all.subarray(split, split + questions * j.dim),
      };
    }
  }
  const texts = realSentences(6000);
  const queries = variedQuestions(questions);
  log(`embedding ${texts.length} real sentences and ${queries.length} questions with ${MODEL} (cached afterwards)`);
  const embedder = await TransformersEmbedder.load({ model: MODEL });
  const t0 = performance.now();
  const vecs = await embedder.embed(texts);
  const qv = await embedder.embed(queries, { kind: "query" });
  log(`embedded in ${round((performance.now() - t0) / 1000, 1)} s`);
  const dim = embedder.dimensions;
  const all = new Float32Array((vecs.length + qv.length) * dim);
  [...vecs, ...qv].forEach((v, i) => all.set(v, i * dim));
  mkdirSync(DIR, { recursive: true });
  writeFileSync(bin, new Uint8Array(all.buffer));
  writeFileSync(file, JSON.stringify({ texts, dim, queries }));
  return { texts, vectors: all.subarray(0, vecs.length * dim), dim, queries, queryVectors: all.subarray(vecs.length * dim) };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Row i's text and vector (deterministic in i and the seed). */
export function row(b: Base, i: number, seed: number, out: Float32Array, at: number): string {
  const r = rng(seed * 1_000_003 + i);
  const S = b.texts.length;
  const a = Math.floor(r() * S);
  const c = Math.floor(r() * S);
  const w = r() * 0.6;
  const sigma = 0.3 / Math.sqrt(b.dim);
  let sq = 0;
  for (let d = 0; d < b.dim; d++) {
    const x = b.vectors[a * b.dim + d]! + w * b.vectors[c * b.dim + d]! + sigma * gauss(r);
    out[at + d] = x;
    sq += x * x;
  }
  const n = Math.sqrt(sq);
  for (let d = 0; d < b.dim; d++) out[at + d]! /= n;
  const wa = b.texts[a]!.split(" ");
  const wc = b.texts[c]!.split(" ");
  return `${wa.slice(0, Math.ceil(wa.length / 2)).join(" ")} ${wc.slice(Math.floor(wc.length / 2)).join(" ")}`;
}

/** Articles of PER_ARTICLE rows, from row `first` on. */
export function articles(b: Base, first: number, count: number, seed: number, idPrefix = "art"): ArticleRows[] {
  const out: ArticleRows[] = [];
  for (let s = first; s < first + count; s += PER_ARTICLE) {
    const n = Math.min(PER_ARTICLE, first + count - s);
    const vectors = new Float32Array(n * b.dim);
    const sentences: string[] = [];
    for (let k = 0; k < n; k++) sentences.push(row(b, s + k, seed, vectors, k * b.dim));
    const id = `${idPrefix}${Math.floor(s / PER_ARTICLE)}`;
    let at = 0;
    const passages = sentences.map((text, k) => {
      const p = { id: `${id}#${k}`, articleId: id, n: k, text, start: at, end: at + text.length };
      at += text.length + 1;
      return p;
    });
    const article: Article = { id, title: `Article ${id}`, file: `${id}.txt`, text: sentences.join(" ") };
    out.push({ article, hash: hashArticle(article), passages, vectors });
  }
  return out;
}
