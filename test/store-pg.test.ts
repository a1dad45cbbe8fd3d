// The PostgreSQL + pgvector store against a real server: DATABASE_URL's, or one this file starts
// (scripts/pg/server.ts installs the pinned wheel into .cache/pgserver on first use). Every test
// works in its own PostgreSQL schema, so they never see each other's rows.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePgserverInstalled, type PgServer, PgServerError, startPgServer } from "../scripts/pg/server.js";
import { loadCoreConfig } from "../src/config.js";
import { loadCorpus } from "../src/corpus/load.js";
import { splitArticle } from "../src/corpus/split.js";
import { TransformersEmbedder } from "../src/embed/embedder.js";
import { modelKey } from "../src/index/settings.js";
import { hashArticle } from "../src/store/hash.js";
import { MemorySnapshot } from "../src/store/memory.js";
import { KEYWORD_PRUNING, keywordPaths } from "../src/store/pg/keyword.js";
import { listMigrations, migrate } from "../src/store/pg/migrate.js";
import { PgStore, PgStoreError, redactUrl } from "../src/store/pg/store.js";
import type { ArticleRows, Changes, KeywordScored, Snapshot } from "../src/store/types.js";
import type { Article, Passage } from "../src/types.js";
import { cleanupTmp, mkTmp, REAL_CORPUS, ROOT } from "./helpers.js";

let server: PgServer;
const stores: PgStore[] = [];

/** A store in a schema of its own. */
async function openStore(schema = `t_${randomBytes(4).toString("hex")}`): Promise<PgStore> {
  const store = await PgStore.open({ url: server.url, schema });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  // The first run installs the server's wheel from PyPI (12.6 MB).
  server = await startPgServer();
}, 600_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await server?.stop();
  cleanupTmp();
});

// --- Small hand-made articles ----------------------------------------------------------------

const article = (id: string, sentences: string[], dims: number, seed: number): ArticleRows => {
  const text = sentences.join(" ");
  let start = 0;
  const passages: Passage[] = sentences.map((s, n) => {
    const p = { id: `${id}#${n}`, articleId: id, n, text: s, start, end: start + s.length };
    start += s.length + 1;
    return p;
  });
  const a: Article = { id, title: `Title ${id}`, file: `${id}.txt`, date: "2021-07-08", text };
  const vectors = new Float32Array(passages.length * dims);
  for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(seed * 7.3 + i * 1.7);
  for (let r = 0; r < passages.length; r++) {
    const row = vectors.subarray(r * dims, (r + 1) * dims);
    const n = Math.hypot(...row);
    for (let d = 0; d < dims; d++) row[d]! /= n;
  }
  return { article: a, hash: hashArticle(a), passages, vectors };
};

const DIMS = 8;
const A = article("a", ["Antonov spoke about cybersecurity.", "The talks were held in Geneva."], DIMS, 1);
const B = article("b", ["Football fans filled the stadium.", "Cybersecurity was not discussed."], DIMS, 2);
const C = article("c", ["Geneva hosted the strategic stability talks.", "Cybersecurity experts met in Geneva again."], DIMS, 3);
const B2 = article("b", ["Football fans left the stadium early.", "Nobody mentioned cybersecurity or Geneva.", "The match ended in a draw."], DIMS, 4);
const meta = { model: "test-model", dimensions: DIMS, settingsHash: "s1" };
const change = (c: Partial<Changes>): Changes => ({ mode: "update", ...meta, upsert: [], remove: [], ...c });

/** Passage-id strings of a result, so engines with different labels compare. */
async function named(snap: Snapshot, ids: number[]): Promise<string[]> {
  return (await snap.passages(ids)).map((p) => p.id);
}

