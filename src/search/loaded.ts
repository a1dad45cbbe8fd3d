// What the retriever keeps in memory of one snapshot: the articles (their texts make excerpts),
// the words they use (names, typo vocabulary), and a bounded cache of articles' passages. Per
// question it fetches what it needs from the snapshot in few calls (`gather`) and hands back a
// `Gathered` that answers synchronously and stays valid whatever the cache evicts meanwhile.
import type { PassageId, Snapshot } from "../store/types.js";
import type { Article, Passage } from "../types.js";
import { CorpusWords } from "./corpus-words.js";

/** One article's passages in sentence order, with their ids. */
export interface ArticlePassages {
  ids: PassageId[];
  passages: Passage[];
  /** Passage id → its position in `ids` (and `passages`). */
  at: Map<PassageId, number>;
}

/** A question's share of the snapshot: its candidates, their articles' passages and the vectors asked for. */
export class Gathered {
  constructor(
    /** The article of each passage asked for (any other passage of those articles is found by a search). */
    private readonly articleOf: Map<PassageId, string>,
    private readonly byArticle: Map<string, ArticlePassages>,
    private readonly vectorOf: Map<PassageId, Float32Array>,
  ) {}

  /** The gathered article holding passage `id`. */
  private ownOf(id: PassageId): ArticlePassages | undefined {
    const a = this.articleOf.get(id);
    if (a !== undefined) {
      const own = this.byArticle.get(a);
      return own?.at.has(id) ? own : undefined;
    }
    for (const own of this.byArticle.values()) if (own.at.has(id)) return own;
    return undefined;
  }

  passage(id: PassageId): Passage {
    const own = this.ownOf(id);
    if (!own) throw new Error(`passage ${id} was not gathered`);
    return own.passages[own.at.get(id)!]!;
  }

  /** The passages of the article of passage `id` (gathered). */
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

  has(id: PassageId): boolean {
    return this.ownOf(id) !== undefined;
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
        return { ids, passages, at: new Map(ids.map((id, n) => [id, n])) };
      })();
      own.catch(() => this.articleCache.delete(articleId));
      this.articleCache.set(articleId, own);
    }
    return own;
  }

  /**
   * The passages `ids` with every passage of their articles, and the vectors of `ids` and of their
   * neighbours (`neighbours` sentences on each side; 0: the candidates' own, see gatherNeighbours):
   * at most one `passages`, one `vectors` call and one `passageIds` per article not cached.
   */
  async gather(ids: readonly PassageId[], neighbours = 1): Promise<Gathered> {
    await this.prefetch(ids);
    const articleOf = new Map(ids.map((id) => [id, this.articleOfId.get(id)!]));
    const articleIds = [...new Set(articleOf.values())];
    const owns = await Promise.all(articleIds.map((a) => this.articlePassages(a)));
    const byArticle = new Map(articleIds.map((a, i) => [a, owns[i]!]));
    const gathered = new Gathered(articleOf, byArticle, new Map());
    await this.gatherNeighbours(gathered, ids, neighbours);
    return gathered;
  }

  /**
   * Loads into the caches which article each of `ids` is in and those articles' passages: what
   * `gather` reads. A question runs it on the first search's hits while the other search runs.
   */
  async prefetch(ids: readonly PassageId[]): Promise<void> {
    const unknown = ids.filter((id) => !this.articleOfId.has(id));
    if (unknown.length) {
      if (this.articleOfId.size + unknown.length > 1_000_000) this.articleOfId = new Map();
      const found = await this.snapshot.passages(unknown);
      unknown.forEach((id, i) => this.articleOfId.set(id, found[i]!.articleId));
    }
    await Promise.all([...new Set(ids.map((id) => this.articleOfId.get(id)!))].map((a) => this.articlePassages(a)));
  }

  /**
   * Adds to `g` the vectors of `ids` and of their neighbours (`neighbours` sentences on each side)
   * it does not hold yet, in one `vectors` call: a question reads its candidates' vectors first and
   * its best candidates' neighbours only once they are known.
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
