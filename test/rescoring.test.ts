// The re-scoring pieces: late interaction (MaxSim and the weakest word), the token-vector LRU
// cache, and per-model calibration files (read, written, and the conservative default).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import type { Embedder } from "../src/embed/embedder.js";
import { CONSERVATIVE_ABSTAIN, loadCalibration, writeCalibration } from "../src/search/calibration.js";
import { lateScores, TokenCache } from "../src/search/late.js";
import type { Retriever } from "../src/search/retriever.js";
import { cleanupTmp, makeCorpus, mkTmp, tokenMatrix, unit } from "./helpers.js";

afterAll(cleanupTmp);

const matrix = tokenMatrix;

describe("late interaction", () => {
  // Question: two content words (rows 0 and 1, the second in two pieces: rows 1 and 2) and a stop word (row 3).
  const q = matrix([unit(1, 0, 0), unit(0, 1, 0), unit(0, 1, 0), unit(0, 0, 1)], {
    weights: Float32Array.from([1, 1, 1, 0]),
    words: Int32Array.from([0, 1, 1, -1]),
  });

  it("MaxSim is the weighted mean of each question token's best cosine; stop-word tokens weigh nothing", () => {
    const doc = matrix([unit(1, 0, 0), unit(0, 0, 1)]);
    const { mean, weakest } = lateScores(q, doc, 3);
    // Token 0 matches exactly (1), tokens 1 and 2 find nothing better than 0; token 3 does not count.
    expect(mean).toBeCloseTo(1 / 3, 5);
    // The weakest content word is the second one (both its pieces unmatched).
    expect(weakest).toBeCloseTo(0, 5);
  });

  it("a text holding every content word scores 1 on both", () => {
    const doc = matrix([unit(0, 1, 0), unit(1, 0, 0)]);
    expect(lateScores(q, doc, 3)).toEqual({ mean: expect.closeTo(1, 5), weakest: expect.closeTo(1, 5) });
  });

  it("an empty side scores 0", () => {
    expect(lateScores(q, matrix([]), 3)).toEqual({ mean: 0, weakest: 0 });
  });
});

/** A tiny deterministic embedder: each word a fixed direction in 8 dimensions. */
function fakeEmbedder(modelId: string): Embedder & { calls: number } {
  const dim = 8;
  const wordVector = (w: string) => {
    const v = new Float32Array(dim);
    for (let i = 0; i < w.length; i++) v[(w.charCodeAt(i) * (i + 1)) % dim]! += 1;
    return v;
  };
  const tokens = (t: string) => (t.toLowerCase().match(/\p{L}+/gu) ?? []).map(wordVector);
  const e = {
    modelId,
    dimensions: dim,
    calls: 0,
    async embed(texts: string[]) {
      return texts.map((t) => {
        const v = new Float32Array(dim);
        for (const r of tokens(t)) for (let d = 0; d < dim; d++) v[d]! += r[d]!;
        const n = Math.hypot(...v) || 1;
        return v.map((x) => x / n);
      });
    },
    async embedTokens(texts: string[]) {
      e.calls++;
      return texts.map(tokens);
    },
  };
  return e;
}

describe("token cache", () => {
  it("embeds only what it lacks, in one call, and drops the least recently used past its size", async () => {
    const embedder = fakeEmbedder("fake");
    const cache = new TokenCache(embedder, 6);
    await cache.get(["a", "b"], ["one two three", "four five six"]);
    expect(embedder.calls).toBe(1);
    await cache.get(["a"], ["one two three"]);
    expect(embedder.calls).toBe(1);
    // 3 + 3 + 3 token rows > 6: "b" (least recently used) goes, "a" stays.
    await cache.get(["c"], ["seven eight nine"]);
    expect(cache.size).toBe(2);
    await cache.get(["a"], ["one two three"]);
    expect(embedder.calls).toBe(2);
    await cache.get(["b"], ["four five six"]);
    expect(embedder.calls).toBe(3);
  });

  it("holds 48 MiB of token vectors by default, whatever the model's width", () => {
    const withDim = (dimensions: number) => ({ ...fakeEmbedder("fake"), dimensions });
    expect(new TokenCache(withDim(384)).maxRows).toBe(32_768);
    expect(new TokenCache(withDim(768)).maxRows).toBe(16_384);
    expect(new TokenCache(withDim(100)).maxRows * 100 * 4).toBeLessThanOrEqual(48 * 2 ** 20);
  });
});

describe("calibration files", () => {
  it("both shipped models carry a fitted calibration", () => {
    for (const model of ["all-MiniLM-L6-v2", "glove-sif-100d"]) {
      const { calibration, problem } = loadCalibration(model);
      expect(problem, model).toBeUndefined();
      expect(calibration?.abstain?.weights, model).toBeDefined();
      expect(Object.keys(calibration?.retrieval?.weights ?? {}).length, model).toBeGreaterThan(0);
    }
  });

  it("a hub id has none; a model folder's file is written without losing its other keys; a broken file is reported", () => {
    expect(loadCalibration("Xenova/some-hub-model")).toEqual({});
    const dir = path.join(mkTmp("citebot-model-"), "m");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "config.json"), "{}");
    writeFileSync(path.join(dir, "citebot.json"), JSON.stringify({ pooling: "mean" }));
    writeCalibration(dir, { abstain: { bias: -1, weights: { late: 2 }, threshold: 0.4 } });
    expect(JSON.parse(readFileSync(path.join(dir, "citebot.json"), "utf8"))).toMatchObject({ pooling: "mean", abstain: { bias: -1 } });
    expect(loadCalibration(dir).calibration?.abstain?.threshold).toBe(0.4);
    writeFileSync(path.join(dir, "citebot.json"), "{ not json");
    expect(loadCalibration(dir).problem).toMatch(/not JSON/);
  });

  it("a model without a calibration answers with the conservative default and abstains on a weak match", async () => {
    const corpusDir = makeCorpus({ "a.txt": "Title\n\nThe council approved the budget on Tuesday. Taxes will rise by two percent next year." });
    const bot = await Citebot.open({ corpusDir, dataDir: mkTmp("citebot-data-"), embedder: fakeEmbedder("some/hub-model") });
    const retriever = (bot as unknown as { retriever: Retriever }).retriever;
    expect(retriever.calibration).toBe("default");
    expect(retriever.settings.abstain).toEqual(CONSERVATIVE_ABSTAIN);
    const answer = await bot.answer("what did the mayor say about football");
    expect(answer.answered).toBe(false);
    expect(answer.hits.length).toBeGreaterThan(0);
  });
});
