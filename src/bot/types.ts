// What the bot needs from the core. `Citebot` (src/citebot.ts) satisfies it structurally; tests may
// wrap a real instance (e.g. to inject a failing dependency) without touching the core.
import type { OpenStatus } from "../citebot.js";
import type { ChildBuildOptions } from "../index/isolated.js";
import type { IndexProbeResult } from "../store/probe.js";
import type { Answer, AnswerOptions, Article, Hit, Passage } from "../types.js";

export interface CitebotLike {
  answer(question: string, opts?: AnswerOptions): Promise<Answer>;
  articles(): Article[];
  article(id: string): Article | undefined;
  findArticles(query: string, limit?: number): Article[];
  passages(articleId: string): Promise<Passage[]>;
  excerpt(articleId: string, n: number): Promise<Hit | undefined>;
  searchArticle(articleId: string, query: string): Promise<Hit | undefined>;
  /** The folder of articles (optional): /add and /remove change it. */
  readonly corpusDir?: string;
  /** Live updates (optional): the index's version in memory, a load-only reload, the store's watch and probe. */
  readonly indexDir?: string;
  readonly version?: string;
  reloadIndex?(): Promise<{ changed: boolean; version: string }>;
  watchIndex?(onChange: () => void): () => void;
  probeIndex?(): Promise<IndexProbeResult>;
  /** /reindex (optional): re-read the corpus, rebuild when it changed, swap the new index in. */
  reload?(): Promise<OpenStatus>;
  /** /reindex, isolated (preferred over `reload`): the same, with the build in a child process under limits. */
  rebuild?(opts: ChildBuildOptions): Promise<OpenStatus>;
}
