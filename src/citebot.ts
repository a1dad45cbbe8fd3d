// The core in one object: open a corpus (loading or building its index), then ask it questions.
// The CLI, the bot and the tests all go through this class.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCoreConfig } from "./config.js";
import { CorpusError, corpusFingerprint, loadCorpus, type SkippedFile } from "./corpus/load.js";
import { type Embedder, TransformersEmbedder } from "./embed/embedder.js";
import { buildInChild, type ChildBuildOptions } from "./index/isolated.js";
import type { BuildStats, Progress } from "./index/settings.js";
import { IndexError, indexDirFor } from "./index/store.js";
import { rootLogger } from "./log.js";
import { CITEBOT_VERSION } from "./paths.js";
import { type Evidence, Retriever, type RetrieverSettings } from "./search/retriever.js";
import { incompatibility, openStore, planChanges, type StoreOptions, staleReason } from "./store/open.js";
import { hasProbe, type IndexProbeResult } from "./store/probe.js";
import type { IndexStore, Snapshot } from "./store/types.js";
import type { Answer, AnswerOptions, Article, Hit, Passage } from "./types.js";

/** The corpus loader, for front ends that check a file before adding it (the bot's /add). */
export { type LoadedCorpus, loadCorpus, MAX_ARTICLE_BYTES } from "./corpus/load.js";

export interface OpenOptions {
  corpusDir?: string;
  dataDir?: string;
  model?: string;
  remoteHost?: string;
  /** An embedder already loaded (tests and benchmarks share one). */
  embedder?: Embedder;
  retriever?: Partial<RetrieverSettings>;
  onProgress?: Progress;
  /** Told what happened to the index ("built", "loaded", why it was rebuilt) and what files were skipped. */
  onStatus?: (status: OpenStatus) => void;
}

export interface OpenStatus {
  index: "loaded" | "built";
  /** Why the index was (re)built. */
  reason?: string;
  stats?: BuildStats;
  skipped: SkippedFile[];
}

export class Citebot {
  private constructor(
    readonly corpusDir: string,
    readonly indexDir: string,
    readonly embedder: Embedder,
    /** Where the index lives; every read and write of it goes through here. */
    private readonly store: IndexStore,
    private retriever: Retriever,
    readonly status: OpenStatus,
    /** The embedding model's hub mirror, for an isolated build's child (which loads its own embedder). */
    private readonly remoteHost?: string,
  ) {}

  static async open(opts: OpenOptions & { store?: StoreOptions } = {}): Promise<Citebot> {
    const config = loadCoreConfig();
    const corpusDir = opts.corpusDir ?? config.CORPUS_DIR;
    const indexDir = indexDirFor(opts.dataDir ?? config.DATA_DIR, corpusDir);
    const fingerprint = await corpusFingerprint(corpusDir).catch(() => undefined);
    const remoteHost = opts.remoteHost ?? config.EMBED_REMOTE_HOST;
    const embedder = opts.embedder ?? (await TransformersEmbedder.load({ model: opts.model ?? config.EMBED_MODEL, remoteHost }));
    const store = await openStore(indexDir, { onProgress: opts.onProgress, ...opts.store });
    // The files are as they were when the current version was made from them: no need to read them.
    const unchanged = fingerprint ? await unchangedSince(indexDir, fingerprint, store, embedder) : undefined;
    let full: OpenStatus;
    let snapshot: Snapshot;
    if (unchanged) {
      snapshot = unchanged.snapshot;
      full = { index: "loaded", skipped: unchanged.skipped };
    } else {
      const corpus = await loadCorpus(corpusDir);
      if (corpus.articles.length === 0) throw emptyCorpus(corpusDir, corpus.skipped);
      const opened = await openSnapshot(store, corpus.articles, embedder, opts.onProgress);
      snapshot = opened.snapshot;
      full = { ...opened.status, skipped: corpus.skipped };
      if (fingerprint) writeCorpusStamp(indexDir, { fingerprint, version: snapshot.info.version, skipped: corpus.skipped });
    }
    opts.onStatus?.(full);
    const retriever = await Retriever.open(snapshot, embedder, opts.retriever);
    if (retriever.calibration === "default") {
      // A hub model or a new folder: answers still work, but nobody has measured where to abstain.
      rootLogger().warn(
        { model: embedder.modelId, problem: retriever.calibrationProblem },
        `model "${embedder.modelId}" has no calibration (citebot.json): using conservative default ranking and abstention; run npm run fit-abstain -- --model ${embedder.modelId}`,
      );
    }
    return new Citebot(corpusDir, indexDir, embedder, store, retriever, full, remoteHost);
  }

  /** The same corpus and index, answered with other retrieval settings (evaluation, benchmarks). */
  withSettings(settings: Partial<RetrieverSettings>): Citebot {
    const retriever = new Retriever(this.retriever.loaded, this.embedder, { ...this.retriever.settings, ...settings });
    return new Citebot(this.corpusDir, this.indexDir, this.embedder, this.store, retriever, this.status, this.remoteHost);
  }

  get settings(): RetrieverSettings {
    return this.retriever.settings;
  }

