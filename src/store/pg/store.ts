// The PostgreSQL + pgvector engine behind the store contract (../types.ts): articles, passages,
// their vectors (HNSW, cosine) and a BM25 keyword side (./keyword.ts) in tables of one schema.
// Every write is one transaction and ends with NOTIFY citebot_index, '<version>'; watch() LISTENs
// on a dedicated connection. Readers query the live tables: a snapshot records the version it was
// opened at, and as passage labels are never reused (not even by a full rewrite), an id a newer
// write removed is reported as such instead of naming another passage.
//
// Writes: an update deletes and inserts rows under MVCC, so readers keep answering from the old
// rows until it commits. Rows are loaded with binary COPY (./copy.ts). A replace (new model or
// settings: rare) truncates the tables and builds the HNSW index after loading the rows, far faster
// than row by row, with parallel workers and the memory to hold the graph (PG_BUILD); TRUNCATE's
// lock makes readers wait (not fail) until it commits.
//
// Relied on: PostgreSQL ≥ 11 (covering indexes with INCLUDE, jsonb, multi-array unnest, pg_notify,
// advisory locks, `-c` settings in the startup packet, binary COPY) and pgvector ≥ 0.5 (HNSW,
// vector_cosine_ops, hnsw.ef_search, its binary input and vector_send); tested on PostgreSQL 18.3
// with pgvector 0.8.2. Session settings (search_path, hnsw.ef_search) travel as startup options,
// which a PgBouncer in front must pass through (`ignore_startup_parameters` does not: it drops them).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { analyze } from "../../search/postings/analyze.js";
import type { Article, Passage } from "../../types.js";
import { SEARCH_EF } from "../fs/snapshot.js";
import type { Changes, Filter, IndexStore, KeywordScored, PassageId, Scored, Snapshot, SnapshotInfo, WriteStats } from "../types.js";
import { connectionError, describeTarget, ident, PgStoreError, poolConfig, scrub } from "./connection.js";
import { copyRows } from "./copy.js";
import { keywordSearch } from "./keyword.js";
import { migrate } from "./migrate.js";

export { PgStoreError, redactUrl } from "./connection.js";

export const NOTIFY_CHANNEL = "citebot_index";

/** The HNSW graph pgvector builds: m as the embedded engine's; ef_construction 128, not pgvector's 64: recall@10 0.969 → 0.999 at 30k rows for a 1.4× longer write (scripts/bench/pg.ts). */
export const PG_HNSW = { m: 16, efConstruction: 128 };
/** hnsw.ef_search for a dense query: the embedded engine's shipped ef (the retriever's), or k when larger (pgvector's cap: 1000). */
export const PG_EF_SEARCH = SEARCH_EF;
/**
 * How a replace builds the HNSW index: with up to `workers` parallel maintenance workers (besides
 * the leader; PostgreSQL may use fewer for a small table), and maintenance_work_mem raised to hold
 * the whole graph (pgvector builds far slower once the graph outgrows it), up to maxMemoryMb. A
 * server whose own setting is higher keeps it.
 */
export const PG_BUILD = { workers: 2, maxMemoryMb: 4096 };
const MAX_EF_SEARCH = 1000;

export interface PgStoreOptions {
  /** A postgresql:// connection string (DATABASE_URL). */
  url?: string;
  /** Or a node-postgres pool config. */
  pool?: pg.PoolConfig;
  /** The PostgreSQL schema holding citebot's tables (default "citebot"). */
  schema?: string;
  /** Pool size (default 4). */
  maxConnections?: number;
}

interface MetaRow {
  version: string;
  model: string;
  dimensions: number;
  settings_hash: string;
  created_at: Date;
  next_label: string;
  next_article: string;
  passages: string;
  total_length: string;
  articles: string;
}

const infoOf = (m: MetaRow): SnapshotInfo => ({
  version: m.version,
  model: m.model,
  dimensions: m.dimensions,
  articles: Number(m.articles),
  passages: Number(m.passages),
  settingsHash: m.settings_hash,
  createdAt: m.created_at.toISOString(),
});