describe("migrations", () => {
  it("apply once, in order, and are recorded; a second run applies nothing", async () => {
    const schema = `t_${randomBytes(4).toString("hex")}`;
    await openStore(schema);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      expect((await migrate(client, schema)).applied).toEqual([]);
      const { rows } = await client.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
      expect(rows.map((r) => r.name)).toEqual(listMigrations().map((m) => m.name));
      expect(rows.map((r) => r.name)).toContain("001_init.sql");
      // Opening again (another process starting) changes nothing and keeps the data.
      const s1 = await openStore(schema);
      await s1.write(change({ mode: "replace", upsert: [A] }));
      const s2 = await openStore(schema);
      expect((await s2.current())?.info.passages).toBe(2);
      const tables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [schema]);
      expect(tables.rows.map((r) => r.table_name)).toEqual(["articles", "meta", "passages", "postings", "schema_migrations", "terms"]);
    } finally {
      await client.end();
    }
  });

  it("a role without CREATE rights (a bot's) opens an up-to-date store and reads it", async () => {
    const schema = `t_${randomBytes(4).toString("hex")}`;
    const role = `bot_${randomBytes(4).toString("hex")}`;
    const owner = await openStore(schema);
    await owner.write(change({ mode: "replace", upsert: [A, B] }));
    // No CREATE on the database (PostgreSQL's default for a new role): only what a reader needs.
    await owner.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    await owner.pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
    const url = server.url.replace(/^(postgres(?:ql)?:\/\/)[^@/]*@/, `$1${role}:pw@`);
    const bot = await PgStore.open({ url, schema });
    try {
      const snap = (await bot.current())!;
      expect(snap.info.passages).toBe(4);
      expect((await snap.keyword("cybersecurity", 5)).hits.map((h) => h.id).sort()).toEqual([0, 3]);
      // It could not have created anything: a fresh schema fails, with PostgreSQL's reason.
      await expect(PgStore.open({ url, schema: `${schema}_new` })).rejects.toThrow(/permission denied/);
    } finally {
      await bot.close();
      await owner.pool.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("ship as numbered .sql files that use no PostgreSQL-18-only syntax we know of", () => {
    const dir = path.join(ROOT, "src", "store", "pg", "migrations");
    const files = fs.readdirSync(dir);
    expect(files.every((f) => /^\d{3}_[\w-]+\.sql$/.test(f))).toBe(true);
    const sql = files.map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("\n");
    // Virtual generated columns, uuidv7() and OLD/NEW in RETURNING are PostgreSQL 18 additions.
    expect(sql).not.toMatch(/\bVIRTUAL\b|uuidv7|RETURNING\s+OLD|RETURNING\s+NEW/i);
  });
});

describe("writes", () => {
  it("replaces, updates and removes articles; labels are never reused; stale ids are reported", async () => {
    const store = await openStore();
    expect(await store.current()).toBeUndefined();
    await expect(store.write(change({ upsert: [A] }))).rejects.toThrow(/no index to update/);

    const first = await store.write(change({ mode: "replace", upsert: [A, B] }));
    expect(first.stats).toMatchObject({ articlesWritten: 2, passagesWritten: 4, passagesRemoved: 0 });
    const s1 = first.snapshot;
    expect(s1.info).toMatchObject({ model: "test-model", dimensions: DIMS, articles: 2, passages: 4, settingsHash: "s1" });
    expect(await s1.passageIds("b")).toEqual([2, 3]);
    expect(await named(s1, [3, 0])).toEqual(["b#1", "a#0"]);
    expect((await s1.articles()).map((a) => a.id)).toEqual(["a", "b"]);
    expect(await s1.articles()).toEqual([A.article, B.article]);
    expect((await s1.articleHashes()).get("b")).toBe(B.hash);
    const v = await s1.vectors([1]);
    expect(Array.from(v[0]!)).toEqual(Array.from(A.vectors.subarray(DIMS, 2 * DIMS)));
    expect(await s1.documentFrequency(["cybersecur", "geneva", "nothing"])).toEqual([2, 1, 0]);

    // Update: b changes (3 sentences now), c is new, a stays as it was (same labels).
    const second = await store.write(change({ upsert: [B2, C] }));
    expect(second.stats).toMatchObject({ articlesWritten: 2, articlesRemoved: 0, passagesWritten: 5, passagesRemoved: 2 });
    const s2 = second.snapshot;
    expect(s2.info.version).not.toBe(s1.info.version);
    expect(s2.info).toMatchObject({ articles: 3, passages: 7 });
    expect(await s2.passageIds("a")).toEqual([0, 1]);
    const bIds = await s2.passageIds("b");
    expect(bIds).toEqual([4, 5, 6]);
    expect(await named(s2, bIds)).toEqual(["b#0", "b#1", "b#2"]);
    // The changed article keeps its place in the article order.
    expect((await s2.articles()).map((a) => a.id)).toEqual(["a", "b", "c"]);
    // b's old passages are gone, not silently some other passage.
    await expect(s1.passages([2])).rejects.toThrow(/no passage 2 .*removed by a write after version/);
    await expect(s2.vectors([3])).rejects.toThrow(PgStoreError);
    expect(await s2.documentFrequency(["cybersecur", "geneva", "stadium", "match"])).toEqual([3, 4, 1, 1]);

    // Remove a; the keyword statistics follow.
    const third = await store.write(change({ remove: ["a", "zzz"] }));
    expect(third.stats).toMatchObject({ articlesRemoved: 1, passagesRemoved: 2, articlesWritten: 0 });
    const s3 = third.snapshot;
    expect(s3.info).toMatchObject({ articles: 2, passages: 5 });
    expect(await s3.passageIds("a")).toEqual([]);
    expect(await s3.documentFrequency(["antonov", "cybersecur", "geneva"])).toEqual([0, 2, 3]);

    // Same answers as the exact reference holding the same articles.
    const ref = new MemorySnapshot([B2, C], meta);
    for (const q of ["cybersecurity in Geneva", "football stadium", "strategic talks", "cybersecurty"]) {
      const [got, want] = [await s3.keyword(q, 10), await ref.keyword(q, 10)];
      expect(
        await named(
          s3,
          got.hits.map((h) => h.id),
        ),
        q,
      ).toEqual(
        await named(
          ref,
          want.hits.map((h) => h.id),
        ),
      );
      got.hits.forEach((h, i) => {
        expect(h.score).toBeCloseTo(want.hits[i]!.score, 9);
        expect(h.matched).toBe(want.hits[i]!.matched);
      });
      expect(got.queryTerms).toBe(want.queryTerms);
    }
    const q = B2.vectors.subarray(DIMS, 2 * DIMS);
    expect(
      await named(
        s3,
        (await s3.dense(q, 3)).map((h) => h.id),
      ),
    ).toEqual(
      await named(
        ref,
        (await ref.dense(q, 3)).map((h) => h.id),
      ),
    );
    expect(
      await named(
        s3,
        (await s3.dense(q, 9, { articleId: "c" })).map((h) => h.id),
      ),
    ).toEqual(
      await named(
        ref,
        (await ref.dense(q, 9, { articleId: "c" })).map((h) => h.id),
      ),
    );
    expect((await s3.keyword("cybersecurity", 10, { articleId: "c" })).hits.map((h) => h.id)).toEqual([8]);

    // A replace starts labels after every label used so far.
    const fourth = await store.write(change({ mode: "replace", upsert: [A] }));
    expect(await fourth.snapshot.passageIds("a")).toEqual([9, 10]);
    expect(fourth.snapshot.info).toMatchObject({ articles: 1, passages: 2 });
    await expect(fourth.snapshot.passages([0])).rejects.toThrow(/no passage 0/);
  });

  it("refuses an update with another model or dimension, and loses nothing", async () => {
    const store = await openStore();
    await store.write(change({ mode: "replace", upsert: [A] }));
    await expect(store.write(change({ model: "other", upsert: [B] }))).rejects.toThrow(/same; rebuild it whole/);
    await expect(store.write(change({ upsert: [{ ...B, vectors: new Float32Array(3) }] }))).rejects.toThrow(/do not match/);
    const s = (await store.current())!;
    expect(s.info.passages).toBe(2);
    expect((await s.articles()).map((a) => a.id)).toEqual(["a"]);
  });

  it("a bad row met in the middle of the bulk COPY aborts the write cleanly: nothing lost, the store still writes", async () => {
    const store = await openStore();
    await store.write(change({ mode: "replace", upsert: [A] }));
    const stray = { ...C, passages: C.passages.map((p, n) => (n === 1 ? { ...p, articleId: "elsewhere" } : p)) };
    for (const mode of ["update", "replace"] as const) {
      await expect(store.write(change({ mode, upsert: [B, stray] }))).rejects.toThrow(/passage c#1 is not of article c/);
      const s = (await store.current())!;
      expect(s.info).toMatchObject({ articles: 1, passages: 2 });
      expect(await named(s, await s.passageIds("a"))).toEqual(["a#0", "a#1"]);
    }
    const next = await store.write(change({ upsert: [B, C] }));
    expect(next.snapshot.info).toMatchObject({ articles: 3, passages: 6 });
    expect((await next.snapshot.keyword("geneva", 10)).hits).toHaveLength(3);
  });
});

describe("reads", () => {
  it("calls made together share a query and each gets its own answer; a stale id fails only its own call", async () => {
    const store = await openStore();
    const { snapshot: s } = await store.write(change({ mode: "replace", upsert: [A, B, C] }));
    const [a, b, none, c] = await Promise.all(["a", "b", "nothing", "c"].map((id) => s.passageIds(id)));
    expect([a, b, none, c]).toEqual([[0, 1], [2, 3], [], [4, 5]]);
    const [pa, pc, stale, vb] = await Promise.allSettled([s.passages([1, 0]), s.passages([5]), s.passages([2, 99]), s.vectors([3, 2])]);
    expect(pa.status === "fulfilled" && pa.value.map((p) => p.id)).toEqual(["a#1", "a#0"]);
    expect(pc.status === "fulfilled" && pc.value[0]!.text).toBe(C.passages[1]!.text);
    expect(stale.status === "rejected" && String(stale.reason)).toMatch(/no passage 99/);
    // Vectors come back as the exact float32s written (binary, not text).
    expect(vb.status === "fulfilled" && vb.value.map((v) => Array.from(v))).toEqual([
      Array.from(B.vectors.subarray(DIMS, 2 * DIMS)),
      Array.from(B.vectors.subarray(0, DIMS)),
    ]);
  });
});

/**
 * Keyword hits agree with the reference: same length, every score within 1e-9 relative, the same
 * number of matched terms, and in the first `top` the same ids except between hits whose scores tie
 * (PostgreSQL sums the contributions in another order, so a tie may break the other way).
 */
function expectSameHits(got: KeywordScored[], want: KeywordScored[], top: number, question: string): void {
  expect(got.length, question).toBe(want.length);
  got.forEach((h, i) => {
    expect(Math.abs(h.score - want[i]!.score), question).toBeLessThanOrEqual(1e-9 * want[i]!.score);
    expect(h.matched, question).toBe(want[i]!.matched);
  });
  const tie = (i: number) => want.some((w, j) => j !== i && Math.abs(w.score - want[i]!.score) <= 1e-9 * w.score);
  for (let i = 0; i < Math.min(top, want.length); i++) if (!tie(i)) expect(got[i]!.id, question).toBe(want[i]!.id);
}

describe("the shipped corpus with real vectors, against the exact reference", () => {
  let ref: MemorySnapshot;
  let snap: Snapshot;
  let embedder: TransformersEmbedder;
  const questions = fs
    .readFileSync(path.join(ROOT, "test", "eval", "dev-qa.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { question: string }).question);
  const queryVectors: Float32Array[] = [];

  beforeAll(async () => {
    embedder = await TransformersEmbedder.load({ model: loadCoreConfig({}).EMBED_MODEL, cacheDir: mkTmp("citebot-cache-") });
    const { articles } = await loadCorpus(REAL_CORPUS);
    const passages = articles.flatMap((a) => splitArticle(a));
    const vectors = new Float32Array(passages.length * embedder.dimensions);
    (await embedder.embed(passages.map((p) => p.text))).forEach((v, i) => vectors.set(v, i * embedder.dimensions));
    const rows = MemorySnapshot.rowsOf(articles, passages, vectors, embedder.dimensions);
    const m = { model: modelKey(embedder), dimensions: embedder.dimensions, settingsHash: "shipped" };
    ref = new MemorySnapshot(rows, m);
    const store = await openStore();
    snap = (await store.write({ mode: "replace", ...m, upsert: rows, remove: [] })).snapshot;
    queryVectors.push(...(await embedder.embed(questions)));
  }, 300_000);
  afterAll(async () => embedder?.close());

  it("holds the same passages and vectors (labels = the reference's ids on a fresh write)", async () => {
    expect(snap.info.passages).toBe(ref.info.passages);
    const ids = [0, 1, Math.floor(ref.info.passages / 2), ref.info.passages - 1];
    expect(await snap.passages(ids)).toEqual(await ref.passages(ids));
    const [got, want] = [await snap.vectors(ids), await ref.vectors(ids)];
    got.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(want[i]!)));
  });

  it("dense: top-10 overlap ≥ 0.9 per question and ≥ 0.98 on average (HNSW, ef_search 256); scores to 1e-5", async () => {
    let total = 0;
    for (const q of queryVectors) {
      const [got, want] = [await snap.dense(q, 10), await ref.dense(q, 10)];
      const wantIds = new Set(want.map((h) => h.id));
      const overlap = got.filter((h) => wantIds.has(h.id)).length / 10;
      expect(overlap).toBeGreaterThanOrEqual(0.9);
      total += overlap;
      expect(got[0]!.score).toBeCloseTo(want[0]!.score, 5);
    }
    expect(total / queryVectors.length).toBeGreaterThanOrEqual(0.98);
  });

  it("keyword: the same top-3 as the reference, scores equal to 1e-9 relative", async () => {
    for (const q of questions) {
      const [got, want] = [await snap.keyword(q, 10), await ref.keyword(q, 10)];
      expect(got.queryTerms).toBe(want.queryTerms);
      expectSameHits(got.hits, want.hits, 3, q);
    }
  });

  it("keyword, rare terms first (MaxScore in SQL): the same hits as scoring every matching passage", async () => {
    const saved = { ...KEYWORD_PRUNING };
    const before = { ...keywordPaths };
    const asked = [...questions, "Russia United States talks", "the talks in Geneva on strategic stability", "Russia said the U.S. talks"];
    try {
      // On this small corpus nothing is common at the shipped settings: scale them down.
      Object.assign(KEYWORD_PRUNING, { candidateBudget: 6, minGain: 1 });
      for (const k of [1, 2, 3]) {
        for (const q of asked) {
          const [got, want] = [await snap.keyword(q, k), await ref.keyword(q, k)];
          expectSameHits(got.hits, want.hits, k, q);
        }
      }
    } finally {
      Object.assign(KEYWORD_PRUNING, saved);
    }
    // Both outcomes happened: rare terms first answered some questions alone, and fell back on others.
    expect(keywordPaths.pruned).toBeGreaterThan(before.pruned);
    expect(keywordPaths.fallback).toBeGreaterThan(before.fallback);
  });

  it("dense + keyword fused: the top-3 of every dev question equal the reference's", async () => {
    // The retriever's first stage ("mix"): 50 dense + 50 keyword candidates, 0.5·cosine + 0.5·BM25/best.
    const fuse = async (s: Snapshot, question: string, q: Float32Array) => {
      const dense = await s.dense(q, 50);
      const { hits } = await s.keyword(question, 50);
      const best = hits[0]?.score ?? 0;
      const ids = [...new Set([...dense.map((h) => h.id), ...hits.map((h) => h.id)])];
      const vecs = await s.vectors(ids);
      const kw = new Map(hits.map((h) => [h.id, best > 0 ? h.score / best : 0]));
      return ids
        .map((id, i) => ({
          id,
          score:
            0.5 *
              Math.max(
                0,
                vecs[i]!.reduce((a, x, d) => a + x * q[d]!, 0),
              ) +
            0.5 * (kw.get(id) ?? 0),
        }))
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, 3)
        .map((h) => h.id);
    };
    for (const [i, question] of questions.entries()) {
      expect(await fuse(snap, question, queryVectors[i]!), question).toEqual(await fuse(ref, question, queryVectors[i]!));
    }
  });

  it("honours the article filter exactly", async () => {
    const articleId = (await ref.articles())[1]!.id;
    const q = queryVectors[0]!;
    const [got, want] = [await snap.dense(q, 5, { articleId }), await ref.dense(q, 5, { articleId })];
    expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
    const kw = [await snap.keyword(questions[0]!, 5, { articleId }), await ref.keyword(questions[0]!, 5, { articleId })];
    expect(kw[0]!.hits.map((h) => h.id)).toEqual(kw[1]!.hits.map((h) => h.id));
  });
});

describe("several clients", () => {
  it("two stores on one schema answer at once, while one of them writes", async () => {
    const schema = `t_${randomBytes(4).toString("hex")}`;
    const one = await openStore(schema);
    const two = await openStore(schema);
    await one.write(change({ mode: "replace", upsert: [A, B] }));
    const [s1, s2] = [(await one.current())!, (await two.current())!];
    expect(s2.info.version).toBe(s1.info.version);
    const q = A.vectors.subarray(0, DIMS);
    const work = [];
    for (let i = 0; i < 20; i++) {
      work.push(s1.keyword("cybersecurity Geneva", 3), s2.keyword("cybersecurity Geneva", 3), s1.dense(q, 2), s2.dense(q, 2));
    }
    work.push(two.write(change({ upsert: [C] })));
    const results = await Promise.all(work);
    // Every keyword answer sees one consistent version: before C (best: passage 1) or after (C's passage).
    for (let i = 0; i < 80; i += 4) {
      expect([1, 5]).toContain((results[i] as { hits: Array<{ id: number }> }).hits[0]!.id);
      expect((results[i + 2] as Array<{ id: number }>)[0]!.id).toBe(0);
    }
    expect((await one.current())!.info.passages).toBe(6);
  });

  it("watch() hears another connection's write (LISTEN/NOTIFY), once per version", async () => {
    const schema = `t_${randomBytes(4).toString("hex")}`;
    const reader = await openStore(schema);
    const writer = await openStore(schema);
    await writer.write(change({ mode: "replace", upsert: [A] }));
    const other = await openStore();
    let calls = 0;
    let resolveCall: () => void = () => {};
    const stop = reader.watch(() => {
      calls++;
      resolveCall();
    });
    await new Promise((r) => setTimeout(r, 300));
    // A write to another schema on the same database is not a change of this index.
    await other.write(change({ mode: "replace", upsert: [B] }));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(0);
    const heard = new Promise<void>((r) => (resolveCall = r));
    await writer.write(change({ upsert: [C] }));
    await Promise.race([heard, new Promise((_, reject) => setTimeout(() => reject(new Error("no notification in 5 s")), 5000))]);
    expect(calls).toBe(1);
    expect((await reader.current())!.info.articles).toBe(2);
    stop();
    await writer.write(change({ remove: ["c"] }));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
  });
  it("watch() reconnects when its connection drops, and reports a write it missed meanwhile", async () => {
    const schema = `t_${randomBytes(4).toString("hex")}`;
    const reader = await openStore(schema);
    const writer = await openStore(schema);
    await writer.write(change({ mode: "replace", upsert: [A] }));
    let calls = 0;
    const stop = reader.watch(() => calls++);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      const listening = async () =>
        (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [`citebot-watch:${schema}`])).rows.map((r) => r.pid as number);
      // The reconnect backs off 1 s, 2 s, 4 s … up to 30 s when attempts fail (a loaded machine):
      // allow the whole backoff before calling it lost.
      const until = async (ok: () => Promise<boolean>, what: string, ms = 10_000) => {
        for (const t0 = Date.now(); !(await ok()); await new Promise((r) => setTimeout(r, 100)))
          if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
      };
      await until(async () => (await listening()).length === 1, "the watch connection");
      const [pid] = await listening();
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      // Written while nobody listens: the re-opened connection must notice it.
      await writer.write(change({ upsert: [B] }));
      await until(async () => calls === 1, "onChange after the reconnect", 45_000);
      const [again] = await listening();
      expect(again).toBeDefined();
      expect(again).not.toBe(pid);
      // And it listens again.
      await writer.write(change({ upsert: [C] }));
      await until(async () => calls === 2, "onChange on the new connection");
    } finally {
      stop();
      await admin.end();
    }
  }, 90_000);
});

