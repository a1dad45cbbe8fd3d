// PostgreSQL + pgvector store (src/store/pg) against the exact in-memory reference (MemorySnapshot)
// at --rows passages (default 100k):
//
//   npx tsx scripts/bench/pg.ts [--rows 100000] [--queries 200] [--ef-construction 128] [--json out.json]
//
// Uses DATABASE_URL's server, or starts one from the pinned wheel (scripts/pg/server.ts) and
// stops it at the end (also on Ctrl+C). The rows are synthetic, shaped like real ones:
// - words: each passage is 8–30 words drawn with Zipf's law (exponent 1) from the GloVe model's
//   110k-word vocabulary (models/glove-sif-100d, ordered by frequency in news text), so document
//   frequencies fall off as in real text;
// - vectors: the default model's (384-d) real embeddings of every sentence the repository ships
//   (corpus/, test/fixtures/) and of the evaluation sets' questions and answers (test/eval/), two
//   at a time summed, plus Gaussian
//   noise (σ 0.025 per dimension), re-normalised: a continuum between real embeddings, not clusters.
//   Words and vectors are not related (only speed and recall are measured, not answer quality).
// Dense queries: the evaluation questions' embeddings and fresh blends, half each; keyword queries:
// the evaluation questions in several phrasings and questions made of a few words of random
// passages (scripts/bench/common.ts questionsFromPassages), half each.
//
// Prints: write seconds (PgStore: one transaction with the HNSW build; memory: construction),
// dense and keyword p50/p95 (k 50, the retriever's candidates), recall@10 of the PostgreSQL dense
// search against exact search, keyword top-10 agreement, 4 concurrent clients (each its own
// connection) p50/p95 and throughput, one-article update seconds, and the server's memory (PSS of
// its processes) and size on disk.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadCoreConfig } from "../../src/config.js";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { modelKey } from "../../src/index/settings.js";
import { hashArticle } from "../../src/store/hash.js";
import { MemorySnapshot } from "../../src/store/memory.js";
import { keywordPaths } from "../../src/store/pg/keyword.js";
import { PG_EF_SEARCH, PG_HNSW, PgStore } from "../../src/store/pg/store.js";
import type { ArticleRows, Snapshot } from "../../src/store/types.js";
import type { Article, Passage } from "../../src/types.js";
import { startPgServer } from "../pg/server.js";
import { argValue, median, percentile, questionsFromPassages, ROOT, readQuestions, rng, round, SHIPPED_CORPUS, variedQuestions } from "./common.js";
import { runClients, schemaSizes, serverPssMb } from "./pg-common.js";

const ROWS = Number(argValue("--rows") ?? 100_000);
const QUERIES = Number(argValue("--queries") ?? 200);
const JSON_OUT = argValue("--json");
const EF_CONSTRUCTION = argValue("--ef-construction");
const K = 50;
const PER_ARTICLE = 20;
const SIGMA = 0.025;
/** Its own schema, dropped at the end (also on a DATABASE_URL server). */
const SCHEMA = "citebot_bench";

const say = (msg: string) => process.stderr.write(`${msg}\n`);
const ms = (t0: number) => performance.now() - t0;

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** normalise(a + b + σ·noise) into out[at…]: a point between two real embeddings, jittered. */
function blend(a: Float32Array, b: Float32Array | undefined, r: () => number, out: Float32Array, at: number): void {
  let n = 0;
  for (let d = 0; d < a.length; d++) {
    const x = a[d]! + (b ? b[d]! : 0) + SIGMA * gaussian(r);
    out[at + d] = x;
    n += x * x;
  }
  n = Math.sqrt(n);
  for (let d = 0; d < a.length; d++) out[at + d]! /= n;
}

/** Words of the GloVe vocabulary, most frequent first (letters only). */
function vocabulary(): string[] {
  const tokenizer = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "glove-sif-100d", "tokenizer.json"), "utf8")) as {
    model: { vocab: Record<string, number> };
  };
  return Object.entries(tokenizer.model.vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([w]) => w)
    .filter((w) => /^[a-z]+$/.test(w));
}