/** pgvector's text form of row `i` of `rows` (9 significant digits: float32 round-trips exactly). */
function vectorText(rows: Float32Array, i: number, dim: number): string {
  const parts = new Array<string>(dim);
  for (let d = 0; d < dim; d++) parts[d] = rows[i * dim + d]!.toPrecision(9);
  return `[${parts.join(",")}]`;
}

/** A vector from pgvector's binary form (vector_send): int16 dim, int16 unused, dim big-endian float4. */
function vectorFromSend(buf: Buffer): Float32Array {
  const dim = buf.readInt16BE(0);
  const out = new Float32Array(dim);
  for (let d = 0; d < dim; d++) out[d] = buf.readFloatBE(4 + 4 * d);
  return out;
}

/**
 * Requests made in one turn of the event loop, answered together: each caller's keys are fetched
 * in one query for all of them (a failure fails every caller of that turn).
 */
class TickBatch<K, V> {
  private queue: Array<{ keys: readonly K[]; done: (m: Map<K, V>) => void; fail: (err: unknown) => void }> = [];
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>) {}

  get(keys: readonly K[]): Promise<Map<K, V>> {
    return new Promise((done, fail) => {
      if (this.queue.push({ keys, done, fail }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    try {
      const found = await this.fetch([...new Set(batch.flatMap((b) => b.keys))]);
      for (const b of batch) b.done(found);
    } catch (err) {
      for (const b of batch) b.fail(err);
    }
  }
}

const newVersion = () => `pg-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

/**
 * maintenance_work_mem (MB) for building the graph of `rows` vectors of `dim`: pgvector holds each
 * element (its vector, level-0 neighbours 2m and the rest) in memory, ~2.3 kB per 384-d row at m 16,
 * with a quarter more to spare; never below the server's setting, at most PG_BUILD.maxMemoryMb.
 */
async function buildMemoryMb(client: pg.ClientBase, rows: number, dim: number): Promise<number> {
  const perRow = 8 + 4 * dim + 2 * PG_HNSW.m * 16 + 256;
  const wanted = Math.ceil((rows * perRow * 1.25) / 2 ** 20);
  const { rows: r } = await client.query<{ kb: string }>("SELECT setting AS kb FROM pg_settings WHERE name = 'maintenance_work_mem'");
  const current = Math.floor(Number(r[0]?.kb ?? 65536) / 1024);
  return Math.max(current, Math.min(Math.max(wanted, 64), PG_BUILD.maxMemoryMb));
}

/** Batches of at most `size` items. */
function* batches<T>(xs: T[], size: number): Generator<T[]> {
  for (let i = 0; i < xs.length; i += size) yield xs.slice(i, i + size);
}

export class PgStore implements IndexStore {
  readonly kind = "postgres" as const;
  private closed = false;
  private readonly watchers = new Set<() => void>();

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    private readonly config: pg.PoolConfig,
  ) {}

  /** Connects (a friendly PgStoreError when it cannot, without the password) and applies the migrations. */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const schema = options.schema ?? "citebot";
    const config = poolConfig(options, options.maxConnections ?? 4);
    let first: pg.Client;
    try {
      first = new pg.Client(config);
    } catch (err) {
      throw new PgStoreError(`DATABASE_URL is not a valid connection URL (${describeTarget(config)}): ${(err as Error).message}`, { cause: err });
    }
    first.on("error", () => {});
    try {
      await first.connect();
    } catch (err) {
      await first.end().catch(() => {});
      throw connectionError(err, config);
    }
    let vectorSchema: string;
    try {
      ({ vectorSchema } = await migrate(first, schema));
    } finally {
      await first.end().catch(() => {});
    }
    const searchPath = `${ident(schema)}, ${ident(vectorSchema)}`;
    // Session settings travel in the startup packet: no extra round trip per new connection.
    const startup = [config.options, `-c search_path=${searchPath.replace(/[\s\\]/g, "\\$&")}`, `-c hnsw.ef_search=${PG_EF_SEARCH}`].filter(Boolean).join(" ");
    const pool = new pg.Pool({ ...config, options: startup });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on("error", () => {});
    return new PgStore(pool, schema, config);
  }

  /** Where it connects, password redacted (for logs). */
  get target(): string {
    return describeTarget(this.config);
  }

  private async meta(client: pg.ClientBase | pg.Pool = this.pool): Promise<MetaRow | undefined> {
    return (await client.query<MetaRow>("SELECT * FROM meta")).rows[0];
  }

  async current(): Promise<Snapshot | undefined> {
    const m = await this.meta();
    return m ? new PgSnapshot(this, infoOf(m)) : undefined;
  }

  async write(changes: Changes): Promise<{ snapshot: Snapshot; stats: WriteStats }> {
    const t0 = performance.now();
    const dim = changes.dimensions;
    if (!Number.isInteger(dim) || dim < 1 || dim > 16000) throw new PgStoreError(`cannot store ${dim}-dimensional vectors`);
    for (const r of changes.upsert) {
      if (r.vectors.length !== r.passages.length * dim) throw new PgStoreError(`vectors of ${r.article.id} do not match its passages`);
    }
    const ids = changes.upsert.map((r) => r.article.id);
    if (new Set(ids).size !== ids.length) throw new PgStoreError("an article is written twice in one change");
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // One writer at a time per schema; readers are not blocked (MVCC), except by a replace's TRUNCATE.
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`citebot-write:${this.schema}`]);
      const old = await this.meta(client);
      const stats: WriteStats = { articlesWritten: 0, articlesRemoved: 0, passagesWritten: 0, passagesRemoved: 0, seconds: 0 };
      let nextLabel = Number(old?.next_label ?? 0);
      let nextArticle = Number(old?.next_article ?? 0);
      let passages = 0;
      let totalLength = 0;
      const keepOrd = new Map<string, number>();
      if (changes.mode === "replace") {
        stats.passagesRemoved = Number(old?.passages ?? 0);
        stats.articlesRemoved = Number(old?.articles ?? 0);
        await client.query("TRUNCATE postings, terms, passages, articles");
        await client.query("DROP INDEX IF EXISTS passages_embedding");
        await client.query(`ALTER TABLE passages ALTER COLUMN embedding TYPE vector(${dim})`);
      } else {
        if (!old) throw new PgStoreError("there is no index to update yet: write the whole index first (mode replace)");
        if (old.model !== changes.model || old.dimensions !== dim || old.settings_hash !== changes.settingsHash) {
          throw new PgStoreError(
            `the stored index was built with ${old.model} (${old.dimensions}-d, settings ${old.settings_hash}): an update must use the same; rebuild it whole`,
          );
        }
        passages = Number(old.passages);
        totalLength = Number(old.total_length);
        const touched = [...new Set([...changes.remove, ...ids])];
        if (touched.length > 0) {
          const ords = await client.query<{ id: string; ord: string }>("SELECT id, ord FROM articles WHERE id = ANY($1::text[])", [touched]);
          for (const r of ords.rows) keepOrd.set(r.id, Number(r.ord));
          const gone = await client.query<{ label: string; length: number }>("SELECT label, length FROM passages WHERE article_id = ANY($1::text[])", [
            touched,
          ]);
          const labels = gone.rows.map((r) => r.label);
          stats.passagesRemoved = labels.length;
          passages -= labels.length;
          totalLength -= gone.rows.reduce((a, r) => a + r.length, 0);
          await client.query(
            `WITH gone AS (DELETE FROM postings WHERE label = ANY($1::bigint[]) RETURNING term),
             c AS (SELECT term, count(*) AS n FROM gone GROUP BY term)
             UPDATE terms t SET df = t.df - c.n FROM c WHERE t.term = c.term`,
            [labels],
          );
          await client.query("DELETE FROM terms WHERE df = 0");
          await client.query("DELETE FROM passages WHERE article_id = ANY($1::text[])", [touched]);
          await client.query("DELETE FROM articles WHERE id = ANY($1::text[])", [touched]);
          const removed = new Set(changes.remove.filter((id) => !ids.includes(id)));
          stats.articlesRemoved = [...keepOrd.keys()].filter((id) => removed.has(id)).length;
        }
      }

      // Articles, passages (with vectors), postings and document frequencies, each table in one
      // binary COPY (./copy.ts). Labels are handed out in order, so the postings (copied first:
      // they need each passage's analysed terms) and the passages agree without holding the terms.
      const df = new Map<string, number>();
      const articleRows = changes.upsert.map((r) => ({ r, ord: keepOrd.get(r.article.id) ?? nextArticle++ }));
      await copyRows(client, "articles", ["id", "ord", "hash", "metadata", "body"], articleRows, (e, { r, ord }) =>
        e
          .row(5)
          .text(r.article.id)
          .int8(ord)
          .text(r.hash)
          .jsonb(JSON.stringify(metadataOf(r.article)))
          .text(r.article.text),
      );
      const firstLabel = nextLabel;
      const count = changes.upsert.reduce((n, r) => n + r.passages.length, 0);
      const lengths = new Int32Array(count);
      function* analysed(): Generator<{ label: number; terms: string[] }> {
        let label = firstLabel;
        for (const r of changes.upsert) {
          for (const p of r.passages) {
            if (p.articleId !== r.article.id) throw new PgStoreError(`passage ${p.id} is not of article ${r.article.id}`);
            const terms = analyze(p.text);
            lengths[label - firstLabel] = terms.length;
            yield { label: label++, terms };
          }
        }
      }
      await copyRows(client, "postings", ["term", "label", "tf", "length"], analysed(), (e, { label, terms }) => {
        const tf = new Map<string, number>();
        for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
        for (const [t, n] of tf) {
          e.row(4).text(t).int8(label).int4(n).int4(terms.length);
          df.set(t, (df.get(t) ?? 0) + 1);
        }
      });
      function* rowsOfPassages(): Generator<{ label: number; p: Passage; vectors: Float32Array; i: number }> {
        let label = firstLabel;
        for (const r of changes.upsert) for (let i = 0; i < r.passages.length; i++) yield { label: label++, p: r.passages[i]!, vectors: r.vectors, i };
      }
      await copyRows(
        client,
        "passages",
        ["label", "article_id", "n", "start_offset", "end_offset", "body", "length", "embedding"],
        rowsOfPassages(),
        (e, { label, p, vectors, i }) =>
          e
            .row(8)
            .int8(label)
            .text(p.articleId)
            .int4(p.n)
            .int4(p.start)
            .int4(p.end)
            .text(p.text)
            .int4(lengths[label - firstLabel]!)
            .vector(vectors, i * dim, dim),
      );
      nextLabel += count;
      passages += count;
      for (let i = 0; i < count; i++) totalLength += lengths[i]!;
      stats.articlesWritten = changes.upsert.length;
      stats.passagesWritten = count;
      for (const chunk of batches([...df], 50_000)) {
        await client.query(
          "INSERT INTO terms (term, df) SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT (term) DO UPDATE SET df = terms.df + EXCLUDED.df",
          [chunk.map(([t]) => t), chunk.map(([, n]) => n)],
        );
      }
      if (changes.mode === "replace") {
        // Built after the rows are in: far faster than growing the graph row by row.
        await client.query(`SET LOCAL maintenance_work_mem = '${await buildMemoryMb(client, count, dim)}MB'`);
        await client.query(`SET LOCAL max_parallel_maintenance_workers = ${PG_BUILD.workers}`);
        await client.query(
          `CREATE INDEX passages_embedding ON passages USING hnsw (embedding vector_cosine_ops) WITH (m = ${PG_HNSW.m}, ef_construction = ${PG_HNSW.efConstruction})`,
        );
        // Fresh statistics for the planner; after an update autovacuum keeps them current.
        await client.query("ANALYZE passages, postings, terms");
      }

      const version = newVersion();
      const articles = Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM articles")).rows[0]!.n);
      await client.query("DELETE FROM meta");
      const meta = await client.query<MetaRow>(
        `INSERT INTO meta (version, model, dimensions, settings_hash, created_at, next_label, next_article, passages, total_length, articles)
         VALUES ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9) RETURNING *`,
        [version, changes.model, dim, changes.settingsHash, nextLabel, nextArticle, passages, totalLength, articles],
      );
      // Delivered to listeners when (and only if) the transaction commits.
      await client.query("SELECT pg_notify($1, $2)", [NOTIFY_CHANNEL, version]);
      await client.query("COMMIT");
      stats.seconds = (performance.now() - t0) / 1000;
      return { snapshot: new PgSnapshot(this, infoOf(meta.rows[0]!)), stats };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * LISTENs on a dedicated connection; calls onChange once per version that differs from the last
   * one seen (a NOTIFY from another schema on the same database changes nothing). A dropped
   * connection is re-opened (1 s, doubling to 30 s), and the version re-checked, as a write may
   * have been missed meanwhile.
   */
  watch(onChange: () => void): () => void {
    let stopped = false;
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delay = 1000;
    let seen: string | undefined;
    let known = false;
    // The baseline is the version current when watching starts, read at once through the pool: a
    // first watch connection dropped before its own first check would otherwise take a write it
    // missed as the baseline, and never report it.
    const baseline = this.pool
      .query<{ version: string }>("SELECT version FROM meta")
      .then((r) => r.rows[0]?.version)
      .catch(() => undefined);
    const check = async (c: pg.Client) => {
      const version = (await c.query<{ version: string }>("SELECT version FROM meta")).rows[0]?.version;
      if (!known) {
        seen = (await baseline) ?? version;
        known = true;
      }
      if (version !== seen && version !== undefined && !stopped) {
        seen = version;
        onChange();
      }
    };
    const connect = async () => {
      if (stopped) return;
      const c = new pg.Client({ ...this.pool.options, application_name: `citebot-watch:${this.schema}`.slice(0, 63) });
      client = c;
      const retry = () => {
        if (stopped || client !== c) return;
        client = undefined;
        c.end().catch(() => {});
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30_000);
      };
      c.on("error", retry);
      c.on("end", retry);
      c.on("notification", (msg) => {
        if (msg.channel === NOTIFY_CHANNEL) check(c).catch(() => {});
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
        await check(c);
        delay = 1000;
      } catch {
        retry();
      }
    };
    connect();
    const stop = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      c?.end().catch(() => {});
      this.watchers.delete(stop);
    };
    this.watchers.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.watchers]) stop();
    await this.pool.end();
  }

  /** Runs `fn` on one client inside a read-only repeatable-read transaction (one consistent view). */
  async readTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** `message` (a driver error's, say) with the connection string's password replaced by ***, for logs. */
  scrub(message: string): string {
    return scrub(message, this.config.connectionString);
  }
}

function metadataOf(a: Article): Omit<Article, "id" | "text"> {
  const { id: _id, text: _text, ...rest } = a;
  return rest;
}

interface PassageRow {
  label: string;
  article_id: string;
  n: number;
  start_offset: number;
  end_offset: number;
  body: string;
}

export class PgSnapshot implements Snapshot {
  // The retriever asks for many articles' passages and vectors at once (one call per article):
  // the calls of one turn of the event loop share one query each.
  private readonly passageBatch = new TickBatch<PassageId, PassageRow>(async (labels) => {
    const { rows } = await this.store.pool.query<PassageRow>(
      "SELECT label, article_id, n, start_offset, end_offset, body FROM passages WHERE label = ANY($1::bigint[])",
      [labels],
    );
    return new Map(rows.map((r) => [Number(r.label), r]));
  });
  private readonly idsBatch = new TickBatch<string, PassageId[]>(async (articleIds) => {
    const { rows } = await this.store.pool.query<{ article_id: string; label: string }>(
      "SELECT article_id, label FROM passages WHERE article_id = ANY($1::text[]) ORDER BY article_id, n",
      [articleIds],
    );
    const out = new Map<string, PassageId[]>();
    for (const r of rows) {
      let list = out.get(r.article_id);
      if (!list) out.set(r.article_id, (list = []));
      list.push(Number(r.label));
    }
    return out;
  });
  // vector_send: the float32s as bytes (bytea), not 384 decimal numbers to parse.
  private readonly vectorBatch = new TickBatch<PassageId, Float32Array>(async (labels) => {
    const { rows } = await this.store.pool.query<{ label: string; v: Buffer }>(
      "SELECT label, vector_send(embedding) AS v FROM passages WHERE label = ANY($1::bigint[])",
      [labels],
    );
    return new Map(rows.map((r) => [Number(r.label), vectorFromSend(r.v)]));
  });

  constructor(
    private readonly store: PgStore,
    readonly info: SnapshotInfo,
  ) {}

  private missing(ids: readonly PassageId[], found: Set<number>): never {
    const id = ids.find((i) => !found.has(i));
    throw new PgStoreError(
      `no passage ${id} in the PostgreSQL index: it was removed by a write after version ${this.info.version} (open the current snapshot again), or never existed`,
    );
  }

  async articles(): Promise<Article[]> {
    const { rows } = await this.store.pool.query<{ id: string; metadata: Omit<Article, "id" | "text">; body: string }>(
      "SELECT id, metadata, body FROM articles ORDER BY ord",
    );
    return rows.map((r) => ({ id: r.id, ...r.metadata, text: r.body }));
  }

  async articleHashes(): Promise<Map<string, string>> {
    const { rows } = await this.store.pool.query<{ id: string; hash: string }>("SELECT id, hash FROM articles");
    return new Map(rows.map((r) => [r.id, r.hash]));
  }

  async passages(ids: readonly PassageId[]): Promise<Passage[]> {
    if (ids.length === 0) return [];
    const byLabel = await this.passageBatch.get(ids);
    if (!ids.every((id) => byLabel.has(id))) this.missing(ids, new Set(byLabel.keys()));
    return ids.map((id) => {
      const r = byLabel.get(id)!;
      return { id: `${r.article_id}#${r.n}`, articleId: r.article_id, n: r.n, text: r.body, start: r.start_offset, end: r.end_offset };
    });
  }

  async passageIds(articleId: string): Promise<PassageId[]> {
    return (await this.idsBatch.get([articleId])).get(articleId) ?? [];
  }

  async dense(query: Float32Array, k: number, filter?: Filter): Promise<Scored[]> {
    const limit = Math.max(0, Math.floor(k));
    if (limit === 0) return [];
    if (query.length !== this.info.dimensions) throw new PgStoreError(`a ${query.length}-d query vector for a ${this.info.dimensions}-d index`);
    const v = vectorText(query, 0, query.length);
    let rows: Array<{ label: string; score: number }>;
    if (filter?.articleId !== undefined) {
      // One article's few rows: an exact scan (inner product orders unit vectors as cosine does,
      // and no index serves it, so the planner cannot pick the approximate one).
      ({ rows } = await this.store.pool.query(
        "SELECT label, -(embedding <#> $1::vector) AS score FROM passages WHERE article_id = $2 ORDER BY embedding <#> $1::vector, label LIMIT $3",
        [v, filter.articleId, limit],
      ));
    } else if (limit <= PG_EF_SEARCH) {
      ({ rows } = await this.store.pool.query(
        "SELECT label, 1 - (embedding <=> $1::vector) AS score FROM passages ORDER BY embedding <=> $1::vector LIMIT $2",
        [v, limit],
      ));
    } else {
      rows = await this.store.readTransaction(async (c) => {
        await c.query(`SET LOCAL hnsw.ef_search = ${Math.min(limit, MAX_EF_SEARCH)}`);
        return (await c.query("SELECT label, 1 - (embedding <=> $1::vector) AS score FROM passages ORDER BY embedding <=> $1::vector LIMIT $2", [v, limit]))
          .rows;
      });
    }
    return rows.map((r) => ({ id: Number(r.label), score: Number(r.score) })).sort((a, b) => b.score - a.score || a.id - b.id);
  }

  async keyword(question: string, k: number, filter?: Filter): Promise<{ hits: KeywordScored[]; queryTerms: number }> {
    return keywordSearch(this.store.pool, question, k, filter?.articleId);
  }

  async vectors(ids: readonly PassageId[]): Promise<Float32Array[]> {
    if (ids.length === 0) return [];
    const byLabel = await this.vectorBatch.get(ids);
    if (!ids.every((id) => byLabel.has(id))) this.missing(ids, new Set(byLabel.keys()));
    return ids.map((id) => byLabel.get(id)!);
  }

  async documentFrequency(stems: readonly string[]): Promise<number[]> {
    if (stems.length === 0) return [];
    const { rows } = await this.store.pool.query<{ term: string; df: number }>("SELECT term, df FROM terms WHERE term = ANY($1::text[])", [[...stems]]);
    const df = new Map(rows.map((r) => [r.term, r.df]));
    return stems.map((s) => df.get(s) ?? 0);
  }

  async close(): Promise<void> {}
}