describe("connection problems", () => {
  it("a bad DATABASE_URL gets a friendly error that never shows the password", async () => {
    const url = "postgresql://alice:s3cretPW@127.0.0.1:1/citebot";
    const err = await PgStore.open({ url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgStoreError);
    const message = (err as Error).message;
    expect(message).toMatch(/^Cannot connect to PostgreSQL at postgresql:\/\/alice:\*\*\*@127\.0\.0\.1:1\/citebot: .*is the server running/);
    expect(message).not.toContain("s3cretPW");
    const wrong = await PgStore.open({ url: "mysql://bob:hunter2@db/x" }).catch((e: unknown) => e);
    expect((wrong as Error).message).toMatch(/must start with postgresql:\/\//);
    expect((wrong as Error).message).not.toContain("hunter2");
    const broken = await PgStore.open({ url: "postgresql://u:sec@ret@[bad/db" }).catch((e: unknown) => e);
    expect((broken as Error).message).toMatch(/^DATABASE_URL is not a valid connection URL \(postgresql:\/\/u:\*\*\*@\[bad\/db\)/);
    expect((broken as Error).message).not.toMatch(/sec|ret@/);
    expect(redactUrl("postgres://u:p%40ss@h/db?sslmode=require&password=zz")).toBe("postgres://u:***@h/db?sslmode=require&password=***");
    // A Unix-socket URL (no host) is not a WHATWG URL, and is redacted all the same.
    expect(redactUrl("postgresql://u:pw@/db?host=/tmp/x")).toBe("postgresql://u:***@/db?host=/tmp/x");
    expect(redactUrl("postgresql://u@h/db")).toBe("postgresql://u@h/db");
  });

  it("a database that does not exist is named, with what to do", async () => {
    const url = server.url.replace(/^(postgres(?:ql)?:\/\/[^/]*\/)[^?]*/, "$1no_such_db");
    const err = await PgStore.open({ url }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no_such_db.*create the database first/);
  });
});

describe("the test server's provisioning", () => {
  it("a missing python3 is an error that says what to install", async () => {
    const dir = mkTmp("citebot-pgserver-");
    const err = await ensurePgserverInstalled({ cacheDir: dir, python3: path.join(dir, "no-such-python3") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgServerError);
    expect((err as Error).message).toMatch(/need python3.*apt-get install -y python3 python3-venv/);
  });

  it("a python3 without its venv module (Debian without python3-venv) is named as such", async () => {
    const dir = mkTmp("citebot-pgserver-");
    const fake = path.join(dir, "python3");
    fs.writeFileSync(
      fake,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.11.2"; exit 0; fi\necho "The virtual environment was not created successfully because ensurepip is not available." >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const err = await ensurePgserverInstalled({ cacheDir: dir, python3: fake }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/ensurepip is not available.*apt-get install -y python3-venv/);
    expect(fs.existsSync(path.join(dir, "venv"))).toBe(false);
  });
});
