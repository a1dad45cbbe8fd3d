// Split → reuse → embed: what a write must carry to bring a snapshot up to date with the articles.
// A whole new index (replace) when there is none or the model, its dimensions or the index settings
// changed; otherwise an update holding only the new and changed articles (split and embedded; a
// sentence whose text is unchanged keeps its stored vector) and the ids of the removed ones.
// Per-file limits (size, sentence count) are the corpus loader's; splitArticle caps sentences too.
import { splitArticle } from "../corpus/split.js";
import type { Embedder } from "../embed/embedder.js";
import { modelKey, type Progress, SETTINGS_HASH } from "../index/settings.js";
import type { Article } from "../types.js";
import { hashArticle } from "./hash.js";
import type { ArticleRows, Changes, Snapshot } from "./types.js";

export interface PlanOptions {
  onProgress?: Progress;
  /** Called before each article is split (the isolated build names the file it is on). */
  onSplit?: (article: Article) => void;
}

export interface PlanStats {
  /** Sentences embedded now, and sentences whose stored vector was reused. */
  embedded: number;
  reused: number;
}

/** Texts per embedder call (progress is told after each). */
const CHUNK = 512;

/** Why a snapshot made with another model or settings can't serve this embedder (undefined: it can): a reason for a whole new index. */
export function incompatibility(info: Snapshot["info"], embedder: Embedder): string | undefined {
  if (info.model !== modelKey(embedder) || info.dimensions !== embedder.dimensions)
    return `the embedding model changed (${info.model} → ${modelKey(embedder)})`;
  if (info.settingsHash !== SETTINGS_HASH) return "the index settings changed";
  return undefined;
}

export async function planChanges(
  articles: Article[],
  current: Snapshot | undefined,
  embedder: Embedder,
  opts: PlanOptions = {},
): Promise<Changes & { stats: PlanStats }> {
  const model = modelKey(embedder);
  const dim = embedder.dimensions;
  const ids = new Set<string>();
  for (const a of articles) {
    if (ids.has(a.id)) throw new Error(`two articles have the id ${a.id}`);
    ids.add(a.id);
  }
  const replace = !current || incompatibility(current.info, embedder) !== undefined;
  const stored = replace ? new Map<string, string>() : await current!.articleHashes();
  const hashes = articles.map(hashArticle);
  const changed = articles.map((a, i) => ({ article: a, hash: hashes[i]! })).filter((x) => stored.get(x.article.id) !== x.hash);
  const remove = replace ? [] : [...stored.keys()].filter((id) => !ids.has(id));

  const rows: ArticleRows[] = changed.map(({ article, hash }) => {
    opts.onSplit?.(article);
    const passages = splitArticle(article);
    return { article, hash, passages, vectors: new Float32Array(passages.length * dim) };
  });

  // Reuse: a changed article's sentences whose text is as stored keep their vectors.
  const todo: Array<[row: number, passage: number]> = [];
  let reused = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const oldIds = replace || !stored.has(row.article.id) ? [] : await current!.passageIds(row.article.id);
    const byText = new Map<string, number>();
    if (oldIds.length > 0) {
      const old = await current!.passages(oldIds);
      old.forEach((p, i) => byText.set(p.text, i));
    }
    const wanted = row.passages.map((p) => byText.get(p.text));
    const need = [...new Set(wanted.filter((i): i is number => i !== undefined))];
    const vectors = need.length > 0 ? await current!.vectors(need.map((i) => oldIds[i]!)) : [];
    const at = new Map(need.map((i, k) => [i, vectors[k]!]));
    row.passages.forEach((_, n) => {
      const old = wanted[n];
      if (old !== undefined) {
        row.vectors.set(at.get(old)!, n * dim);
        reused++;
      } else todo.push([r, n]);
    });
  }

  opts.onProgress?.(0, todo.length, "embed");
  for (let c = 0; c < todo.length; c += CHUNK) {
    const batch = todo.slice(c, c + CHUNK);
    const embedded = await embedder.embed(batch.map(([r, n]) => rows[r]!.passages[n]!.text));
    batch.forEach(([r, n], k) => rows[r]!.vectors.set(embedded[k]!, n * dim));
    opts.onProgress?.(Math.min(c + CHUNK, todo.length), todo.length, "embed");
  }

  return {
    mode: replace ? "replace" : "update",
    model,
    dimensions: dim,
    settingsHash: SETTINGS_HASH,
    upsert: rows,
    remove,
    stats: { embedded: todo.length, reused },
  };
}
