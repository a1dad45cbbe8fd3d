// The answer path alone over one opened snapshot, every model output cached: what Retriever.answer
// costs per question (store reads, ranking, re-scoring, excerpts), without store.ts's other steps.
//
//   npx tsx scripts/bench/answer-profile.ts --index data/bench/store/scale-100k [--rounds 3] [--questions 200]
//     [--dump answers.json]   every answer (hits + evidence) of the timed questions, to compare two versions
//     [--profile]             a CPU profile of the timed rounds, summarised by self time
//
// Each round answers the bench's questions on a fresh Retriever (no article or word cache, as the
// serve step's cached pass), after the same warm-up; the figures are per round and over all rounds.
import { writeFileSync } from "node:fs";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { Retriever } from "../../src/search/retriever.js";
import { FileStore } from "../../src/store/fs/store.js";
import { argValue, log, median, percentile, profile, questionsFromPassages, round, THREADS } from "./common.js";
import { CountingEmbedder } from "./counting-embedder.js";
import { base, MODEL } from "./rows.js";

const indexDir = argValue("--index");
if (!indexDir) throw new Error("--index <dir> is required");
const rounds = Number(argValue("--rounds") ?? 3);
const b = await base(Number(argValue("--questions") ?? 200));
const store = new FileStore(indexDir);
const snap = await store.current();
if (!snap) throw new Error(`no index in ${indexDir}`);
const embedder = new CountingEmbedder(await TransformersEmbedder.load({ model: MODEL, threads: THREADS }));
const warm = questionsFromPassages(b.texts, 20, 99);

// Fill the model caches (question token matrices, windows) once, on a retriever not timed.
const first = await Retriever.open(snap, embedder);
for (const q of [...warm, ...b.queries]) await first.answer(q);
const modelBefore = embedder.modelMs;

const dump = argValue("--dump");
if (dump) {
  const r = await Retriever.open(snap, embedder);
  for (const q of warm) await r.answer(q);
  const answers = [];
  for (const q of b.queries) answers.push(await r.answer(q));
  writeFileSync(dump, `${JSON.stringify(answers, null, 1)}\n`);
  log(`${answers.length} answers written to ${dump}`);
}

// Each round's retriever opened and warmed before the timed (and profiled) part.
const retrievers: Retriever[] = [];
for (let k = 0; k < rounds; k++) {
  const r = await Retriever.open(snap, embedder);
  for (const q of warm) await r.answer(q);
  retrievers.push(r);
}
const all: number[] = [];
const timed = async () => {
  for (const [k, r] of retrievers.entries()) {
    const ms: number[] = [];
    for (const q of b.queries) {
      const t = performance.now();
      await r.answer(q);
      ms.push(performance.now() - t);
    }
    all.push(...ms);
    log(`round ${k + 1}: p50 ${round(median(ms), 3)} ms, p95 ${round(percentile(ms, 95), 3)} ms`);
  }
};
if (process.argv.includes("--profile")) {
  const p = await profile(timed, 30);
  log(`profile: ${p.totalMs} ms sampled`);
  for (const f of p.functions) log(`  ${String(f.ms).padStart(8)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.fn}`);
  for (const s of p.sources.slice(0, 12)) log(`  ${String(s.ms).padStart(8)} ms ${(s.share * 100).toFixed(1).padStart(5)}%  [${s.source}]`);
} else await timed();
log(`all rounds: p50 ${round(median(all), 3)} ms, p95 ${round(percentile(all, 95), 3)} ms (${all.length} answers)`);
if (embedder.modelMs !== modelBefore) log(`warning: the timed rounds ran the model for ${round(embedder.modelMs - modelBefore, 1)} ms`);
await store.close();
