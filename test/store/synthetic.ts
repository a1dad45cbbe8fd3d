// Synthetic articles for the store tests: deterministic sentences from a small vocabulary, and a
// fake embedder that gives each sentence text its own unit vector (same text → same vector, as a
// real model does), so a rebuild and an incremental update see the same vectors.
import { createHash } from "node:crypto";
import { splitArticle } from "../../src/corpus/split.js";
import { hashArticle } from "../../src/store/hash.js";
import type { ArticleRows, Changes } from "../../src/store/types.js";
import type { Article } from "../../src/types.js";

export const DIM = 16;
const WORDS =
  "treaty missile envoy geneva summit talks arms control cyber security nuclear delegation minister spokesman ceasefire budget council vote harbour stadium football league striker goal vaccine trial patients hospital earnings revenue quarter shares planning housing tower".split(
    " ",
  );

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function makeArticle(id: string, sentences: number, seed: number): Article {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) {
    const n = 5 + Math.floor(r() * 8);
    const ws = Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]!);
    ws[0] = ws[0]!.charAt(0).toUpperCase() + ws[0]!.slice(1);
    out.push(`${ws.join(" ")} ${id.replace(/\W/g, "")}x${i}.`);
  }
  return { id, title: `Article ${id}`, file: `${id}.txt`, date: "2021-07-08", text: out.join(" ") };
}

/** A unit vector for a text: the same text always gives the same vector. */
export function vectorOf(text: string, dim = DIM): Float32Array {
  const seed = createHash("sha1").update(text).digest().readUInt32LE(0);
  const r = rng(seed);
  const v = new Float32Array(dim);
  for (let d = 0; d < dim; d++) v[d] = r() * 2 - 1;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export function rowsOf(articles: Article[], dim = DIM): ArticleRows[] {
  return articles.map((article) => {
    const passages = splitArticle(article);
    const vectors = new Float32Array(passages.length * dim);
    passages.forEach((p, i) => vectors.set(vectorOf(p.text, dim), i * dim));
    return { article, hash: hashArticle(article), passages, vectors };
  });
}

export const META = { model: "fake@1", dimensions: DIM, settingsHash: "s1" };

export function changes(mode: "replace" | "update", upsert: Article[], remove: string[] = []): Changes {
  return { mode, ...META, upsert: rowsOf(upsert), remove };
}

export function corpus(n: number, sentences = 8, seed = 1): Article[] {
  return Array.from({ length: n }, (_, i) => makeArticle(`a${String(i).padStart(3, "0")}`, sentences, seed * 1000 + i));
}