  get passageCount(): number {
    return this.retriever.snapshot.info.passages;
  }

  /** The version of the index being answered from (changes with every rebuild or update). */
  get version(): string {
    return this.retriever.snapshot.info.version;
  }

  /** The snapshot being answered from (benchmarks and tools; a reload may retire it). */
  get snapshot(): Snapshot {
    return this.retriever.snapshot;
  }

  answer(question: string, opts?: AnswerOptions): Promise<Answer & { evidence: Evidence }> {
    const r = this.retriever;
    return r.loaded.use(() => r.answer(question, opts));
  }

  articles(): Article[] {
    return this.retriever.loaded.articles;
  }

  article(id: string): Article | undefined {
    return this.retriever.loaded.articleById.get(id);
  }

  /** Articles whose title (or id) matches what the user typed, best first. */
  findArticles(query: string, limit = 25): Article[] {
    const q = query.trim().toLowerCase();
    const all = this.articles();
    if (!q) return all.slice(0, limit);
    const qWords = q.split(/\s+/);
    const scored = all
      .map((a) => {
        const title = a.title.toLowerCase();
        const score = title.startsWith(q) ? 3 : title.includes(q) || a.id.toLowerCase().includes(q) ? 2 : qWords.every((w) => title.includes(w)) ? 1 : 0;
        return { a, score };
      })
      .filter((x) => x.score > 0)
      .sort((x, y) => y.score - x.score || x.a.title.localeCompare(y.a.title));
    return scored.slice(0, limit).map((x) => x.a);
  }

  passages(articleId: string): Promise<Passage[]> {
    const r = this.retriever;
    return r.loaded.use(() => r.passagesOf(articleId));
  }

  excerpt(articleId: string, n: number): Promise<Hit | undefined> {
    const r = this.retriever;
    return r.loaded.use(() => r.excerpt(articleId, n));
  }

  searchArticle(articleId: string, query: string): Promise<Hit | undefined> {
    const r = this.retriever;
    return r.loaded.use(() => r.searchArticle(articleId, query));
  }

  /** Calls `onChange` when another process wrote a new version of the index. Returns a stop function. */
  watchIndex(onChange: () => void): () => void {
    return this.store.watch(onChange);
  }

  /** Whether the index the store would serve is there and intact, and which version it is. */
  async probeIndex(): Promise<IndexProbeResult> {
    return hasProbe(this.store) ? this.store.probe() : { state: "ok" };
  }

  /**
   * Load only: swaps in the store's current version when it is not the one in memory (another
   * process, e.g. `npm run index`, wrote it). Reads no corpus and builds nothing. Throws IndexError
   * when it is missing, damaged or made for another model or settings; the index in memory then
   * stays in use.
   */
  async reloadIndex(): Promise<{ changed: boolean; version: string }> {
    const snapshot = await this.store.current();
    if (!snapshot) throw new IndexError("there is no index on disk any more");
    if (snapshot.info.version === this.version) {
      await snapshot.close();
      return { changed: false, version: this.version };
    }
    const unusable = incompatibility(snapshot.info, this.embedder);
    if (unusable) {
      await snapshot.close();
      throw new IndexError(`the index on disk can't be used: ${unusable}`);
    }
    await this.swap(snapshot);
    return { changed: true, version: snapshot.info.version };
  }

  /**
   * /reindex in a running bot: the corpus is read and the index built in a child process under
   * `opts.limits` (see index/isolated.ts), so a hostile file or a runaway build costs only the
   * child; this process then opens the version it wrote (checked as every load is) and swaps it
   * in. On any failure (BuildFailedError, IndexError) the index in memory stays in use.
   */
  async rebuild(opts: ChildBuildOptions): Promise<OpenStatus> {
    const result = await buildInChild({ corpusDir: this.corpusDir, indexDir: this.indexDir, model: this.embedder.modelId, remoteHost: this.remoteHost }, opts);
    if (result.version !== this.version) {
      const snapshot = await this.store.current();
      if (!snapshot) throw new IndexError("the rebuilt index is not on disk");
      // The corpus was checked by the child; the model and settings must be this process's.
      const unusable = incompatibility(snapshot.info, this.embedder);
      if (unusable) {
        await snapshot.close();
        throw new IndexError(
          unusable.startsWith("the embedding model")
            ? `the rebuilt index was made with another embedding model (${snapshot.info.model})`
            : "the rebuilt index was made with other index settings",
        );
      }
      await this.swap(snapshot);
    }
    const { version: _version, ...status } = result;
    return status;
  }

  /** Re-reads the corpus and swaps in a new index when the articles changed, in this process (CLI, tests). */
  async reload(onProgress?: Progress): Promise<OpenStatus> {
    const fingerprint = await corpusFingerprint(this.corpusDir).catch(() => undefined);
    const corpus = await loadCorpus(this.corpusDir);
    const { snapshot, status } = await openSnapshot(this.store, corpus.articles, this.embedder, onProgress);
    if (fingerprint) writeCorpusStamp(this.indexDir, { fingerprint, version: snapshot.info.version, skipped: corpus.skipped });
    if (snapshot.info.version !== this.version) await this.swap(snapshot);
    else await snapshot.close();
    return { ...status, skipped: corpus.skipped };
  }

