// PostgreSQL (PgStore: pgvector HNSW + BM25 in SQL) at N rows, on the SAME derived rows and
// questions as the embedded engine's scale points (scripts/bench/rows.ts), side by side with them in
// the scale section of `npm run bench`. One step, in its own process, through store.ts:
//
//   npx tsx scripts/bench/store.ts --step pg --n 100k --questions 200 --result out.json
//
// It starts its own server (scripts/pg/server.ts; data folder under data/bench/pg/, removed at the
// end; settings SERVER_SETTINGS) or uses DATABASE_URL's (its own schema, dropped at the end), and:
// - build: PgStore.write (replace: binary COPY of the rows, then the HNSW build) + VACUUM ANALYZE
//   (what autovacuum would do soon after: the visibility map the keyword side's index-only scans
//   need); the load/index split is read from pg_stat_progress_create_index;
// - open: PgStore.open + current() in a fresh pool, + Retriever.open over the snapshot;
// - dense/keyword p50/p95 (k 50), recall@10 of dense search against exact search over the rows;
// - the answer path (Retriever.answer over the PgStore snapshot, model outputs cached), as the
//   embedded engine's serve step measures it (store.ts answerPath);
// - 4 concurrent clients (each its own PgStore, one connection): dense + keyword per question;
// - reindex: one changed article through planChanges + PgStore.write (as `npm run index` does);
// - the server's memory (PSS of its processes) and the schema's size on disk.
import path from "node:path";
import pg from "pg";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { modelKey } from "../../src/index/settings.js";
import { planChanges, SETTINGS_HASH } from "../../src/store/open.js";
import { keywordPaths } from "../../src/store/pg/keyword.js";
import { PG_BUILD, PG_EF_SEARCH, PG_HNSW, PgStore } from "../../src/store/pg/store.js";
import type { PassageId, Snapshot } from "../../src/store/types.js";
import { startPgServer } from "../pg/server.js";
import { BENCH_DIR, log, median, peakRss, percentile, round, THREADS, writeResult } from "./common.js";
import { runClients, schemaSizes, serverPssMb } from "./pg-common.js";
import { articles, type Base, base, MODEL, PER_ARTICLE } from "./rows.js";

/** Bench server settings: what a PostgreSQL host for a 1M-row index would set (shared buffers for the hot pages; no checkpoint in the middle of the bulk load). */
export const SERVER_SETTINGS = { shared_buffers: "1GB", max_wal_size: "8GB" };
const SCHEMA = "citebot_bench";
const K = 50;
const MARKER = "Benchmark marker: the quarterly fisheries report was appended to this article.";

const ms = (t0: number) => performance.now() - t0;
const stats = (xs: number[]) => ({ p50: round(median(xs), 3), p95: round(percentile(xs, 95), 3) });

export type AnswerPath = (snap: Snapshot, b: Base, texts: string[]) => Promise<Record<string, any>>;

/** While `during` runs: when the HNSW build started and ended (pg_stat_progress_create_index), and the most parallel workers seen. */
async function watchIndexBuild<T>(url: string, during: () => Promise<T>): Promise<{ result: T; indexStartS?: number; indexEndS?: number; workers: number }> {
  const c = new pg.Client({ connectionString: url });
  // The server stopping (a kill of the bench) must not crash the step before it removes its folder.
  c.on("error", () => {});
  await c.connect();
  const t0 = performance.now();
  let indexStartS: number | undefined;
  let indexEndS: number | undefined;
  let workers = 0;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await c.query<{ building: boolean; workers: number }>(
        `SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index) AS building,
                (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'parallel worker') AS workers`,
      );
      const at = ms(t0) / 1000;
      if (rows[0]!.building) {
        indexStartS ??= at;
        indexEndS = at;
        workers = Math.max(workers, rows[0]!.workers);
      }
    } catch {}
    busy = false;
  }, 500);
  try {
    return { result: await during(), indexStartS, indexEndS, workers };
  } finally {
    clearInterval(timer);
    await c.end().catch(() => {});
  }
}

