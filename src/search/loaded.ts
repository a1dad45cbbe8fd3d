// What the retriever keeps in memory of one snapshot: the articles (their texts make excerpts),
// the words they use (names, typo vocabulary), and a bounded cache of articles' passages. Per
// question it fetches what it needs from the snapshot in few calls (`gather`) and hands back a
// `Gathered` that answers synchronously and stays valid whatever the cache evicts meanwhile.
import type { PassageId, Snapshot } from "../store/types.js";
import type { Article, Passage } from "../types.js";
import { CorpusWords } from "./corpus-words.js";

/** One article's passages in sentence order, with their ids (`ids[n]` is sentence n's). */
export interface ArticlePassages {
  ids: PassageId[];
  passages: Passage[];
}

/**
 * A question's share of the snapshot: the vectors it asked for, and the passages (with every
 * passage of their articles) it asked for. Both grow as the question goes (`LoadedSnapshot.addArticles`,
 * `gatherNeighbours`); what it holds answers synchronously, whatever the cache evicts meanwhile.
 */
export class Gathered {
  /** Passage id → its article's passages and its position there, for every passage asked for. */
  private readonly where = new Map<PassageId, { own: ArticlePassages; at: number }>();
  private readonly byArticle = new Map<string, ArticlePassages>();
  private readonly vectorOf = new Map<PassageId, Float32Array>();

  /** Adds passages asked for (`ids`, of articles `articleOf`) with their articles' passages. */
  addArticles(ids: readonly PassageId[], articleOf: readonly string[], owns: ReadonlyMap<string, ArticlePassages>): void {
    ids.forEach((id, i) => {
      if (this.where.has(id)) return;
      const own = owns.get(articleOf[i]!)!;
      const at = own.ids.indexOf(id);
      if (at < 0) return;
      this.byArticle.set(articleOf[i]!, own);
      this.where.set(id, { own, at });
    });
  }

  passage(id: PassageId): Passage {
    const w = this.where.get(id);
    if (!w) throw new Error(`passage ${id} was not gathered`);
    return w.own.passages[w.at]!;
  }

  /** The passages of a gathered article. */
  own(articleId: string): ArticlePassages {
    const own = this.byArticle.get(articleId);
    if (!own) throw new Error(`article ${articleId} was not gathered`);
    return own;
  }

  /** The id of sentence n of an article. */
  idAt(articleId: string, n: number): PassageId {
    return this.own(articleId).ids[n]!;
  }

  /** Whether the vector of passage `id` was gathered. */
  hasVector(id: PassageId): boolean {
    return this.vectorOf.has(id);
  }

  /** Adds vectors read later (neighbours asked for once the candidates are ranked). */
  addVectors(ids: readonly PassageId[], vectors: readonly Float32Array[]): void {
    ids.forEach((id, i) => this.vectorOf.set(id, vectors[i]!));
  }

  vector(id: PassageId): Float32Array {
    const v = this.vectorOf.get(id);
    if (!v) throw new Error(`the vector of passage ${id} was not gathered`);
    return v;
  }

  /** Whether passage `id` was asked for and found, with its article. */
  has(id: PassageId): boolean {
    return this.where.has(id);
  }
}

/**
 * Articles whose passages are kept between questions (a large corpus evicts and fetches again).
 * 4,096, not 20,000: at 1M rows a question gathers ~100 articles of 25 passages, and 20,000 cached
 * articles held ~100 MB of passage objects for answers that are rarely asked twice.
 */
const ARTICLE_CACHE = 4096;

export class LoadedSnapshot {
  readonly articleById: Map<string, Article>;
  /** The store's corpus words, or (a store that keeps none) counted from every text on first use. */
  private kept?: CorpusWords;
  private articleCache = new Map<string, Promise<ArticlePassages>>();
  /** Passage id → its article, learnt from every passage fetched. */
  private articleOfId = new Map<PassageId, string>();
  private inFlight = 0;
  private retired = false;
  private closed?: Promise<void>;

  private constructor(
    readonly snapshot: Snapshot,
    readonly articles: Article[],
    kept: CorpusWords | undefined,
  ) {
    this.articleById = new Map(articles.map((a) => [a.id, a]));
    this.kept = kept;
  }

  /** Reads the articles, and the corpus's words if the store keeps them. */
  static async load(snapshot: Snapshot): Promise<LoadedSnapshot> {
    const [articles, kept] = await Promise.all([snapshot.articles(), snapshot.corpusWords?.()]);
    return new LoadedSnapshot(snapshot, articles, kept);
  }

  get dimensions(): number {
    return this.snapshot.info.dimensions;
  }

  get passageCount(): number {
    return this.snapshot.info.passages;
  }

  /** Words the articles write capitalised mid-sentence: names, which only match exactly. */
  get names(): Set<string> {
    return this.corpusWords().names();
  }

  // PostgreSQL and the in-memory store keep no word list: the first question counts them (at 1M
  // rows a few seconds once, instead of at every open).
  private corpusWords(): CorpusWords {
    this.kept ??= CorpusWords.fromTexts(this.articles.map((a) => a.text));
    return this.kept;
  }

