/**
 * Fits citebot's answer/abstain model (ABSTAIN_MODEL in src/search/retriever.ts): a logistic
 * regression over the evidence of each question (best dense cosine, word coverage, a name no top
 * passage mentions), on all our question sets, negatives weighted twice. It prints the weights to
 * ship and, for each set, the figures of a model fitted without that set (how well it carries).
 *
 *   npm run fit-abstain
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Citebot } from "../src/citebot.js";
import { readQuestions } from "../src/eval.js";
import { ABSTAIN_MODEL } from "../src/search/retriever.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const open = (corpus: string) => Citebot.open({ corpusDir: path.join(ROOT, corpus), dataDir: mkdtempSync(path.join(tmpdir(), "citebot-fit-")) });
const shipped = await open("corpus");
const fixtures = await open("test/fixtures/extra-corpus");
const SETS = [
  ["dev", shipped, path.join(ROOT, "test/eval/dev-qa.jsonl")],
  ["extra", shipped, path.join(ROOT, "test/eval/extra-qa.jsonl")],
  ["holdout", shipped, path.join(ROOT, "test/eval/holdout-qa.jsonl")],
  ["fixtures", fixtures, path.join(ROOT, "test/eval/fixtures-qa.jsonl")],
] as const;

interface Row { set: string; x: number[]; answerable: boolean }
const rows: Row[] = [];
for (const [set, bot, file] of SETS) {
  for (const q of readQuestions(file)) {
    const { evidence: e } = await bot.answer(q.question);
    rows.push({ set, x: [1, e.topDense, e.coverage, e.namesMissing], answerable: q.kind !== "negative" });
  }
}

const NEGATIVE_WEIGHT = 2;
const L2 = 0.01;
function fit(train: Row[]): number[] {
  let w = [0, 0, 0, 0];
  for (let it = 0; it < 100_000; it++) {
    const g = [0, 0, 0, 0];
    for (const r of train) {
      const p = 1 / (1 + Math.exp(-r.x.reduce((s, x, i) => s + x * w[i]!, 0)));
      const weight = r.answerable ? 1 : NEGATIVE_WEIGHT;
      r.x.forEach((x, i) => (g[i]! += weight * (p - (r.answerable ? 1 : 0)) * x));
    }
    w = w.map((v, i) => v - 0.5 * (g[i]! / train.length + (i ? L2 * v : 0)));
  }
  return w;
}
const answers = (w: number[], r: Row) => 1 / (1 + Math.exp(-r.x.reduce((s, x, i) => s + x * w[i]!, 0))) >= 0.5;
const figures = (w: number[], rs: Row[]) => {
  const neg = rs.filter((r) => !r.answerable);
  const pos = rs.filter((r) => r.answerable);
  return `abstains on ${(neg.filter((r) => !answers(w, r)).length / neg.length).toFixed(2)} of ${neg.length} negatives, wrongly on ${(pos.filter((r) => !answers(w, r)).length / pos.length).toFixed(2)} of ${pos.length} answerable`;
};

const shippedWeights = [ABSTAIN_MODEL.bias, ABSTAIN_MODEL.dense, ABSTAIN_MODEL.coverage, ABSTAIN_MODEL.namesMissing];
for (const [set] of SETS) {
  const held = rows.filter((r) => r.set === set);
  console.log(`${set.padEnd(9)} fitted without it: ${figures(fit(rows.filter((r) => r.set !== set)), held)} | shipped model: ${figures(shippedWeights, held)}`);
}
const w = fit(rows);
console.log(`\nfitted on all sets: { bias: ${w[0]!.toFixed(2)}, dense: ${w[1]!.toFixed(2)}, coverage: ${w[2]!.toFixed(2)}, namesMissing: ${w[3]!.toFixed(2)} }`);
console.log(`all sets: ${figures(w, rows)}`);
