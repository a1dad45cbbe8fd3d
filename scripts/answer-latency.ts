/**
 * Question latency of `answer()` (question embedding, both rankings, re-scoring, excerpts) on one
 * corpus, for the questions of the test/eval sets about it, each asked once:
 *   - "cold": every passage's token vectors forgotten before each question (a large corpus, where
 *     the candidates of a new question are rarely cached);
 *   - "fresh": new questions, passages cached as they come (a small corpus after a few questions);
 *   - "repeated": the fresh pass's questions again, every model run cached: retrieval alone (the
 *     index reads, ranking, re-scoring and excerpts), where the store engine shows.
 *
 *   npx tsx scripts/answer-latency.ts [--model all-MiniLM-L6-v2] [--corpus corpus]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Citebot } from "../src/citebot.js";
import { EVAL_SETS, readQuestions } from "../src/eval.js";
import type { Retriever } from "../src/search/retriever.js";

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const corpus = path.resolve(arg("--corpus") ?? "corpus");
const bot = await Citebot.open({ corpusDir: corpus, dataDir: mkdtempSync(path.join(tmpdir(), "citebot-latency-")), model: arg("--model") });
const questions = EVAL_SETS.filter((s) => path.resolve(s.corpus) === corpus).flatMap((s) => readQuestions(s.file).map((q) => q.question));
if (!questions.length) throw new Error(`no question set is about ${corpus}`);
const retriever = (bot as unknown as { retriever: Retriever }).retriever;

// Warm-up: the model's first runs are slower (allocations, JIT).
for (const q of ["warm-up question one", "another warm-up about something else"]) await bot.answer(q);

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const time = async (prepare: () => void, qs: string[]) => {
  const ms: number[] = [];
  for (const q of qs) {
    prepare();
    const t = performance.now();
    await bot.answer(q);
    ms.push(performance.now() - t);
  }
  return `p50 ${percentile(ms, 50).toFixed(1)} ms, p95 ${percentile(ms, 95).toFixed(1)} ms`;
};
// Each pass asks the questions in another wording (a suffix), so no question's own vectors are cached.
const cold = await time(
  () => retriever.forgetTokens(),
  questions.map((q) => `${q} (1)`),
);
retriever.forgetTokens();
const fresh = await time(
  () => {},
  questions.map((q) => `${q} (2)`),
);
const repeated = await time(
  () => {},
  questions.map((q) => `${q} (2)`),
);
console.log(`${bot.embedder.modelId} on ${path.basename(corpus)} (${bot.passageCount} sentences), ${questions.length} questions:`);
console.log(`  cold (no token vectors cached): ${cold}`);
console.log(`  fresh questions, passages cached as they come: ${fresh}`);
console.log(`  repeated questions (no model run: retrieval alone): ${repeated}`);
