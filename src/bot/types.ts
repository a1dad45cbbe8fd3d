// What the bot needs from the core. `Citebot` (src/citebot.ts) satisfies it structurally; tests may
// wrap a real instance (e.g. to inject a failing dependency) without touching the core.
import type { OpenStatus } from "../citebot.js";
import type { ChildBuildOptions } from "../index/isolated.js";
import type { Answer, AnswerOptions, Article, Hit, Passage } from "../types.js";

export interface CitebotLike {
  answer(question: string, opts?: AnswerOptions): Promise<Answer>;
  articles(): Article[];
  article(id: string): Article | undefined;
  findArticles(query: string, limit?: number): Article[];
  passages(articleId: string): Passage[];
  excerpt(articleId: string, n: number): Hit | undefined;
  searchArticle(articleId: string, query: string): Promise<Hit | undefined>;
  /** The folder of articles (optional): /add and /remove change it. */
  readonly corpusDir?: string;
  /** Live updates (optional): the index folder, the build in memory, and a load-only reload. */
  readonly indexDir?: string;
  readonly buildDir?: string;
  reloadIndex?(): Promise<{ changed: boolean; buildDir: string }>;
  /** /reindex (optional): re-read the corpus, rebuild when it changed, swap the new index in. */
  reload?(): Promise<OpenStatus>;
  /** /reindex, isolated (preferred over `reload`): the same, with the build in a child process under limits. */
  rebuild?(opts: ChildBuildOptions): Promise<OpenStatus>;
}
