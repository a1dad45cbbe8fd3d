// What a question reads of its snapshot: every candidate's vector in one call, but the passages
// (and their articles') only of the candidates it re-scores or shows. On a snapshot of many small
// articles the answer must be the one a full read gives, from far fewer articles.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCoreConfig } from "../src/config.js";
import { loadCorpus } from "../src/corpus/load.js";
import { splitArticle } from "../src/corpus/split.js";
import { TransformersEmbedder } from "../src/embed/embedder.js";
import { modelKey } from "../src/index/settings.js";
import { LoadedSnapshot } from "../src/search/loaded.js";
import { Retriever } from "../src/search/retriever.js";
import { hashArticle } from "../src/store/hash.js";
import { MemorySnapshot } from "../src/store/memory.js";
import { SETTINGS_HASH } from "../src/store/open.js";
import type { ArticleRows, PassageId, Snapshot } from "../src/store/types.js";
import { FIXTURES, mkTmp, REAL_CORPUS } from "./helpers.js";

const FIXTURE_CORPORA = ["extra-corpus", "kinds-corpus", "news-corpus", "world-corpus"].map((d) => path.join(FIXTURES, d));

let embedder: TransformersEmbedder;
let rows: ArticleRows[];

/** A snapshot that records which articles' passages were read. */
function counting(inner: Snapshot): { snapshot: Snapshot; articlesRead: string[]; vectorCalls: number[] } {
  const articlesRead: string[] = [];
  const vectorCalls: number[] = [];
  const snapshot = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "passageIds")
        return (id: string) => {
          articlesRead.push(id);
          return target.passageIds(id);
        };
      if (prop === "vectors")
        return (ids: readonly PassageId[]) => {
          vectorCalls.push(ids.length);
          return target.vectors(ids);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { snapshot, articlesRead, vectorCalls };
}

const snapshotOf = () => new MemorySnapshot(rows, { model: modelKey(embedder), dimensions: embedder.dimensions, settingsHash: SETTINGS_HASH });

beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ model: loadCoreConfig({}).EMBED_MODEL, cacheDir: mkTmp("citebot-cache-") });
  // The sentences of the shipped corpus and the test corpora, each article's in turn, dealt into
  // articles of 3: a question's candidates then come from dozens of articles.
  const articles = (await Promise.all([REAL_CORPUS, ...FIXTURE_CORPORA].map(async (dir) => (await loadCorpus(dir)).articles))).flat();
  const sentences = [...new Set(articles.flatMap((a) => splitArticle(a).map((p) => p.text)))];
  const dim = embedder.dimensions;
  rows = [];
  for (let a = 0; a * 3 < sentences.length; a++) {
    const text = sentences.slice(a * 3, a * 3 + 3).join(" ");
    const article = { id: `art-${a}`, title: `Article ${a}`, file: `art-${a}.txt`, text };
    const passages = splitArticle(article);
    const embedded = await embedder.embed(passages.map((p) => p.text));
    const v = new Float32Array(passages.length * dim);
    embedded.forEach((e, k) => v.set(e, k * dim));
    rows.push({ article, hash: hashArticle(article), passages, vectors: v });
  }
  expect(rows.length).toBeGreaterThan(60);
}, 120_000);

describe("LoadedSnapshot.gather", () => {
  it("reads the candidates' vectors in one call and no article's passages unless asked", async () => {
    const { snapshot, articlesRead, vectorCalls } = counting(snapshotOf());
    const loaded = await LoadedSnapshot.load(snapshot);
    const ids = [0, 5, 9, 17, 33, 101];
    const g = await loaded.gather(ids, 0, []);
    expect(vectorCalls).toEqual([ids.length]);
    expect(articlesRead).toEqual([]);
    for (const id of ids) {
      expect(g.hasVector(id)).toBe(true);
      expect(g.has(id)).toBe(false);
    }
    expect(() => g.passage(5)).toThrow(/not gathered/);

    await loaded.addArticles(g, [5, 9]);
    const [p5, p9] = await snapshot.passages([5, 9]);
    expect(g.passage(5)).toEqual(p5);
    expect(g.passage(9)).toEqual(p9);
    expect(g.own(p5!.articleId).ids).toEqual(await snapshot.passageIds(p5!.articleId));
    expect(g.has(0)).toBe(false);
    // Two articles read (and the one the check above asked for), once each.
    expect(new Set(articlesRead.slice(0, -1))).toEqual(new Set([p5!.articleId, p9!.articleId]));
    expect(articlesRead.length).toBe(new Set([p5!.articleId, p9!.articleId]).size + 1);
  });
});

describe("a question reads the articles it re-scores or shows only", () => {
  it("gives the excerpts a full read gives, from fewer articles than its candidates come from", async () => {
    const questions = [
      "What did Antonov say about cybersecurity?",
      "Where will the strategic stability talks be held?",
      "What did the ambassador say about sanctions?",
    ];
    for (const question of questions) {
      const { snapshot, articlesRead } = counting(snapshotOf());
      const retriever = await Retriever.open(snapshot, embedder);
      const answer = await retriever.answer(question, { limit: 5 });
      const readByAnswer = new Set(articlesRead);

      // The reference: the same ranking, every candidate's article read up front.
      const reference = await Retriever.open(snapshotOf(), embedder);
      const { candidates, gathered } = await reference.rank(question);
      const { ranked } = await reference.rerank(question, candidates, gathered);
      const full = await reference.excerpts(ranked, 15);
      expect(answer.hits.map((h) => [h.article.id, h.text, h.context, h.score, h.rank])).toEqual(
        full.slice(0, 5).map((h) => [h.article.id, h.text, h.context, h.score, h.rank]),
      );
      expect(answer.more).toBe(full.length > 5);

      const candidateArticles = new Set((await snapshot.passages(candidates.map((c) => c.index))).map((p) => p.articleId));
      expect(candidateArticles.size).toBeGreaterThan(25);
      expect(readByAnswer.size).toBeLessThan(candidateArticles.size);
    }
  });
});