/** A sampler of ranks 0…n−1 with P(r) ∝ 1/(r+1) (inverse CDF over the harmonic numbers). */
function zipf(n: number, r: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1);
  return () => {
    const x = r() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** ROWS synthetic passages in articles of PER_ARTICLE (see the header). */
function makeRows(words: string[], vectors: Float32Array[], dim: number): ArticleRows[] {
  const r = rng(42);
  const word = zipf(words.length, r);
  const rows: ArticleRows[] = [];
  for (let a = 0; a * PER_ARTICLE < ROWS; a++) {
    const count = Math.min(PER_ARTICLE, ROWS - a * PER_ARTICLE);
    const id = `bench-${String(a).padStart(6, "0")}`;
    const texts: string[] = [];
    const vecs = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const length = 8 + Math.floor(r() * 23);
      const sentence = Array.from({ length }, () => words[word()]!).join(" ");
      texts.push(`${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`);
      blend(vectors[Math.floor(r() * vectors.length)]!, vectors[Math.floor(r() * vectors.length)], r, vecs, i * dim);
    }
    const text = texts.join(" ");
    let start = 0;
    const passages: Passage[] = texts.map((t, n) => {
      const p = { id: `${id}#${n}`, articleId: id, n, text: t, start, end: start + t.length };
      start += t.length + 1;
      return p;
    });
    const article: Article = { id, title: `Bench article ${a}`, file: `${id}.txt`, text };
    rows.push({ article, hash: hashArticle(article), passages, vectors: vecs });
  }
  return rows;
}

/** Latencies (ms) of running `fn` on every item, after a warm-up on the first 20. */
async function timed<T>(items: T[], fn: (x: T) => Promise<unknown>): Promise<number[]> {
  for (const x of items.slice(0, 20)) await fn(x);
  const out: number[] = [];
  for (const x of items) {
    const t0 = performance.now();
    await fn(x);
    out.push(ms(t0));
  }
  return out;
}

const stats = (xs: number[]) => ({ p50: round(median(xs), 2), p95: round(percentile(xs, 95), 2) });