export async function stepPg(n: number, questions: number, answerPath: AnswerPath): Promise<void> {
  const result: Record<string, any> = { rows: n, serverSettings: SERVER_SETTINGS };
  // Written after every phase: a failure later still leaves what was measured.
  const save = () => writeResult(result);
  const b = await base(questions);
  const queries = Array.from({ length: questions }, (_, i) => b.queryVectors.slice(i * b.dim, (i + 1) * b.dim));
  const texts = b.queries;
  const embedder = await TransformersEmbedder.load({ model: MODEL, threads: THREADS });
  const meta = { model: modelKey(embedder), settingsHash: SETTINGS_HASH };
  let t0 = performance.now();
  const rows = articles(b, 0, n, 1);
  result.prepS = round(ms(t0) / 1000, 2);

  const server = await startPgServer(process.env, { parentDir: path.join(BENCH_DIR, "pg"), settings: SERVER_SETTINGS });
  // Ctrl+C or a kill (the bench's timeout) still stops the server this started.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void server.stop().finally(() => process.exit(130)));
  const stores: PgStore[] = [];
  try {
    log(`pg ${n}: server ${server.external ? "DATABASE_URL" : `local, data in ${path.relative(process.cwd(), server.dataDir!)}`}`);
    const writer = await PgStore.open({ url: server.url, schema: SCHEMA, maxConnections: 1 });
    stores.push(writer);
    const version = (
      await writer.pool.query<{ v: string; e: string }>("SELECT version() AS v, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS e")
    ).rows[0]!;
    result.server = `${version.v.split(" ").slice(0, 2).join(" ")}, pgvector ${version.e}; HNSW m ${PG_HNSW.m}, ef_construction ${PG_HNSW.efConstruction}, ef_search ${PG_EF_SEARCH}; build workers ≤ ${PG_BUILD.workers}`;

    // --- build
    log(`pg ${n}: write (binary COPY, then the HNSW build, one transaction)`);
    t0 = performance.now();
    const w = await watchIndexBuild(server.url, () => writer.write({ mode: "replace", ...meta, dimensions: b.dim, upsert: rows, remove: [] }));
    const writeS = ms(t0) / 1000;
    t0 = performance.now();
    await writer.pool.query("VACUUM ANALYZE passages, postings, terms, articles");
    const vacuumS = ms(t0) / 1000;
    const mwm = (await writer.pool.query<{ v: string }>("SELECT current_setting('maintenance_work_mem') AS v")).rows[0]!.v;
    result.build = {
      seconds: round(writeS + vacuumS, 2),
      writeS: round(writeS, 2),
      loadS: w.indexStartS === undefined ? null : round(w.indexStartS, 1),
      hnswS: w.indexStartS === undefined ? null : round(w.indexEndS! - w.indexStartS, 1),
      vacuumAnalyzeS: round(vacuumS, 2),
      parallelWorkersSeen: w.workers,
      passages: w.result.stats.passagesWritten,
      serverMaintenanceWorkMem: mwm,
      clientPeakRssMB: round(peakRss() / 2 ** 20, 0),
    };
    log(`pg ${n}: build ${JSON.stringify(result.build)}`);
    save();

    // --- open (a fresh pool, as a bot starting), dense and keyword alone, recall
    t0 = performance.now();
    const store = await PgStore.open({ url: server.url, schema: SCHEMA });
    stores.push(store);
    const snap = (await store.current())!;
    const openS = ms(t0) / 1000;
    for (const q of queries.slice(0, 20)) await snap.dense(q, K);
    for (const t of texts.slice(0, 20)) await snap.keyword(t, K);
    const dense: number[] = [];
    const denseTop: PassageId[][] = [];
    for (const q of queries) {
      const t = performance.now();
      const hits = await snap.dense(q, K);
      dense.push(ms(t));
      denseTop.push(hits.slice(0, 10).map((h) => h.id));
    }
    const paths0 = { ...keywordPaths };
    const keyword: number[] = [];
    let matched = 0;
    for (const q of texts) {
      const t = performance.now();
      const { hits } = await snap.keyword(q, K);
      keyword.push(ms(t));
      matched += hits.length;
    }
    // Recall@10 against exact search over the rows (by passage id), as many questions as the embedded engine's serve step.
    const recallQueries = n >= 500_000 ? Math.min(100, queries.length) : queries.length;
    const exact = exactTop10(rows, queries.slice(0, recallQueries), b.dim);
    let found = 0;
    for (let qi = 0; qi < recallQueries; qi++) {
      const got = new Set((await snap.passages(denseTop[qi]!)).map((p) => p.id));
      found += exact[qi]!.filter((id) => got.has(id)).length;
    }
    result.serve = {
      openS: round(openS, 3),
      dense: stats(dense),
      keyword: stats(keyword),
      keywordHitsAvg: round(matched / texts.length, 1),
      keywordPaths: Object.fromEntries(Object.entries(keywordPaths).map(([k, v]) => [k, v - paths0[k as keyof typeof paths0]])),
      recallAt10: round(found / (10 * recallQueries), 4),
      recallQueries,
      ef: PG_EF_SEARCH,
    };
    log(`pg ${n}: serve ${JSON.stringify(result.serve)}`);
    save();

    // --- the answer path over the PgStore snapshot
    log(`pg ${n}: answer path (Retriever.answer over the PgStore snapshot)`);
    result.answer = await answerPath(snap, b, texts);
    log(`pg ${n}: answer ${JSON.stringify(result.answer.endToEnd)}, retriever open ${result.answer.retrieverOpenS} s`);
    save();

    // --- 4 concurrent clients
    log(`pg ${n}: 4 concurrent clients (each its own connection): dense + keyword per question`);
    const perClient = Math.max(25, Math.floor(questions / 2));
    const question = async (s: Snapshot, i: number) => {
      await s.dense(queries[i % queries.length]!, K);
      await s.keyword(texts[i % texts.length]!, K);
    };
    const { latencies, wallS: wall, single, stores: clients } = await runClients(server.url, SCHEMA, 4, perClient, question);
    stores.push(...clients);
    result.clients4 = { ...stats(latencies), qps: round(latencies.length / wall, 1), questions: latencies.length, single: stats(single) };
    log(`pg ${n}: clients4 ${JSON.stringify(result.clients4)}`);
    save();

    // --- one changed article, as `npm run index` does it: read the articles, planChanges, write
    log(`pg ${n}: re-index one changed article`);
    t0 = performance.now();
    const current = (await store.current())!;
    const list = await current.articles();
    const readS = ms(t0) / 1000;
    const at = Math.floor(list.length / 2);
    list[at] = { ...list[at]!, text: `${articles(b, 0, PER_ARTICLE, 5)[0]!.article.text} ${MARKER}` };
    const tp = performance.now();
    const plan = await planChanges(list, current, embedder);
    const planS = ms(tp) / 1000;
    if (plan.mode !== "update" || plan.upsert.length !== 1) throw new Error(`expected an update of one article, planned ${plan.mode} of ${plan.upsert.length}`);
    const tw = performance.now();
    const { stats: written } = await store.write(plan);
    const writeOneS = ms(tw) / 1000;
    const reindexS = ms(t0) / 1000;
    const next = (await store.current())!;
    const { hits } = await next.keyword(MARKER, 5, { articleId: list[at]!.id });
    const markerFound = hits.length > 0 && (await next.passages([hits[0]!.id]))[0]!.text.includes("fisheries report");
    result.reindex = {
      seconds: round(reindexS, 3),
      readArticlesS: round(readS, 3),
      planS: round(planS, 3),
      writeS: round(writeOneS, 3),
      embedded: plan.stats.embedded,
      passagesWritten: written.passagesWritten,
      passagesRemoved: written.passagesRemoved,
      markerFound,
    };
    log(`pg ${n}: reindex ${JSON.stringify(result.reindex)}`);

    // --- memory and disk
    const { tables: sizes, hnswMb } = await schemaSizes(store.pool, SCHEMA);
    result.serverMB = serverPssMb(server.dataDir);
    result.diskMB = round(
      sizes.reduce((a, s) => a + s.mb, 0),
      1,
    );
    result.disk = { tables: Object.fromEntries(sizes.map((s) => [s.name, s.mb])), hnswIndex: hnswMb };
    result.clientPeakRssMB = round(peakRss() / 2 ** 20, 0);
    log(`pg ${n}: server ${result.serverMB} MB (PSS), disk ${result.diskMB} MB`);
    save();
    if (server.external) await store.pool.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
  } catch (err) {
    result.error = (err as Error).message;
    save();
    throw err;
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await embedder.close();
    await server.stop();
  }
}

/** Exact top 10 passage ids (`article#n`) of each query over the rows' vectors (cosine: the rows are unit vectors). */
function exactTop10(rows: ReturnType<typeof articles>, queries: Float32Array[], dim: number): string[][] {
  const norms = queries.map((q) => Math.hypot(...q));
  const top = queries.map(() => ({ ids: [] as string[], scores: [] as number[] }));
  for (const r of rows) {
    for (let i = 0; i < r.passages.length; i++) {
      const off = i * dim;
      queries.forEach((q, qi) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[d]! * r.vectors[off + d]!;
        s /= norms[qi]!;
        const t = top[qi]!;
        if (t.scores.length === 10 && s <= t.scores[9]!) return;
        let at = t.scores.length;
        while (at > 0 && t.scores[at - 1]! < s) at--;
        t.scores.splice(at, 0, s);
        t.ids.splice(at, 0, r.passages[i]!.id);
        if (t.scores.length > 10) t.scores.pop(), t.ids.pop();
      });
    }
  }
  return top.map((t) => t.ids);
}
