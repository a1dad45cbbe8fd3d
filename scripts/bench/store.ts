// Bench of the embedded store engine (src/store/fs) at N synthetic-but-realistic rows (scripts/bench/rows.ts:
// real sentence vectors of all-MiniLM-L6-v2, 384-d, mixed with noise; texts mixed from real sentences).
//
//   npx tsx scripts/bench/store.ts [--sizes 100k] [--questions 200]
//
// Queries: the evaluation questions (test/eval dev + extra, in phrasing variants), embedded as queries.
// Steps run in their own processes (clean heap, own peak RSS): write (full replace), serve (open,
// RSS, dense and keyword latency, recall@10 against exact search at the shipped ef (SEARCH_EF); with
// --answer also the answer path: Retriever over the opened snapshot), update (one article changed,
// a separate writer process), a delta near its largest (2,000 rows) and serving from it, and fold
// (the delta folded into the HNSW base). The scale section of `npm run bench` runs write, serve
// --answer and reindex (a serving process holds the snapshot while a writer process re-indexes one
// changed article through planChanges + FileStore.write, then the server reloads).
// One step alone: --step write|serve|update|bigdelta|fold|reindex --n 100k --index <dir> --result <file.json>.
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Embedder, TransformersEmbedder } from "../../src/embed/embedder.js";
import { modelKey } from "../../src/index/settings.js";
import { Retriever } from "../../src/search/retriever.js";
import { SEARCH_EF, SEARCH_SEEDS } from "../../src/store/fs/snapshot.js";
import { FileStore } from "../../src/store/fs/store.js";
import { planChanges, SETTINGS_HASH } from "../../src/store/open.js";
import type { Changes, Snapshot } from "../../src/store/types.js";
import { argValue, log, machine, median, peakRss, percentile, questionsFromPassages, ROOT, round, rssParts, runChild, THREADS, writeResult } from "./common.js";
import { CountingEmbedder } from "./counting-embedder.js";
import { exactTop10 } from "./exact.js";
import { stepPg } from "./pgscale.js";
import { articles, type Base, base, DIR, MODEL, PER_ARTICLE, sizeOf } from "./rows.js";

// ---------------------------------------------------------------------------------------------
// Steps (children)

const rss = () => process.memoryUsage().rss;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const MB = (x: number) => round(x / 2 ** 20, 1);
const questionCount = () => Number(argValue("--questions") ?? 200);
const stats = (xs: number[]) => ({ p50: round(median(xs), 3), p95: round(percentile(xs, 95), 3) });

/** The model as the index records it (`modelKey`) and the shipped settings: what planChanges compares, so a later one-article change plans an update. */
const metaOf = (embedder: Embedder) => ({ model: modelKey(embedder), settingsHash: SETTINGS_HASH });
const loadModel = () => TransformersEmbedder.load({ model: MODEL, threads: THREADS });

async function stepWrite(n: number, indexDir: string) {
  const b = await base(questionCount());
  const embedder = await loadModel();
  rmSync(indexDir, { recursive: true, force: true });
  const t0 = performance.now();
  const rows = articles(b, 0, n, 1);
  const prepS = (performance.now() - t0) / 1000;
  const changes: Changes = { mode: "replace", ...metaOf(embedder), dimensions: b.dim, upsert: rows, remove: [] };
  const stages: Record<string, number> = {};
  let last = performance.now();
  const store = new FileStore(indexDir, {
    onStage: (s) => {
      stages[s] = round((performance.now() - last) / 1000, 2);
      last = performance.now();
    },
  });
  const t1 = performance.now();
  const { stats: written } = await store.write(changes);
  const writeS = (performance.now() - t1) / 1000;
  await store.close();
  const peakRssMB = MB(peakRss());
  // Embedding time, reported apart (after the build's peak RSS is read: the model's buffers are not
  // the build's): the rows stand in for cached embeddings, so measure what embedding N real
  // sentences would take at this machine's rate (512 real sentences, after a warm-up batch).
  const sampleTexts = b.texts.slice(0, 512);
  await embedder.embed(sampleTexts.slice(0, 32));
  const te = performance.now();
  await embedder.embed(sampleTexts);
  const embedPerSecond = sampleTexts.length / ((performance.now() - te) / 1000);
  writeResult({
    rows: n,
    prepS: round(prepS, 2),
    writeS: round(writeS, 2),
    stages,
    passages: written.passagesWritten,
    peakRssMB,
    embedPerSecond: round(embedPerSecond, 1),
    embedProjectedS: round(n / embedPerSecond, 0),
  });
}

/**
 * Question latency through the real answer path (Retriever.answer over the opened snapshot:
 * rank → rerank → excerpts). Pass 1 embeds each question (timed: the question's embedding) and
 * answers it, the late-interaction windows of the best candidates running the model (timed apart).
 * Pass 2, on a fresh Retriever (no article cache), answers the same questions with every model
 * output cached: the end-to-end time without the model, which is what the store and the retriever
 * cost (the headline p50/p95); then its stages (rank: dense + keyword + gather; rerank: the
 * signals, late interaction on cached token vectors; excerpts) timed apart.
 */
