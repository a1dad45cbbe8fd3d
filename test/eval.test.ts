// Retrieval quality floors on every question set under test/eval, with the default model
// (all-MiniLM-L6-v2) and the calibration in its citebot.json: CI fails when a change makes
// retrieval or abstention measurably worse. Floors sit just under the measured figures
// (`npm run eval -- --compare glove-sif-100d`); the honest, held-out figures are the
// leave-one-set-out ones printed by `npm run fit-abstain`.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { EVAL_SETS, evaluate, type Figures, firstCorrectRank, normalize, pooled, readQuestions } from "../src/eval.js";

const bots = new Map<string, Citebot>();
const gloveBots = new Map<string, Citebot>();
const open = async (cache: Map<string, Citebot>, corpus: string, model?: string) => {
  let bot = cache.get(corpus);
  if (!bot) cache.set(corpus, (bot = await Citebot.open({ corpusDir: corpus, dataDir: mkdtempSync(path.join(tmpdir(), "citebot-eval-")), model })));
  return bot;
};
const set = (name: string) => EVAL_SETS.find((s) => s.name === name)!;
const figures = new Map<string, Figures>();
const run = async (name: string) => {
  let f = figures.get(name);
  if (!f) figures.set(name, (f = await evaluate(await open(bots, set(name).corpus), readQuestions(set(name).file))));
  return f;
};

let bot: Citebot;
beforeAll(async () => {
  bot = await open(bots, set("dev").corpus);
}, 120_000);

describe("scoring rules", () => {
  it("normalizes quotes, whitespace and case", () => {
    expect(normalize("The  two countries’ “Leaders”")).toBe(`the two countries' "leaders"`);
  });
  it("finds the rank of the first correct hit in text or context", async () => {
    const answer = await bot.answer("which tv channel did antonov talk to?", { limit: 5 });
    const rank = firstCorrectRank(answer, ["in an interview with Bloomberg Television yesterday"]);
    expect(rank).toBeGreaterThan(0);
    expect(firstCorrectRank(answer, ["a sentence that is in no article"])).toBe(0);
  });
});

describe("retrieval floors (default model, its fitted calibration)", () => {
  it("runs the default model with its calibration, not the conservative fallback", () => {
    expect(bot.embedder.modelId).toBe("all-MiniLM-L6-v2");
    expect((bot as unknown as { retriever: { calibration: string } }).retriever.calibration).toBe("model");
  });

  it("dev set: hybrid beats keyword-only and dense-only on MRR@5 and stays above its floors", async () => {
    const questions = readQuestions(set("dev").file);
    const hybrid = await run("dev");
    const keyword = await evaluate(bot.withSettings({ mode: "keyword" }), questions);
    const dense = await evaluate(bot.withSettings({ mode: "dense" }), questions);
    expect(hybrid.hit1).toBeGreaterThanOrEqual(0.75);
    expect(hybrid.hit3).toBeGreaterThanOrEqual(0.81);
    expect(hybrid.mrr5).toBeGreaterThanOrEqual(0.8);
    expect(hybrid.mrr5).toBeGreaterThanOrEqual(Math.max(keyword.mrr5, dense.mrr5));
    expect(hybrid.abstainOnNegatives).toBeGreaterThanOrEqual(0.75);
    expect(hybrid.wrongAbstain).toBeLessThanOrEqual(0.07);
  }, 300_000);

  // [set, hit@1, hit@3, paraphrase hit@3, negatives abstained ≥, answerable wrongly abstained ≤]:
  // one question below each measured figure (one near-tie may flip), except a negatives figure
  // that one question would take to 0.
  const FLOORS: Array<[string, number, number, number, number, number]> = [
    ["extra", 0.8, 0.9, 0.81, 0.83, 0.1],
    ["holdout", 0.68, 0.88, 0.8, 0.85, 0.08],
    ["chat", 0.81, 0.93, 0.8, 0.2, 0.13],
    // Wrongly abstained 0.06 -> 0.11 (one question, fix-009: "how far…" now wants a distance, and the
    // sentence that gives it is not among the first three re-scored passages); over all sets the
    // shipped calibration wrongly abstains on 13/268 where the one before did on 18/268.
    ["fixtures", 0.78, 0.94, 0.85, 0.2, 0.11],
    // The hard case: near-topic negatives on four articles of other kinds (sport, business, local news, science).
    ["kinds", 0.76, 0.86, 0.83, 0.3, 0.06],
    // Three more (floods, an archaeology find, an e-bike launch), written before the focus and count evidence existed.
    ["news", 0.87, 0.94, 0.94, 0.33, 0.08],
    // Four more (a wildlife result, a court case, a heatwave, a product review), written before any tuning on them.
    ["world", 0.92, 0.97, 0.95, 0.33, 0.13],
    // Three more (a cycling race, bakery closures, an amateur's comet), written after the abstention method was frozen.
    ["fresh", 0.81, 0.92, 0.84, 0.15, 0.11],
  ];
  it.each(FLOORS)(
    "%s set: floors hold",
    async (name, hit1, hit3, para3, negatives, wrong) => {
      const f = await run(name);
      expect(f.hit1).toBeGreaterThanOrEqual(hit1);
      expect(f.hit3).toBeGreaterThanOrEqual(hit3);
      expect(f.byKind.paraphrase!.hit3).toBeGreaterThanOrEqual(para3);
      expect(f.abstainOnNegatives).toBeGreaterThanOrEqual(negatives);
      expect(f.wrongAbstain).toBeLessThanOrEqual(wrong);
    },
    300_000,
  );

  it("over all sets, the default model is ahead of the GloVe stand-in on every retrieval figure", async () => {
    const mine: Figures[] = [];
    const glove: Figures[] = [];
    for (const s of EVAL_SETS) {
      mine.push(await run(s.name));
      glove.push(await evaluate(await open(gloveBots, s.corpus, "glove-sif-100d"), readQuestions(s.file)));
    }
    const a = pooled(mine);
    const b = pooled(glove);
    expect(a.hit1).toBeGreaterThan(b.hit1);
    expect(a.hit3).toBeGreaterThan(b.hit3);
    expect(a.mrr5).toBeGreaterThan(b.mrr5);
    expect(a.byKind.paraphrase!.hit3).toBeGreaterThan(b.byKind.paraphrase!.hit3);
  }, 600_000);
});