async function main(): Promise<void> {
  const server = await startPgServer();
  // Ctrl+C or a kill still stops the server this started.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      server.stop().finally(() => process.exit(130));
    });
  }
  const stores: PgStore[] = [];
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "citebot-bench-pg-"));
  try {
    say(`server: ${server.external ? "DATABASE_URL" : `local pgserver in ${server.dataDir}`}`);
    const embedder = await TransformersEmbedder.load({ model: loadCoreConfig({}).EMBED_MODEL, cacheDir: cacheDir });
    const dim = embedder.dimensions;
    const sentences: string[] = [];
    for (const dir of [SHIPPED_CORPUS, path.join(ROOT, "test", "fixtures", "extra-corpus"), path.join(ROOT, "test", "fixtures", "kinds-corpus")]) {
      for (const a of (await loadCorpus(dir)).articles) sentences.push(...splitArticle(a).map((p) => p.text));
    }
    // Every question set's questions and answers: more real vectors to blend.
    for (const f of fs.readdirSync(path.join(ROOT, "test", "eval")).filter((f) => f.endsWith(".jsonl"))) {
      for (const line of fs
        .readFileSync(path.join(ROOT, "test", "eval", f), "utf8")
        .split("\n")
        .filter(Boolean)) {
        const item = JSON.parse(line) as { question: string; answers?: string[] };
        sentences.push(item.question, ...(item.answers ?? []));
      }
    }
    const evalQuestions = readQuestions();
    say(`embedding ${sentences.length} shipped sentences, questions and answers and ${evalQuestions.length} questions (${embedder.modelId}, ${dim}-d)…`);
    const realVectors = [...(await embedder.embed(sentences)), ...(await embedder.embed(evalQuestions))];
    const questionVectors = realVectors.slice(sentences.length);
    await embedder.close();

    const rows = makeRows(vocabulary(), realVectors, dim);
    const texts = rows.flatMap((row) => row.passages.map((p) => p.text));
    const fromPassages = questionsFromPassages(texts, Math.ceil(QUERIES / 2), 11);
    const phrased = variedQuestions(QUERIES - fromPassages.length, evalQuestions);
    const questions = fromPassages.flatMap((q, i) => (phrased[i] ? [q, phrased[i]] : [q]));
    const meta = { model: modelKey(embedder), dimensions: dim, settingsHash: "bench" };
    const r = rng(7);
    const denseQueries: Float32Array[] = [];
    for (let i = 0; i < QUERIES; i++) {
      if (i % 2 === 0) denseQueries.push(questionVectors[(i / 2) % questionVectors.length]!);
      else {
        const v = new Float32Array(dim);
        blend(realVectors[Math.floor(r() * realVectors.length)]!, realVectors[Math.floor(r() * realVectors.length)], r, v, 0);
        denseQueries.push(v);
      }
    }

    say(`memory: building the reference over ${ROWS} passages…`);
    const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    let t0 = performance.now();
    const ref = new MemorySnapshot(rows, meta);
    const memoryBuild = ms(t0) / 1000;
    const memoryMb = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heap0) / 2 ** 20;

    if (EF_CONSTRUCTION) PG_HNSW.efConstruction = Number(EF_CONSTRUCTION);
    say("postgres: writing (one transaction, HNSW built after the rows)…");
    const store = await PgStore.open({ url: server.url, schema: SCHEMA, maxConnections: 1 });
    stores.push(store);
    t0 = performance.now();
    const { snapshot: pgSnap } = await store.write({ mode: "replace", ...meta, upsert: rows, remove: [] });
    const pgWrite = ms(t0) / 1000;
    // Autovacuum would do this soon after; it sets the visibility map that index-only scans need.
    t0 = performance.now();
    await store.pool.query("VACUUM ANALYZE passages, postings, terms");
    const vacuum = ms(t0) / 1000;

    say("dense and keyword latency…");
    const dense = async (s: Snapshot) => stats(await timed(denseQueries, (q) => s.dense(q, K)));
    const keyword = async (s: Snapshot) => stats(await timed(questions, (q) => s.keyword(q, K)));
    const memDense = await dense(ref);
    const pgDense = await dense(pgSnap);
    const memKeyword = await keyword(ref);
    const paths0 = { ...keywordPaths };
    const pgKeyword = await keyword(pgSnap);
    const paths = Object.fromEntries(Object.entries(keywordPaths).map(([k, v]) => [k, v - paths0[k as keyof typeof paths0]]));

    let recall = 0;
    for (const q of denseQueries) {
      const exact = new Set((await ref.dense(q, 10)).map((h) => h.id));
      recall += (await pgSnap.dense(q, 10)).filter((h) => exact.has(h.id)).length / 10;
    }
    recall /= denseQueries.length;
    let sameTop10 = 0;
    for (const q of questions) {
      const [a, b] = [await pgSnap.keyword(q, 10), await ref.keyword(q, 10)];
      if (a.hits.map((h) => h.id).join() === b.hits.map((h) => h.id).join()) sameTop10++;
    }

    say("4 concurrent clients (each its own connection): dense + keyword per question…");
    const perClient = Math.max(25, Math.floor(QUERIES / 2));
    const question = async (s: Snapshot, i: number) => {
      await s.dense(denseQueries[i % denseQueries.length]!, K);
      await s.keyword(questions[i % questions.length]!, K);
    };
    const run = await runClients(server.url, SCHEMA, 4, perClient, question);
    stores.push(...run.stores);
    const { latencies } = run;
    const concurrentWall = run.wallS;
    const single = stats(run.single);

    say("one-article update…");
    const changed = rows[Math.floor(rows.length / 2)]!;
    const edited: ArticleRows = {
      ...changed,
      article: { ...changed.article, text: `${changed.article.text} Added.` },
      passages: [...changed.passages, { ...changed.passages[0]!, id: `${changed.article.id}#${changed.passages.length}`, n: changed.passages.length }],
      vectors: Float32Array.from([...changed.vectors, ...changed.vectors.subarray(0, dim)]),
    };
    edited.hash = hashArticle(edited.article);
    t0 = performance.now();
    await store.write({ mode: "update", ...meta, upsert: [edited], remove: [] });
    const update = ms(t0) / 1000;

    const { tables: sizes, hnswMb } = await schemaSizes(store.pool, SCHEMA);
    const version = (
      await store.pool.query<{ v: string; e: string }>("SELECT version() AS v, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS e")
    ).rows[0]!;
    const pss = serverPssMb(server.dataDir);

    const result = {
      rows: ROWS,
      dimensions: dim,
      queries: QUERIES,
      k: K,
      server: `${version.v.split(" ").slice(0, 2).join(" ")}, pgvector ${version.e}, HNSW m ${PG_HNSW.m} ef_construction ${PG_HNSW.efConstruction}, ef_search ${PG_EF_SEARCH}`,
      write_s: { postgres: round(pgWrite, 1), memory: round(memoryBuild, 1), postgres_vacuum_analyze: round(vacuum, 1) },
      dense_ms: { postgres: pgDense, memory: memDense },
      keyword_ms: { postgres: pgKeyword, memory: memKeyword },
      recall_at_10: round(recall, 4),
      keyword_top10_identical: round(sameTop10 / questions.length, 3),
      keyword_paths: paths,
      concurrent_4_clients: {
        question_ms: stats(latencies),
        questions_per_s: round(latencies.length / concurrentWall, 1),
        single_client_question_ms: single,
      },
      update_one_article_s: round(update, 2),
      memory_mb: { postgres_server_pss: pss, memory_reference_heap: round(memoryMb, 0) },
      disk_mb: { tables: Object.fromEntries(sizes.map((s) => [s.name, s.mb])), hnsw_index: hnswMb },
    };
    console.log(JSON.stringify(result, null, 2));
    if (JSON_OUT) fs.writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
    await store.pool.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
  } finally {
    for (const s of stores) await s.close();
    await server.stop();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