  /** Whether any article uses the word. */
  usesWord(word: string): boolean {
    return this.corpusWords().has(word);
  }

  /** The corpus's words of four letters or more that start with `letter` (typo candidates). */
  wordsStartingWith(letter: string): readonly string[] {
    return this.corpusWords().byLetter().get(letter) ?? [];
  }

  /** An article's passages (cached; [] for an unknown article). */
  articlePassages(articleId: string): Promise<ArticlePassages> {
    let own = this.articleCache.get(articleId);
    if (!own) {
      if (this.articleCache.size >= ARTICLE_CACHE) this.articleCache = new Map();
      own = (async () => {
        const ids = await this.snapshot.passageIds(articleId);
        const passages = await this.snapshot.passages(ids);
        return { ids, passages };
      })();
      own.catch(() => this.articleCache.delete(articleId));
      this.articleCache.set(articleId, own);
    }
    return own;
  }

  /**
   * The vectors of `ids` and of their neighbours (`neighbours` sentences on each side), with the
   * passages `withArticles` (default: `ids`) and every passage of their articles. A question reads
   * all its candidates' vectors but the passages of the few it re-scores or shows only
   * (`addArticles`): at 1M rows, making every candidate article's passages was most of what a
   * question allocated.
   */
  async gather(ids: readonly PassageId[], neighbours = 1, withArticles: readonly PassageId[] = ids): Promise<Gathered> {
    const g = new Gathered();
    if (neighbours === 0) {
      await Promise.all([this.addArticles(g, withArticles), this.addVectorsOf(g, ids)]);
      return g;
    }
    await this.addArticles(g, [...new Set([...withArticles, ...ids])]);
    await this.gatherNeighbours(g, ids, neighbours);
    return g;
  }

  /** Adds to `g` the passages `ids` it lacks, with every passage of their articles. */
  async addArticles(g: Gathered, ids: readonly PassageId[]): Promise<void> {
    const missing = ids.filter((id) => !g.has(id));
    if (!missing.length) return;
    const articleOf = await this.articlesOf(missing);
    const articleIds = [...new Set(articleOf)];
    const owns = await Promise.all(articleIds.map((a) => this.articlePassages(a)));
    g.addArticles(missing, articleOf, new Map(articleIds.map((a, i) => [a, owns[i]!])));
  }

  /** The article of each passage (learnt once per passage). */
  private async articlesOf(ids: readonly PassageId[]): Promise<string[]> {
    const unknown = ids.filter((id) => !this.articleOfId.has(id));
    const found = unknown.length ? await this.snapshot.passages(unknown) : [];
    // Read after the await: another question may have reset the map meanwhile.
    const learnt = new Map(unknown.map((id, i) => [id, found[i]!.articleId]));
    if (this.articleOfId.size + unknown.length > 1_000_000) this.articleOfId = new Map();
    for (const [id, a] of learnt) this.articleOfId.set(id, a);
    return ids.map((id) => learnt.get(id) ?? this.articleOfId.get(id)!);
  }

  /**
   * Loads into the caches which article each of `ids` is in and those articles' passages: what
   * `addArticles` reads. A question runs it on the first search's best hits while the other search runs.
   */
  async prefetch(ids: readonly PassageId[]): Promise<void> {
    const articleOf = await this.articlesOf(ids);
    await Promise.all([...new Set(articleOf)].map((a) => this.articlePassages(a)));
  }

  private async addVectorsOf(g: Gathered, ids: readonly PassageId[]): Promise<void> {
    const list = [...new Set(ids)].filter((id) => !g.hasVector(id));
    if (list.length) g.addVectors(list, await this.snapshot.vectors(list));
  }

  /**
   * Adds to `g` the vectors of `ids` and of their neighbours (`neighbours` sentences on each side)
   * it does not hold yet, in one `vectors` call: a question reads its candidates' vectors first and
   * its best candidates' neighbours only once they are known. `ids` must have been gathered with
   * their articles.
   */
  async gatherNeighbours(g: Gathered, ids: readonly PassageId[], neighbours = 1): Promise<void> {
    const wanted = new Set<PassageId>();
    for (const id of ids) {
      if (!g.has(id)) throw new Error(`passage ${id} is not among its article's passages`);
      const p = g.passage(id);
      const own = g.own(p.articleId);
      for (let n = Math.max(0, p.n - neighbours); n <= Math.min(own.ids.length - 1, p.n + neighbours); n++) {
        const at = own.ids[n]!;
        if (!g.hasVector(at)) wanted.add(at);
      }
    }
    const list = [...wanted];
    if (list.length) g.addVectors(list, await this.snapshot.vectors(list));
  }

  /** Runs a question against this snapshot: a retired snapshot is closed only once no question uses it. */
  async use<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      if (this.retired && this.inFlight === 0) void this.close();
    }
  }

  /** No new questions will come: closes the snapshot now, or when the last question in flight ends. */
  retire(): void {
    this.retired = true;
    if (this.inFlight === 0) void this.close();
  }

  private close(): Promise<void> {
    this.closed ??= this.snapshot.close().catch(() => undefined);
    return this.closed;
  }
}
