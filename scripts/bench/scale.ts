// Bench child: one step at one scale point, in its own process (so its peak RSS is its own).
//
//   --step build    copy the corpus (--copy-from → --corpus), build its index from nothing in --data
//   --step serve    open the built index, answer questions (latency after warm-up, CPU profile),
//                   HNSW recall@10 against exact search on the same vectors
//   --step reindex  append a sentence to one article of the copy, re-open, and check what was re-embedded
import { appendFileSync, cpSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { renderText } from "../../src/answer/render.js";
import { Citebot } from "../../src/citebot.js";
import { loadCorpus, parseArticle } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { type Embedder, TransformersEmbedder } from "../../src/embed/embedder.js";
import { indexDirFor } from "../../src/index/store.js";
import type { Gathered } from "../../src/search/loaded.js";
import type { Candidate } from "../../src/search/retriever.js";
import { ARTICLES, currentSnapshotDir, readStoreManifest } from "../../src/store/fs/format.js";
import { SEARCH_EF } from "../../src/store/fs/snapshot.js";
import { hashArticle } from "../../src/store/hash.js";
import type { PassageId, Snapshot } from "../../src/store/types.js";
import {
  argValue,
  dirBytes,
  log,
  median,
  peakRss,
  percentile,
  profile,
  questionsFromPassages,
  rng,
  round,
  snapshotPassages,
  THREADS,
  variedQuestions,
  writeResult,
} from "./common.js";

const step = argValue("--step");
const corpusDir = argValue("--corpus")!;
const dataDir = argValue("--data")!;
const questionCount = Number(argValue("--questions") ?? 200);
const t0 = performance.now();

/** The embedder, optionally recording every text it is asked to embed. */
class RecordingEmbedder implements Embedder {
  readonly embedded: string[] = [];
  recording = false;
  constructor(private readonly inner: Embedder) {}
  get modelId() {
    return this.inner.modelId;
  }
  get dimensions() {
    return this.inner.dimensions;
  }
  embed(texts: string[]) {
    if (this.recording) this.embedded.push(...texts);
    return this.inner.embed(texts);
  }
  embedTokens(texts: string[]) {
    return this.inner.embedTokens(texts);
  }
}

function indexFiles(bot: Citebot): Record<string, number> {
  const snapDir = currentSnapshotDir(bot.indexDir)!;
  const { files } = readStoreManifest(snapDir);
  return { ...Object.fromEntries(Object.entries(files).map(([f, e]) => [f, e.size])), total: dirBytes(snapDir) };
}

if (step === "build") {
  const from = argValue("--copy-from");
  if (from) {
    rmSync(corpusDir, { recursive: true, force: true });
    cpSync(from, corpusDir, { recursive: true });
  }
  rmSync(dataDir, { recursive: true, force: true });
  const embedder = await TransformersEmbedder.load({ threads: THREADS });
  const modelLoaded = performance.now();
  // Phase boundaries from the progress callback: embedding starts once the corpus is loaded and split.
  const marks: Record<string, number> = {};
  const t = performance.now();
  const bot = await Citebot.open({
    corpusDir,
    dataDir,
    embedder,
    onProgress: (done, total, stage) => {
      const now = performance.now();
      if (stage === "embed") {
        marks.embedStart ??= now;
        if (done >= total) marks.embedEnd = now;
      } else {
        marks.hnswStart ??= now;
        if (done >= total) marks.hnswEnd = now;
      }
    },
  });
  const end = performance.now();
  const s = (a: number, b: number) => round((b - a) / 1000, 2);
  writeResult({
    step,
    articles: bot.articles().length,
    passages: bot.passageCount,
    stats: bot.status.stats,
    seconds: {
      modelLoad: s(t0, modelLoaded),
      total: s(t, end),
      loadAndSplit: s(t, marks.embedStart ?? end),
      embed: s(marks.embedStart ?? t, marks.embedEnd ?? marks.embedStart ?? t),
      hnsw: s(marks.hnswStart ?? t, marks.hnswEnd ?? marks.hnswStart ?? t),
      keywordAndWrite: s(marks.hnswEnd ?? t, end),
    },
    embedPerSecond: Math.round(bot.passageCount / (((marks.embedEnd ?? 0) - (marks.embedStart ?? 0)) / 1000 || 1)),
    indexBytes: indexFiles(bot),
    peakRssBytes: peakRss(),
  });
} else if (step === "serve") {
  // Fail fast (instead of rebuilding for many minutes) when the built index no longer matches the
  // corpus as the loader reads it now (e.g. src/corpus changed since the build step).
  // Only the manifest and the small articles.json are read here: the timed open below stays cold.
  const snapDir = currentSnapshotDir(indexDirFor(dataDir, corpusDir));
  const manifest = snapDir ? readStoreManifest(snapDir) : undefined;
  const stored = snapDir && manifest ? (JSON.parse(readFileSync(path.join(snapDir, ARTICLES), "utf8")) as Array<{ id: string; hash: string }>) : [];
  const storedHash = new Map(stored.map((r) => [r.id, r.hash]));
  const { articles } = await loadCorpus(corpusDir);
  if (!manifest || storedHash.size !== articles.length || articles.some((a) => storedHash.get(a.id) !== hashArticle(a))) {
    throw new Error(
      `no current index in ${dataDir} for ${corpusDir} (${manifest ? "the articles as loaded now differ from the build's" : "none built"}): run the build step again`,
    );
  }
  const embedder = await TransformersEmbedder.load({ threads: THREADS });
  const t = performance.now();
  const bot = await Citebot.open({ corpusDir, dataDir, embedder });
  const opened = performance.now();
  if (bot.status.index !== "loaded") throw new Error(`expected a built index in ${dataDir}, but it was ${bot.status.index} (${bot.status.reason})`);
  const snapshot = bot.snapshot;
  const { ids, passages } = await snapshotPassages(snapshot);
  const texts = passages.map((p) => p.text);
  const large = texts.length > 5000;
  // Questions: the evaluation questions in several phrasings; on a large corpus half of them are
  // about the corpus's own text instead (the news questions are off-topic there).
  const questions = large
    ? [...variedQuestions(Math.floor(questionCount / 2)), ...questionsFromPassages(texts, questionCount - Math.floor(questionCount / 2), 11)]
    : variedQuestions(questionCount);
  const warmup = questionsFromPassages(texts, 40, 99);
  for (const q of warmup) renderText(await bot.answer(q));
  const times: number[] = [];
  let answered = 0;
  for (const q of questions) {
    const s = performance.now();
    const answer = await bot.answer(q);
    renderText(answer);
    times.push(performance.now() - s);
    if (answer.answered) answered++;
  }
  const latency = {
    questions: questions.length,
    answered,
    p50: round(percentile(times, 50), 3),
    p95: round(percentile(times, 95), 3),
    p99: round(percentile(times, 99), 3),
    max: round(Math.max(...times), 3),
    mean: round(times.reduce((a, b) => a + b, 0) / times.length, 3),
  };
  log(`latency over ${questions.length} questions: p50 ${latency.p50} ms, p95 ${latency.p95} ms`);
  // Where a question's time goes: the same questions again under the CPU profiler.
  const prof = await profile(async () => {
    for (const q of questions) renderText(await bot.answer(q));
  });
  // Per-stage timing of the retriever for the same questions (rank = embed + dense + keyword + fusion + fetching passages and vectors).
  const r = (
    bot as unknown as {
      retriever: {
        rank(q: string): Promise<{ candidates: Candidate[]; gathered: Gathered }>;
        rerank(q: string, c: Candidate[], g: Gathered): Promise<{ ranked: Candidate[] }>;
        excerpts(c: Candidate[], n: number, g: Gathered): Promise<unknown>;
      };
    }
  ).retriever;
  const stage = {
    embed: [] as number[],
    dense: [] as number[],
    keyword: [] as number[],
    rank: [] as number[],
    rerank: [] as number[],
    excerpts: [] as number[],
  };
  for (const q of questions) {
    let s = performance.now();
    const [qv] = await embedder.embed([q]);
    stage.embed.push(performance.now() - s);
    s = performance.now();
    await snapshot.dense(qv!, Math.min(50, texts.length));
    stage.dense.push(performance.now() - s);
    s = performance.now();
    await snapshot.keyword(q, 50);
    stage.keyword.push(performance.now() - s);
    s = performance.now();
    const ranked = await r.rank(q);
    stage.rank.push(performance.now() - s);
    s = performance.now();
    const rr = await r.rerank(q, ranked.candidates, ranked.gathered);
    stage.rerank.push(performance.now() - s);
    s = performance.now();
    await r.excerpts(rr.ranked, 4, ranked.gathered);
    stage.excerpts.push(performance.now() - s);
  }
  const stages = Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, { p50: round(percentile(v, 50), 3), p95: round(percentile(v, 95), 3) }]));

  // HNSW recall@10 against exact search over the same stored vectors: query vectors from the
  // questions and from random passages.
  const recall = argValue("--recall") === "no" ? undefined : await measureRecall(snapshot, ids, embedder, questions);
  writeResult({
    step,
    passages: texts.length,
    openSeconds: round((opened - t) / 1000, 2),
    latency,
    stages,
    profile: prof,
    recall,
    peakRssBytes: peakRss(),
    rssAfterBytes: process.memoryUsage().rss,
  });
} else if (step === "reindex") {
  // Change one article of the copy: append a sentence to the middle file.
  const before = await loadCorpus(corpusDir);
  const article = before.articles[Math.floor(before.articles.length / 2)]!;
  const file = path.join(corpusDir, article.file);
  const sentence = `Benchmark note ${Date.now()}: the quarterly fisheries report was appended to this article.`;
  appendFileSync(file, `\n\n${sentence}\n`);
  const changed = splitArticle(parseArticle(article.file, readFileSync(file, "utf8")));
  const embedder = new RecordingEmbedder(await TransformersEmbedder.load({ threads: THREADS }));
  embedder.recording = true;
  const t = performance.now();
  const bot = await Citebot.open({ corpusDir, dataDir, embedder });
  const seconds = (performance.now() - t) / 1000;
  embedder.recording = false;
  const own = new Set(changed.map((p) => p.text));
  const outside = embedder.embedded.filter((x) => !own.has(x));
  const found = (await bot.answer(sentence)).hits.some((h) => h.text.includes("quarterly fisheries report"));
  // The copy keeps the change, so the index stays current for a later serve step (the build step copies afresh).
  writeResult({
    step,
    article: article.file,
    articleSentences: changed.length,
    stats: bot.status.stats,
    reason: bot.status.reason,
    embeddedTexts: embedder.embedded.length,
    embeddedOutsideArticle: outside.length,
    newSentenceFound: found,
    seconds: round(seconds, 2),
    peakRssBytes: peakRss(),
  });
} else {
  throw new Error(`unknown --step ${step}`);
}