  /** Answers from `snapshot` from now on; questions in flight finish on the old one, which is closed after. */
  private async swap(snapshot: Snapshot): Promise<void> {
    const next = await Retriever.open(snapshot, this.embedder, this.retriever.settings);
    const old = this.retriever;
    this.retriever = next;
    old.loaded.retire();
  }

  /** Stops watching and releases the index (the bot's shutdown). */
  async close(): Promise<void> {
    this.retriever.loaded.retire();
    await this.store.close();
  }
}

/** Nothing to index is a mistake to point out (a wrong folder, files of the wrong kind), not an empty index. */
function emptyCorpus(dir: string, skipped: SkippedFile[]): CorpusError {
  const why = skipped.length
    ? ` (skipped: ${skipped
        .slice(0, 3)
        .map((s) => `${s.file}: ${s.reason}`)
        .join("; ")}${skipped.length > 3 ? `; and ${skipped.length - 3} more` : ""})`
    : "";
  return new CorpusError(
    `The corpus folder ${dir} has no articles citebot can read${why}. Put article files there (for example .txt, .md or .html), or name another folder with --corpus or CORPUS_DIR.`,
  );
}

/** Opens the store's current snapshot when it is up to date; otherwise (missing, stale, damaged, other version) writes a new one and says why. */
export async function openSnapshot(
  store: IndexStore,
  articles: Article[],
  embedder: Embedder,
  onProgress?: Progress,
  /** Told each article before it is split (an isolated build reports it, so a failure names the file). */
  onSplit?: (article: Article) => void,
): Promise<{ snapshot: Snapshot; status: Omit<OpenStatus, "skipped"> }> {
  const t0 = performance.now();
  let current: Snapshot | undefined;
  let reason: string;
  try {
    current = await store.current();
    const stale = current ? await staleReason(current, articles, embedder) : "there is no index yet";
    if (current && !stale) return { snapshot: current, status: { index: "loaded" } };
    reason = stale!;
  } catch (err) {
    if (!(err instanceof IndexError)) throw err;
    reason = err.message;
  }
  try {
    const counted = countingEmbedder(embedder);
    const changes = await planChanges(articles, current, counted, { onProgress, onSplit });
    const { snapshot } = await store.write(changes);
    const passages = snapshot.info.passages;
    const stats: BuildStats = { passages, embedded: counted.count, reused: passages - counted.count, seconds: (performance.now() - t0) / 1000 };
    return { snapshot, status: { index: "built", reason, stats } };
  } finally {
    await current?.close();
  }
}

/** The embedder, counting the texts it embeds (a build's "embedded" figure, whatever plans it). */
function countingEmbedder(inner: Embedder): Embedder & { count: number } {
  let count = 0;
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "count") return count;
      if (prop === "embed")
        return (texts: string[], opts?: Parameters<Embedder["embed"]>[1]) => {
          count += texts.length;
          return target.embed(texts, opts);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Embedder & { count: number };
}

/** What `corpus-stamp.json` in the index folder remembers: the corpus files a version was made from. */
interface CorpusStamp {
  /** corpusFingerprint() of the corpus folder, and the citebot version that read it (parsers change). */
  fingerprint: string;
  citebot: string;
  /** The snapshot made from exactly these files. */
  version: string;
  skipped: SkippedFile[];
}

const STAMP_FILE = "corpus-stamp.json";

function writeCorpusStamp(indexDir: string, stamp: Omit<CorpusStamp, "citebot">): void {
  try {
    const file = path.join(indexDir, STAMP_FILE);
    mkdirSync(indexDir, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...stamp, citebot: CITEBOT_VERSION }));
    renameSync(`${file}.tmp`, file);
  } catch {
    // Only a shortcut: without it the next start reads the corpus, as it always did.
  }
}

/** The store's current snapshot when the corpus files are exactly those it was made from (and it suits this embedder). */
async function unchangedSince(
  indexDir: string,
  fingerprint: string,
  store: IndexStore,
  embedder: Embedder,
): Promise<{ snapshot: Snapshot; skipped: SkippedFile[] } | undefined> {
  let stamp: CorpusStamp;
  try {
    stamp = JSON.parse(readFileSync(path.join(indexDir, STAMP_FILE), "utf8")) as CorpusStamp;
  } catch {
    return undefined;
  }
  if (stamp?.fingerprint !== fingerprint || stamp.citebot !== CITEBOT_VERSION || !Array.isArray(stamp.skipped)) return undefined;
  let snapshot: Snapshot | undefined;
  try {
    snapshot = await store.current();
  } catch {
    return undefined; // damaged or foreign: the full path says why and rebuilds
  }
  if (!snapshot) return undefined;
  if (snapshot.info.version !== stamp.version || incompatibility(snapshot.info, embedder)) {
    await snapshot.close();
    return undefined;
  }
  return { snapshot, skipped: stamp.skipped };
}
