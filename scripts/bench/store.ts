// Bench of the embedded store engine (src/store/fs) at N synthetic-but-realistic rows.
//
//   npx tsx scripts/bench/store.ts [--sizes 100k] [--questions 200]
//
// Rows. Real English sentences (the shipped corpus, test/fixtures, and the README.md files under
// node_modules/: prose, like the Debian documentation the scale bench uses) are embedded once with
// the default model (all-MiniLM-L6-v2, 384-d; cached in data/bench/store/). Row i then takes two
// real sentences a, b: vector = normalize(e_a + w·e_b + noise) (w uniform 0–0.6, Gaussian noise of
// norm ≈ 0.3), text = the first half of a's words + the second half of b's. The vectors spread
// between real sentence vectors instead of sitting in tight clusters around a few (plain jitter) or
// uniformly on the sphere (random vectors, far too easy for HNSW recall). 25 rows per article.
// Queries: the evaluation questions (test/eval dev + extra, in phrasing variants), embedded as queries.
//
// Steps run in their own processes (clean heap, own peak RSS): write (full replace), serve (open,
// RSS, dense and keyword latency, recall@10 against exact search at the shipped ef 256), update
// (one article changed, as `npm run index` would: a separate writer process), a delta near its
// largest (2,000 rows) and serving from it, and fold (the delta folded into the HNSW base).
// One step alone: --step write|serve|update|bigdelta|fold --n 100k --index <dir> --result <file.json>.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { splitSentences } from "../../src/corpus/split.js";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { FileStore } from "../../src/store/fs/store.js";
import { hashArticle } from "../../src/store/hash.js";
import type { ArticleRows, Changes } from "../../src/store/types.js";
import type { Article } from "../../src/types.js";
import { argValue, BENCH_DIR, log, machine, median, peakRss, percentile, ROOT, rng, round, runChild, variedQuestions, writeResult } from "./common.js";

const DIR = path.join(BENCH_DIR, "store");
const MODEL = "all-MiniLM-L6-v2";
const PER_ARTICLE = 25;
const META = { model: `bench-${MODEL}`, settingsHash: "bench" };
const sizeOf = (s: string) => Number(s.replace(/k$/i, "e3").replace(/m$/i, "e6"));

// ---------------------------------------------------------------------------------------------
// Data: real sentences embedded once; rows derived deterministically from them.

