// The store contract: every engine (the embedded files engine, PostgreSQL + pgvector) answers
// these, and the retriever, /source, the bot's live reload and the CLI use nothing else. Filters
// are data (an engine turns them into SQL or a label set), never callbacks.
import type { CorpusWords } from "../search/corpus-words.js";
import type { Article, Passage } from "../types.js";

/** A passage's number in one snapshot: stable across incremental updates of other articles. */
export type PassageId = number;

export interface Scored {
  id: PassageId;
  /** Higher is better. dense: cosine similarity; keyword: the engine's BM25 score. */
  score: number;
}

export interface KeywordScored extends Scored {
  /** How many distinct question terms the passage matched. */
  matched: number;
}

/** What a search may be restricted to. Empty = everything. */
export interface Filter {
  /** Only passages of this article (/source, "search one article"). */
  articleId?: string;
}

export interface SnapshotInfo {
  /** Identifies this version of the index: changes whenever anything in it does. */
  version: string;
  /** The embedding model as recorded at build time (`modelKey(embedder)`: id@weights). */
  model: string;
  dimensions: number;
  articles: number;
  passages: number;
  /** Hash of INDEX_SETTINGS when it was built: a change means a full rebuild. */
  settingsHash: string;
  createdAt: string;
}

/** One consistent, read-only version of the index. */
export interface Snapshot {
  readonly info: SnapshotInfo;
  /** Every article, text included (a passage's text is `article.text.slice(start, end)`). */
  articles(): Promise<Article[]>;
  /** Each article's content hash (`hashArticle`), by article id: what an incremental write compares. */
  articleHashes(): Promise<Map<string, string>>;
  /** Passages by id, in the order asked. An unknown id is an error. */
  passages(ids: readonly PassageId[]): Promise<Passage[]>;
  /** An article's passage ids in sentence order ([] for an unknown article). */
  passageIds(articleId: string): Promise<PassageId[]>;
  /** Nearest passages by cosine similarity of unit vectors, best first, at most k. */
  dense(query: Float32Array, k: number, filter?: Filter): Promise<Scored[]>;
  /** BM25 keyword search (the question's terms, OR), best first, at most k. queryTerms: distinct analysed terms of the question. */
  keyword(question: string, k: number, filter?: Filter): Promise<{ hits: KeywordScored[]; queryTerms: number }>;
  /** Stored unit vectors by id, in the order asked. */
  vectors(ids: readonly PassageId[]): Promise<Float32Array[]>;
  /** How many live passages hold each stem (BM25's document frequency). */
  documentFrequency(stems: readonly string[]): Promise<number[]>;
  /**
   * The words the articles use and write as names, kept at index time. Optional (undefined: not
   * kept): without it the retriever scans every article's text when it opens the snapshot.
   */
  corpusWords?(): Promise<CorpusWords | undefined>;
  /** Releases what the snapshot holds (files, a pooled connection). Idempotent. */
  close(): Promise<void>;
}

/** One article as a write carries it: split into passages, every passage embedded. */
export interface ArticleRows {
  article: Article;
  /** `hashArticle(article)`. */
  hash: string;
  /** In sentence order; `Passage.n` is the position. */
  passages: Passage[];
  /** Row i is passages[i]'s unit vector (length passages.length × dimensions). */
  vectors: Float32Array;
}

/**
 * A change to the index. `mode: "replace"` writes a whole new index holding exactly `upsert`
 * (model or settings changed, or no index yet); `mode: "update"` applies `upsert` (new or changed
 * articles, replacing their old passages) and `remove` (article ids) to the current snapshot and
 * leaves every other article's passages, ids and vectors as they are. Either way the write is
 * atomic: readers see the old snapshot or the new one, never a mix, even after a crash.
 */
export interface Changes {
  mode: "replace" | "update";
  model: string;
  dimensions: number;
  settingsHash: string;
  upsert: ArticleRows[];
  remove: string[];
}

export interface WriteStats {
  articlesWritten: number;
  articlesRemoved: number;
  passagesWritten: number;
  passagesRemoved: number;
  seconds: number;
}

export interface IndexStore {
  readonly kind: "files" | "postgres";
  /** The current snapshot, or undefined when nothing was written yet. IndexError when it is unusable. */
  current(): Promise<Snapshot | undefined>;
  /** Applies changes atomically and returns the new current snapshot. */
  write(changes: Changes): Promise<{ snapshot: Snapshot; stats: WriteStats }>;
  /** Calls onChange (at most once per new version) when another process writes. Returns a stop function. */
  watch(onChange: () => void): () => void;
  close(): Promise<void>;
}