async function answerPath(snap: Snapshot, b: Base, texts: string[]) {
  const embedder = new CountingEmbedder(await loadModel());
  const tOpen = performance.now();
  const first = await Retriever.open(snap, embedder);
  const retrieverOpenS = (performance.now() - tOpen) / 1000;
  for (const q of questionsFromPassages(b.texts, 20, 99)) await first.answer(q);
  const questionMs: number[] = [];
  const modelMs: number[] = [];
  const withModel: number[] = [];
  let answered = 0;
  for (const q of texts) {
    let m0 = embedder.modelMs;
    await first.rank(q);
    questionMs.push(embedder.modelMs - m0);
    m0 = embedder.modelMs;
    const t = performance.now();
    const a = await first.answer(q);
    withModel.push(performance.now() - t);
    modelMs.push(embedder.modelMs - m0);
    if (a.answered) answered++;
  }
  const second = await Retriever.open(snap, embedder);
  for (const q of questionsFromPassages(b.texts, 20, 99)) await second.answer(q);
  const cached: number[] = [];
  const m0 = embedder.modelMs;
  for (const q of texts) {
    const t = performance.now();
    await second.answer(q);
    cached.push(performance.now() - t);
  }
  // Where that time goes: the answer's three stages, timed apart on the same questions (cached model outputs).
  const stage = { rank: [] as number[], rerank: [] as number[], excerpts: [] as number[] };
  for (const q of texts) {
    let t = performance.now();
    const { candidates, gathered } = await second.rank(q);
    stage.rank.push(performance.now() - t);
    t = performance.now();
    const { ranked } = await second.rerank(q, candidates, gathered);
    stage.rerank.push(performance.now() - t);
    t = performance.now();
    await second.excerpts(ranked, 15, gathered);
    stage.excerpts.push(performance.now() - t);
  }
  if (embedder.modelMs !== m0) log(`warning: the cached pass ran the model for ${round(embedder.modelMs - m0, 1)} ms`);
  return {
    questions: texts.length,
    answered,
    retrieverOpenS: round(retrieverOpenS, 3),
    endToEnd: stats(cached),
    stages: { rank: stats(stage.rank), rerank: stats(stage.rerank), excerpts: stats(stage.excerpts) },
    embedQuestion: stats(questionMs),
    withRescoreModel: stats(withModel),
    rescoreModel: stats(modelMs),
    // Windows are cached across questions (phrasing variants of one question share them): the runs that did happen.
    rescoreModelWhenRun: { questions: modelMs.filter((x) => x > 0).length, ...stats(modelMs.filter((x) => x > 0)) },
  };
}

async function stepServe(n: number, indexDir: string) {
  const questions = questionCount();
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
  // The answer path (with the model loaded, as a bot holds it); the serving RSS is read after it, before the recall scan.
  const answer = process.argv.includes("--answer") ? await answerPath(snap, b, texts) : undefined;
  gc();
  const servingRss = rss();
  const servingParts = rssParts();
  // The exact scan is the slow part at 1M rows (N × questions × 384 in JS): 100 questions there.
  const recallQueries = n >= 500_000 ? Math.min(100, queries.length) : queries.length;
  const exact = await exactTop10(snap, queries.slice(0, recallQueries), b.dim);
  let found = 0;
  exact.forEach((top, qi) => {
    const got = new Set(denseHits[qi]!);
    found += top.filter((id) => got.has(id)).length;
  });
  await store.close();
  writeResult({
    rows: n,
    openS: round(openS, 3),
    serveRssMB: MB(serveRss),
    processRssMB: MB(servingRss),
    processRssParts: servingParts,
    denseP50: round(median(dense), 3),
    denseP95: round(percentile(dense, 95), 3),
    keywordP50: round(median(keyword), 3),
    keywordP95: round(percentile(keyword, 95), 3),
    keywordHitsAvg: round(matched / texts.length, 1),
    vectors50Ms: round(vectorsMs, 3),
    recallAt10: round(found / (10 * recallQueries), 4),
    recallQueries,
    ef: SEARCH_EF,
    seeds: SEARCH_SEEDS,
    answer,
  });
}

async function stepUpdate(n: number, indexDir: string, fold: boolean, count = PER_ARTICLE) {
  const b = await base(questionCount());
  // One article (25 sentences; `count` rows for the large-delta case) replaced by new versions: different sentences (seed 2, 3, 4).
  const target = Math.floor(n / PER_ARTICLE / 2) * PER_ARTICLE;
  const rows = articles(b, count === PER_ARTICLE ? target : PER_ARTICLE, count, fold ? 3 : count === PER_ARTICLE ? 2 : 4);
  gc();
  const rss0 = rss();
  const t0 = performance.now();
  const store = new FileStore(indexDir, fold ? { foldAt: 0 } : {});
  const { model, settingsHash } = (await store.current())!.info;
  const { stats: written } = await store.write({ mode: "update", model, settingsHash, dimensions: b.dim, upsert: rows, remove: [] });
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
    passagesWritten: written.passagesWritten,
    passagesRemoved: written.passagesRemoved,
    writerPeakRssMB: MB(writerPeak),
    writerRssBeforeMB: MB(rss0),
    reloadS: round(reloadS, 3),
  });
}