interface Base {
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

async function base(questions: number): Promise<Base> {
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
function row(b: Base, i: number, seed: number, out: Float32Array, at: number): string {
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
function articles(b: Base, first: number, count: number, seed: number, idPrefix = "art"): ArticleRows[] {
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

// ---------------------------------------------------------------------------------------------
// Steps (children)

const rss = () => process.memoryUsage().rss;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const MB = (x: number) => round(x / 2 ** 20, 1);

async function stepWrite(n: number, indexDir: string) {
  const b = await base(Number(argValue("--questions") ?? 200));
  rmSync(indexDir, { recursive: true, force: true });
  const t0 = performance.now();
  const rows = articles(b, 0, n, 1);
  const prepS = (performance.now() - t0) / 1000;
  const changes: Changes = { mode: "replace", ...META, dimensions: b.dim, upsert: rows, remove: [] };
  const stages: Record<string, number> = {};
  let last = performance.now();
  const store = new FileStore(indexDir, {
    onStage: (s) => {
      stages[s] = round((performance.now() - last) / 1000, 2);
      last = performance.now();
    },
  });
  const t1 = performance.now();
  const { stats } = await store.write(changes);
  const writeS = (performance.now() - t1) / 1000;
  await store.close();
  writeResult({ rows: n, prepS: round(prepS, 2), writeS: round(writeS, 2), stages, passages: stats.passagesWritten, peakRssMB: MB(peakRss()) });
}

async function stepServe(n: number, indexDir: string) {
  const questions = Number(argValue("--questions") ?? 200);
  const b = await base(questions);
  const queries = Array.from({ length: questions }, (_, i) => b.queryVectors.slice(i * b.dim, (i + 1) * b.dim));
  const texts = b.queries;
  gc();
  const rss0 = rss();
  const t0 = performance.now();
  const store = new FileStore(indexDir);
  const snap = (await store.current())!;
  const openS = (performance.now() - t0) / 1000;
  gc();
  const serveRss = rss() - rss0;
  // Warm-up, then timed rounds.
  for (const q of queries.slice(0, 20)) await snap.dense(q, 50);
  for (const t of texts.slice(0, 20)) await snap.keyword(t, 50);
  const dense: number[] = [];
  const keyword: number[] = [];
  const denseHits: number[][] = [];
  for (const q of queries) {
    const t = performance.now();
    const hits = await snap.dense(q, 50);
    dense.push(performance.now() - t);
    denseHits.push(hits.slice(0, 10).map((h) => h.id));
  }
  let matched = 0;
  for (const t of texts) {
    const s = performance.now();
    const { hits } = await snap.keyword(t, 50);
    keyword.push(performance.now() - s);
    matched += hits.length;
  }
  const vecT = performance.now();
  for (let i = 0; i < 20; i++) await snap.vectors(denseHits[i]!.concat(denseHits[i + 1]!, denseHits[i + 2]!, denseHits[i + 3]!, denseHits[i + 4]!));
  const vectorsMs = (performance.now() - vecT) / 20;
  // Exact top 10 over the snapshot's own live vectors (after an update, labels are no longer row numbers).
  const ids: number[] = [];
  for (const a of await snap.articles()) ids.push(...(await snap.passageIds(a.id)));
  const all = new Float32Array(ids.length * b.dim);
  (await snap.vectors(ids)).forEach((v, i) => all.set(v, i * b.dim));
  let found = 0;
  queries.forEach((q, qi) => {
    const nq = Math.hypot(...q);
    const scores = new Float32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      let s = 0;
      for (let d = 0; d < b.dim; d++) s += q[d]! * all[i * b.dim + d]!;
      scores[i] = s / nq;
    }
    const top = Array.from(scores.keys())
      .sort((x, y) => scores[y]! - scores[x]!)
      .slice(0, 10)
      .map((i) => ids[i]!);
    const got = new Set(denseHits[qi]!);
    found += top.filter((id) => got.has(id)).length;
  });
  await store.close();
  writeResult({
    rows: n,
    openS: round(openS, 3),
    serveRssMB: MB(serveRss),
    processRssMB: MB(rss()),
    denseP50: round(median(dense), 3),
    denseP95: round(percentile(dense, 95), 3),
    keywordP50: round(median(keyword), 3),
    keywordP95: round(percentile(keyword, 95), 3),
    keywordHitsAvg: round(matched / texts.length, 1),
    vectors50Ms: round(vectorsMs, 3),
    recallAt10: round(found / (10 * queries.length), 4),
    ef: 256,
  });
}

async function stepUpdate(n: number, indexDir: string, fold: boolean, count = PER_ARTICLE) {
  const b = await base(Number(argValue("--questions") ?? 200));
  // One article (25 sentences; `count` rows for the large-delta case) replaced by new versions: different sentences (seed 2, 3, 4).
  const target = Math.floor(n / PER_ARTICLE / 2) * PER_ARTICLE;
  const rows = articles(b, count === PER_ARTICLE ? target : PER_ARTICLE, count, fold ? 3 : count === PER_ARTICLE ? 2 : 4);
  gc();
  const rss0 = rss();
  const t0 = performance.now();
  const store = new FileStore(indexDir, fold ? { foldAt: 0 } : {});
  const { stats } = await store.write({ mode: "update", ...META, dimensions: b.dim, upsert: rows, remove: [] });
  const s = (performance.now() - t0) / 1000;
  const writerPeak = peakRss();
  await store.close();
  // A serving process then loads the new snapshot (what watch → reload costs).
  const t1 = performance.now();
  const reader = new FileStore(indexDir);
  await reader.current();
  const reloadS = (performance.now() - t1) / 1000;
  await reader.close();
  writeResult({
    rows: n,
    fold,
    seconds: round(s, 3),
    passagesWritten: stats.passagesWritten,
    passagesRemoved: stats.passagesRemoved,
    writerPeakRssMB: MB(writerPeak),
    writerRssBeforeMB: MB(rss0),
    reloadS: round(reloadS, 3),
  });
}

// ---------------------------------------------------------------------------------------------

const step = argValue("--step");
const sizes = (argValue("--sizes") ?? "100k").split(",");
if (step) {
  const n = sizeOf(argValue("--n")!);
  const indexDir = argValue("--index")!;
  if (step === "write") await stepWrite(n, indexDir);
  else if (step === "serve") await stepServe(n, indexDir);
  else if (step === "update") await stepUpdate(n, indexDir, false);
  else if (step === "fold") await stepUpdate(n, indexDir, true);
  // The delta near its largest (2,000 rows, just under FOLD_AT 2048): run `serve` after it for the worst-case dense latency.
  else if (step === "bigdelta") await stepUpdate(n, indexDir, false, 2000);
} else {
  const q = argValue("--questions") ?? "200";
  await base(Number(q));
  const report: Record<string, unknown> = { machine: machine(), model: MODEL };
  for (const size of sizes) {
    const indexDir = path.join(DIR, `index-${size}`);
    const args = (s: string) => ["--step", s, "--n", size, "--index", indexDir, "--questions", q];
    const script = path.join(ROOT, "scripts", "bench", "store.ts");
    log(`${size}: full write`);
    const write = await runChild(script, args("write"), { label: `store-write-${size}` });
    log(`${size}: serve`);
    const serve = await runChild(script, args("serve"), { label: `store-serve-${size}`, nodeArgs: ["--expose-gc"] });
    log(`${size}: one-article update`);
    const update = await runChild(script, args("update"), { label: `store-update-${size}`, nodeArgs: ["--expose-gc"] });
    log(`${size}: serve after the update (base + delta)`);
    const serve2 = await runChild(script, args("serve"), { label: `store-serve2-${size}`, nodeArgs: ["--expose-gc"] });
    log(`${size}: a delta near its largest (2,000 rows), then serve`);
    const bigDelta = await runChild(script, args("bigdelta"), { label: `store-bigdelta-${size}`, nodeArgs: ["--expose-gc"] });
    const serve3 = await runChild(script, args("serve"), { label: `store-serve3-${size}`, nodeArgs: ["--expose-gc"] });
    log(`${size}: fold the delta into the base`);
    const fold = await runChild(script, args("fold"), { label: `store-fold-${size}`, nodeArgs: ["--expose-gc"] });
    report[size] = { write, serve, update, serveAfterUpdate: serve2, bigDelta, serveBigDelta: serve3, fold };
    console.log(JSON.stringify({ [size]: report[size] }, null, 1));
  }
  writeFileSync(path.join(DIR, "report.json"), JSON.stringify(report, null, 1));
  console.log(`report: ${path.relative(ROOT, path.join(DIR, "report.json"))}`);
}
