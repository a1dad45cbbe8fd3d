// The core in one object: open a corpus (loading or building its index), then ask it questions.
// The CLI, the bot and the tests all go through this class.

import { loadCoreConfig } from "./config.js";
import { CorpusError, loadCorpus, type SkippedFile } from "./corpus/load.js";
import { type Embedder, TransformersEmbedder } from "./embed/embedder.js";
import { type BuildStats, buildIndex, INDEX_SETTINGS, type IndexData, loadIndex, modelKey, type Progress, staleReason } from "./index/build.js";
import { buildInChild, type ChildBuildOptions } from "./index/isolated.js";
import { currentBuildDir, hashSettings, IndexError, indexDirFor } from "./index/store.js";
import { rootLogger } from "./log.js";
import { type Evidence, Retriever, type RetrieverSettings } from "./search/retriever.js";
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
    private retriever: Retriever,
    readonly status: OpenStatus,
    /** The embedding model's hub mirror, for an isolated build's child (which loads its own embedder). */
    private readonly remoteHost?: string,
  ) {}

  static async open(opts: OpenOptions = {}): Promise<Citebot> {
    const config = loadCoreConfig();
    const corpusDir = opts.corpusDir ?? config.CORPUS_DIR;
    const indexDir = indexDirFor(opts.dataDir ?? config.DATA_DIR, corpusDir);
    const corpus = await loadCorpus(corpusDir);
    if (corpus.articles.length === 0) throw emptyCorpus(corpusDir, corpus.skipped);
    const remoteHost = opts.remoteHost ?? config.EMBED_REMOTE_HOST;
    const embedder = opts.embedder ?? (await TransformersEmbedder.load({ model: opts.model ?? config.EMBED_MODEL, remoteHost }));
    const { data, status } = await openIndex(indexDir, corpus.articles, embedder, opts.onProgress);
    const full: OpenStatus = { ...status, skipped: corpus.skipped };
    opts.onStatus?.(full);
    const retriever = new Retriever(data, embedder, opts.retriever);
    if (retriever.calibration === "default") {
      // A hub model or a new folder: answers still work, but nobody has measured where to abstain.
      rootLogger().warn(
        { model: embedder.modelId, problem: retriever.calibrationProblem },
        `model "${embedder.modelId}" has no calibration (citebot.json): using conservative default ranking and abstention; run npm run fit-abstain -- --model ${embedder.modelId}`,
      );
    }
    return new Citebot(corpusDir, indexDir, embedder, retriever, full, remoteHost);
  }

  /** The same corpus and index, answered with other retrieval settings (evaluation, benchmarks). */
  withSettings(settings: Partial<RetrieverSettings>): Citebot {
    const retriever = new Retriever(this.retriever.index, this.embedder, { ...this.retriever.settings, ...settings });
    return new Citebot(this.corpusDir, this.indexDir, this.embedder, retriever, this.status, this.remoteHost);
  }

  get settings(): RetrieverSettings {
    return this.retriever.settings;
  }

  get passageCount(): number {
    return this.retriever.index.passages.length;
  }

  answer(question: string, opts?: AnswerOptions): Promise<Answer & { evidence: Evidence }> {
    return this.retriever.answer(question, opts);
  }

  articles(): Article[] {
    return this.retriever.index.articles;
  }

  article(id: string): Article | undefined {
    return this.articles().find((a) => a.id === id);
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

  passages(articleId: string): Passage[] {
    return this.retriever.passagesOf(articleId);
  }

  excerpt(articleId: string, n: number): Hit | undefined {
    return this.retriever.excerpt(articleId, n);
  }

  searchArticle(articleId: string, query: string): Promise<Hit | undefined> {
    return this.retriever.searchArticle(articleId, query);
  }

  /** The build folder the index in memory was loaded from (or written to). */
  get buildDir(): string {
    return this.retriever.index.buildDir;
  }

  /**
   * Load only: swaps in the index's current build on disk when it is not the one in memory (another
   * process, e.g. `npm run index`, rebuilt it). Reads no corpus and builds nothing. Throws IndexError
   * when the build is missing, damaged or made for another model or settings; the index in memory
   * then stays in use.
   */
  async reloadIndex(): Promise<{ changed: boolean; buildDir: string }> {
    const target = currentBuildDir(this.indexDir);
    if (target === this.buildDir) return { changed: false, buildDir: target };
    const data = await loadIndex(this.indexDir);
    const unusable = staleReason(data.manifest, data.articles, this.embedder);
    if (unusable) throw new IndexError(`the index on disk can't be used: ${unusable}`);
    this.retriever = new Retriever(data, this.embedder, this.retriever.settings);
    return { changed: true, buildDir: data.buildDir };
  }

  /**
   * /reindex in a running bot: the corpus is read and the index built in a child process under
   * `opts.limits` (see index/isolated.ts), so a hostile file or a runaway build costs only the
   * child; this process then loads the committed build (checksums and structure verified) and
   * swaps it in. On any failure (BuildFailedError, IndexError) the index in memory stays in use.
   */
  async rebuild(opts: ChildBuildOptions): Promise<OpenStatus> {
    const result = await buildInChild({ corpusDir: this.corpusDir, indexDir: this.indexDir, model: this.embedder.modelId, remoteHost: this.remoteHost }, opts);
    if (result.buildDir !== this.buildDir) {
      const data = await loadIndex(this.indexDir, result.buildDir);
      // The corpus hash was checked by the child; the model and settings must be this process's.
      if (data.manifest.model !== modelKey(this.embedder) || data.manifest.dimensions !== this.embedder.dimensions) {
        throw new IndexError(`the rebuilt index was made with another embedding model (${data.manifest.model})`);
      }
      if (data.manifest.settingsHash !== hashSettings(INDEX_SETTINGS)) throw new IndexError("the rebuilt index was made with other index settings");
      this.retriever = new Retriever(data, this.embedder, this.retriever.settings);
    }
    const { buildDir: _dir, ...status } = result;
    return status;
  }

  /** Re-reads the corpus and swaps in a new index when the articles changed, in this process (CLI, tests). */
  async reload(onProgress?: Progress): Promise<OpenStatus> {
    const corpus = await loadCorpus(this.corpusDir);
    const { data, status } = await openIndex(this.indexDir, corpus.articles, this.embedder, onProgress, this.retriever.index);
    this.retriever = new Retriever(data, this.embedder, this.retriever.settings);
    return { ...status, skipped: corpus.skipped };
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

/** Loads the index when it is current; otherwise (missing, stale, damaged, other version) builds it and says why. */
export async function openIndex(
  indexDir: string,
  articles: Article[],
  embedder: Embedder,
  onProgress?: Progress,
  inMemory?: IndexData,
  /** Told each article before it is split (an isolated build reports it, so a failure names the file). */
  onSplit?: (article: Article) => void,
): Promise<{ data: IndexData; status: Omit<OpenStatus, "skipped"> }> {
  let previous: IndexData | undefined = inMemory;
  let reason: string;
  try {
    const loaded = await loadIndex(indexDir);
    const stale = staleReason(loaded.manifest, articles, embedder);
    if (!stale) return { data: loaded, status: { index: "loaded" } };
    previous = loaded;
    reason = stale;
  } catch (err) {
    if (!(err instanceof IndexError)) throw err;
    reason = err.message;
  }
  const { data, stats } = await buildIndex(indexDir, articles, embedder, { previous, onProgress, onSplit });
  return { data, status: { index: "built", reason, stats } };
}