/** The marker sentence the re-index step puts into the changed article (then looked up by the server). */
const MARKER = "Benchmark marker: the quarterly fisheries report was appended to this article.";

/**
 * Writer process of the reindex step, as `npm run index` does it: the articles (here read from the
 * snapshot; a real run reads the corpus files, not counted), one of them changed to new text,
 * planChanges (split, hash, embed only the changed sentences) + FileStore.write (update).
 */
async function stepReindexWriter(n: number, indexDir: string) {
  const b = await base(questionCount());
  const tm = performance.now();
  const embedder = await loadModel();
  const modelLoadS = (performance.now() - tm) / 1000;
  gc();
  const rss0 = rss();
  const t0 = performance.now();
  // As the isolated build child (src/index/buildchild.ts) opens it: the graph verified, not loaded.
  const store = new FileStore(indexDir, { graph: "on-demand" });
  const snap = (await store.current())!;
  const list = await snap.articles();
  const readS = (performance.now() - t0) / 1000;
  const at = Math.floor(list.length / 2);
  const fresh = articles(b, 0, PER_ARTICLE, 5)[0]!.article.text;
  list[at] = { ...list[at]!, text: `${fresh} ${MARKER}` };
  let embedS = 0;
  let embedStart = 0;
  const tp = performance.now();
  const plan = await planChanges(list, snap, embedder, {
    onProgress: (done, total, stage) => {
      if (stage !== "embed") return;
      if (done === 0) embedStart = performance.now();
      if (done >= total) embedS = (performance.now() - embedStart) / 1000;
    },
  });
  const planS = (performance.now() - tp) / 1000;
  if (plan.mode !== "update" || plan.upsert.length !== 1) throw new Error(`expected an update of one article, planned ${plan.mode} of ${plan.upsert.length}`);
  const tw = performance.now();
  const { stats: written } = await store.write(plan);
  const writeS = (performance.now() - tw) / 1000;
  const seconds = (performance.now() - t0) / 1000;
  const writerPeak = peakRss();
  await store.close();
  writeResult({
    rows: n,
    article: list[at]!.id,
    seconds: round(seconds, 3),
    readArticlesS: round(readS, 3),
    planS: round(planS, 3),
    embedS: round(embedS, 3),
    writeS: round(writeS, 3),
    embedded: plan.stats.embedded,
    passagesWritten: written.passagesWritten,
    passagesRemoved: written.passagesRemoved,
    modelLoadS: round(modelLoadS, 2),
    writerRssBeforeMB: MB(rss0),
    writerPeakRssMB: MB(writerPeak),
  });
}

/** A serving process holds the snapshot while a writer process re-indexes one changed article; then it reloads. */
async function stepReindex(n: number, indexDir: string) {
  const questions = questionCount();
  const b = await base(questions);
  gc();
  const rss0 = rss();
  const store = new FileStore(indexDir);
  const snap = (await store.current())!;
  for (let i = 0; i < 20; i++) await snap.dense(b.queryVectors.slice(i * b.dim, (i + 1) * b.dim), 50);
  gc();
  const servingRss = rss();
  const before = snap.info.version;
  const writer = await runChild<Record<string, number | string>>(
    path.join(ROOT, "scripts", "bench", "store.ts"),
    ["--step", "reindex-writer", "--n", String(n), "--index", indexDir, "--questions", String(questions)],
    { label: `store-reindex-writer-${n}`, nodeArgs: ["--expose-gc"] },
  );
  // Still answering from the old snapshot while the new one is there.
  await snap.dense(b.queryVectors.slice(0, b.dim), 10);
  const t = performance.now();
  const next = (await store.current())!;
  const openS = (performance.now() - t) / 1000;
  const articlesNow = await next.articles();
  const reloadS = (performance.now() - t) / 1000;
  const { hits } = await next.keyword(MARKER, 5, { articleId: String(writer.article) });
  const marker = hits.length > 0 && (await next.passages([hits[0]!.id]))[0]!.text.includes("fisheries report");
  const result = {
    ...writer,
    servingRssMB: MB(servingRss),
    servingSnapshotMB: MB(servingRss - rss0),
    newVersion: next.info.version !== before,
    articlesAfter: articlesNow.length,
    markerFound: marker,
    reloadOpenS: round(openS, 3),
    reloadS: round(reloadS, 3),
  };
  await store.close();
  writeResult(result);
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
  else if (step === "reindex") await stepReindex(n, indexDir);
  else if (step === "reindex-writer") await stepReindexWriter(n, indexDir);
  // PostgreSQL on the same rows and questions (scripts/bench/pgscale.ts; --index unused).
  else if (step === "pg") await stepPg(n, questionCount(), answerPath);
  else throw new Error(`unknown --step ${step}`);
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