/**
 * The store's dense search against exact search over its own stored vectors: recall@10 for query
 * vectors from the questions and from random passages. The store sets its own search breadth
 * (the files engine: ef max(SEARCH_EF, k)), which is what the retriever gets.
 */
async function measureRecall(snapshot: Snapshot, ids: PassageId[], embedder: Embedder, questions: string[]) {
  const n = ids.length;
  const dim = snapshot.info.dimensions;
  const k = Math.min(10, n);
  const r = rng(5);
  const stored = await snapshot.vectors(ids);
  const queries: Float32Array[] = [];
  const qv = await embedder.embed([...new Set(questions)].slice(0, 100));
  for (const v of qv) if (v.some((x) => x !== 0)) queries.push(v);
  while (queries.length < 200) {
    const v = stored[Math.floor(r() * n)]!;
    if (v.some((x) => x !== 0)) queries.push(new Float32Array(v));
  }
  const dot = (q: Float32Array, v: Float32Array) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += q[d]! * v[d]!;
    return s;
  };
  // Exact top-k by brute force (the vectors are unit length; cosine = dot product).
  const exactMs: number[] = [];
  const exact = queries.map((q) => {
    const s = performance.now();
    const top: Array<[PassageId, number]> = [];
    for (let i = 0; i < n; i++) {
      const score = dot(q, stored[i]!);
      if (top.length < k || score > top[top.length - 1]![1]) {
        top.push([ids[i]!, score]);
        top.sort((a, b) => b[1] - a[1]);
        if (top.length > k) top.pop();
      }
    }
    exactMs.push(performance.now() - s);
    return top;
  });
  const at = new Map(ids.map((id, i) => [id, i]));
  let strict = 0;
  let tieAware = 0;
  const ms: number[] = [];
  for (const [j, q] of queries.entries()) {
    const s = performance.now();
    const res = await snapshot.dense(q, k);
    ms.push(performance.now() - s);
    const ex = exact[j]!;
    const want = new Set(ex.map((e) => e[0]));
    const kth = ex[ex.length - 1]![1];
    for (const h of res) {
      if (want.has(h.id)) strict++;
      // Ties (duplicate sentences) make several answers equally right: count a hit at least as close as the k-th.
      if (dot(q, stored[at.get(h.id)!]!) >= kth - 1e-5) tieAware++;
    }
  }
  const atRetrieverEf = {
    ef: Math.max(SEARCH_EF, k),
    recallAt10: round(tieAware / (queries.length * k), 4),
    recallAt10Strict: round(strict / (queries.length * k), 4),
    searchMsP50: round(median(ms), 4),
  };
  log(
    `recall@10 (the store's dense search, ef ${atRetrieverEf.ef}): ${atRetrieverEf.recallAt10} (strict ${atRetrieverEf.recallAt10Strict}); exact search ${round(median(exactMs), 2)} ms/query`,
  );
  return { queries: queries.length, fromQuestions: qv.length, k, atRetrieverEf, sweep: [atRetrieverEf], exactSearchMsP50: round(median(exactMs), 3) };
}
