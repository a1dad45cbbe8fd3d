// planChanges with the real default embedder on the shipped corpus, written to a FileStore: the
// same answers as the exact in-memory reference, and an edit re-embeds only what changed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCoreConfig } from "../src/config.js";
import { loadCorpus } from "../src/corpus/load.js";
import { TransformersEmbedder } from "../src/embed/embedder.js";
import { planChanges } from "../src/store/build.js";
import { FileStore } from "../src/store/fs/store.js";
import { MemorySnapshot } from "../src/store/memory.js";
import type { Article } from "../src/types.js";
import { cleanupTmp, mkTmp, REAL_CORPUS } from "./helpers.js";

let embedder: TransformersEmbedder;
let articles: Article[];
beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ model: loadCoreConfig({}).EMBED_MODEL, cacheDir: mkTmp("citebot-cache-"), workers: 0 });
  articles = (await loadCorpus(REAL_CORPUS)).articles;
}, 120_000);
afterAll(cleanupTmp);

const QUESTIONS = [
  "What did Antonov say about cybersecurity?",
  "When will the strategic stability talks be held in Geneva?",
  "Who leads the Russian delegation?",
];

describe("planChanges + FileStore on the shipped corpus", () => {
  it("writes the whole index, then updates one edited article re-embedding only its new sentence", async () => {
    const store = new FileStore(mkTmp("citebot-fs-real-"));
    const plan = await planChanges(articles, undefined, embedder);
    expect(plan.mode).toBe("replace");
    expect(plan.stats.reused).toBe(0);
    const { snapshot } = await store.write(plan);
    const { stats: _s, ...rows } = plan;
    const memory = new MemorySnapshot(rows.upsert, rows);
    for (const question of QUESTIONS) {
      const [q] = await embedder.embed([question], { kind: "query" });
      const name = async (s: typeof snapshot, ids: number[]) => (await s.passages(ids)).map((p) => p.id);
      const got = await snapshot.dense(q!, 10);
      const want = await memory.dense(q!, 10);
      // HNSW at ef 256 over a few hundred sentences is exact here.
      expect(
        await name(
          snapshot,
          got.map((h) => h.id),
        ),
      ).toEqual(
        await name(
          memory,
          want.map((h) => h.id),
        ),
      );
      got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 4));
      const kg = await snapshot.keyword(question, 20);
      const kw = await memory.keyword(question, 20);
      expect(
        await name(
          snapshot,
          kg.hits.map((h) => h.id),
        ),
      ).toEqual(
        await name(
          memory,
          kw.hits.map((h) => h.id),
        ),
      );
    }

    // Nothing changed: an empty update.
    const same = await planChanges(articles, snapshot, embedder);
    expect(same).toMatchObject({ mode: "update", upsert: [], remove: [] });

    // One article gains a sentence, another is removed: only the new sentence is embedded.
    const edited = articles.map((a, i) => (i === 0 ? { ...a, text: `${a.text}\n\nThe delegations agreed to meet again in September.` } : a)).slice(0, -1);
    const plan2 = await planChanges(edited, snapshot, embedder);
    expect(plan2.mode).toBe("update");
    expect(plan2.upsert.map((r) => r.article.id)).toEqual([articles[0]!.id]);
    expect(plan2.remove).toEqual([articles.at(-1)!.id]);
    expect(plan2.stats.embedded).toBe(1);
    expect(plan2.stats.reused).toBe(plan2.upsert[0]!.passages.length - 1);
    const { snapshot: updated } = await store.write(plan2);
    const [q] = await embedder.embed(["When do the delegations meet again?"], { kind: "query" });
    const top = await updated.dense(q!, 1);
    expect((await updated.passages([top[0]!.id]))[0]!.text).toContain("meet again in September");
    // The reused vectors are the ones the first snapshot stored (not re-embedded: batching moves int8 vectors a little).
    const [stored] = await snapshot.vectors([(await snapshot.passageIds(articles[0]!.id))[0]!]);
    plan2.upsert[0]!.vectors.subarray(0, embedder.dimensions).forEach((x, d) => expect(x).toBeCloseTo(stored![d]!, 6));
    await store.close();
  }, 180_000);
});
