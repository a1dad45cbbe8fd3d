// Embedding speed of the shipped models side by side, in one run:
//
//   npx tsx scripts/bench/models.ts [--models all-MiniLM-L6-v2,glove-sif-100d] [--n 3000] [--rounds 3] [--questions 200]
//
// For each model: indexing throughput (TransformersEmbedder.embed over n sentences of the shipped
// corpus and test articles, cycled; batches of 64 sorted by length as in indexing) with
// onnxruntime intra-op threads 1 and 2 in-process, and with the embedder's two worker threads of
// one intra-op thread each (its default on 2 cores; the batches shared between them); then single-question latency (embed of one question, kind
// "query", after warm-up; median and p95); and the time 100k and 1M sentences would take at the
// best indexing rate. Rounds interleave the variants; figures are medians over rounds.

import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { argValue, log, median, percentile, ROOT, round } from "./common.js";

const MODELS = (argValue("--models") ?? "all-MiniLM-L6-v2,glove-sif-100d").split(",");
const N = Number(argValue("--n") ?? 3000);
const ROUNDS = Number(argValue("--rounds") ?? 3);
const QUESTIONS = Number(argValue("--questions") ?? 200);
const BATCH = 64;

// Sentences: the shipped corpus and the test articles, cycled to N.
const sentences: string[] = [];
for (const dir of [path.join(ROOT, "corpus"), path.join(ROOT, "test", "fixtures", "extra-corpus")]) {
  for (const a of (await loadCorpus(dir)).articles) for (const p of splitArticle(a)) sentences.push(p.text);
}
const texts = Array.from({ length: N }, (_, i) => sentences[i % sentences.length]!);
// Questions: the eval questions of test/eval, cycled.
const evalQuestions = readdirSync(path.join(ROOT, "test", "eval"))
  .filter((f) => f.endsWith(".jsonl"))
  .flatMap((f) => readFileSync(path.join(ROOT, "test", "eval", f), "utf8").split("\n"))
  .filter((l) => l.trim())
  .map((l) => (JSON.parse(l) as { question: string }).question);
const questions = Array.from({ length: QUESTIONS }, (_, i) => evalQuestions[i % evalQuestions.length]!);

interface Row {
  model: string;
  directRoute: boolean;
  dims: number;
  indexing: Record<string, number>;
  best: string;
  questionMs: { median: number; p95: number };
  hours100k: number;
  hours1m: number;
}

const rows: Row[] = [];
for (const model of MODELS) {
  log(`${model}: loading`);
  const two = await TransformersEmbedder.load({ model, threads: 2, workers: 0 });
  const one = await TransformersEmbedder.load({ model, threads: 1, workers: 0 });
  const pooled = await TransformersEmbedder.load({ model, workers: 2 });
  const variants: Record<string, (t: string[]) => Promise<unknown>> = {
    "1 thread": (t) => one.embed(t),
    "2 intra-op threads": (t) => two.embed(t),
    "2 workers x 1 thread": (t) => pooled.embed(t),
  };
  const names = Object.keys(variants);
  for (const n of names) await variants[n]!(texts.slice(0, 256)); // warm-up
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of names.map((_, i) => names[(i + r) % names.length]!)) {
      const t = performance.now();
      await variants[n]!(texts);
      times[n]!.push((performance.now() - t) / 1000);
    }
  }
  await pooled.close();
  const indexing = Object.fromEntries(names.map((n) => [n, Math.round(N / median(times[n]!))]));
  const best = names.reduce((a, b) => (indexing[b]! > indexing[a]! ? b : a));
  // Question latency: one question per call, as the bot embeds them.
  for (const q of questions.slice(0, 20)) await two.embed([q], { kind: "query" });
  const lat: number[] = [];
  for (const q of questions) {
    const t = performance.now();
    await two.embed([q], { kind: "query" });
    lat.push(performance.now() - t);
  }
  rows.push({
    model,
    directRoute: two.usesDirectRoute,
    dims: two.dimensions,
    indexing,
    best,
    questionMs: { median: round(median(lat), 2), p95: round(percentile(lat, 95), 2) },
    hours100k: 1e5 / indexing[best]! / 3600,
    hours1m: 1e6 / indexing[best]! / 3600,
  });
  log(`${model}: ${JSON.stringify(indexing)} sentences/s`);
}

const dur = (h: number) => (h < 1 / 60 ? `${Math.round(h * 3600)} s` : h < 1 ? `${Math.round(h * 60)} min` : `${round(h, 1)} h`);
console.log(
  `\n${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}; ${N} sentences × ${ROUNDS} rounds, batches of ${BATCH}; ${QUESTIONS} questions`,
);
const header = [
  "model",
  "route",
  "dims",
  ...Object.keys(rows[0]!.indexing).map((k) => `sent/s, ${k}`),
  "question p50 ms",
  "question p95 ms",
  "100k sentences",
  "1M sentences",
];
console.log(`| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|`);
for (const r of rows) {
  const cells = [
    r.model,
    r.directRoute ? "direct" : "pipeline",
    r.dims,
    ...Object.values(r.indexing),
    r.questionMs.median,
    r.questionMs.p95,
    dur(r.hours100k),
    dur(r.hours1m),
  ];
  console.log(`| ${cells.join(" | ")} |`);
}
console.log(`(100k/1M: at each model's best indexing rate: ${rows.map((r) => `${r.model} ${r.best}`).join(", ")})`);
