// Keyword engine speed: minisearch (scripts/bench/minisearch.ts, the engine before the store) against the postings engine
// (src/search/postings), side by side in one run, each engine measured in its own child process
// (clean heap, its own peak RSS).
//
//   npx tsx scripts/bench/keyword-speed.ts [--sizes 10k,100k] [--engines minisearch,postings,…] [--questions 200] [--rounds 5] [--json out.json]
//
// Corpora: data/large/corpus-<size> (npm run prepare-large), split into passages as the index build
// does. Figures per engine: build time from texts, serialized size, open time (read the file and
// make it queryable), heap held by the opened index (after GC), and query latency p50/p95 over
// `--questions` questions (OR semantics, top 50): the evaluation questions of test/eval cycled
// through the bench's phrasing variants, and as many questions made from the corpus's own
// sentences. Each question runs `--rounds` times after a warm-up pass; its time is the median.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { readQuestions as readEvalFile } from "../../src/eval.js";
import { type EngineOptions, PostingsIndex } from "../../src/search/postings/engine.js";
import {
  argValue,
  BENCH_DIR,
  freshDir,
  largeCorpora,
  machine,
  mb,
  median,
  percentile,
  questionsFromPassages,
  ROOT,
  round,
  runChild,
  variedQuestions,
  writeResult,
} from "./common.js";
import { KeywordIndex } from "./minisearch.js";

/**
 * postings: the engine's defaults (BM25+ δ 0.5, coordination, fuzzy for missing terms);
 * postings-bm25: plain BM25 (δ 0, no coordination); postings-fuzzy-always: defaults with every
 * term ≥ 5 chars expanded, as minisearch does; postings-no-pruning: defaults, scoring every match.
 */
const ENGINES = ["minisearch", "postings", "postings-bm25", "postings-fuzzy-always", "postings-no-pruning"] as const;
type Engine = (typeof ENGINES)[number];

function engineOptions(engine: Engine): EngineOptions {
  if (engine === "postings-bm25") return { bm25: { delta: 0 }, coordination: false };
  if (engine === "postings-fuzzy-always") return { fuzzy: "always" };
  return {};
}

interface Result {
  engine: Engine;
  size: string;
  passages: number;
  buildMs: number;
  bytes: number;
  openMs: number;
  heapMB: number;
  peakRssMB: number;
  /** Per question set: p50/p95 in ms, mean hits returned. */
  latency: Record<string, { p50: number; p95: number; meanHits: number }>;
}

const heapUsed = () => {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};

function evalQuestions(): string[] {
  const dir = path.join(ROOT, "test", "eval");
  const files = ["dev-qa.jsonl", "extra-qa.jsonl", "holdout-qa.jsonl", "chat-qa.jsonl", "fixtures-qa.jsonl", "kinds-qa.jsonl"];
  return files.flatMap((f) => readEvalFile(path.join(dir, f)).map((q) => q.question));
}

async function child(): Promise<void> {
  const engine = argValue("--engine") as Engine;
  const size = argValue("--size")!;
  const n = Number(argValue("--questions") ?? 200);
  const rounds = Number(argValue("--rounds") ?? 5);
  const corpus = largeCorpora().get(size)!;
  const texts = (await loadCorpus(corpus.dir)).articles.flatMap(splitArticle).map((p) => p.text);
  const sets: Record<string, string[]> = {
    eval: variedQuestions(n, evalQuestions()),
    "in-corpus": questionsFromPassages(texts, n, 42),
  };
  const file = path.join(freshDir(path.join(BENCH_DIR, `keyword-${engine}-${process.pid}`)), engine === "minisearch" ? "keyword.json" : "keyword.seg");
  const options = engineOptions(engine);
  const exhaustive = engine === "postings-no-pruning";

  const { buildMs, bytes } = buildAndStore(engine, texts, file, options);
  texts.length = 0;
  // Open what was stored (the built index is out of scope by now), measuring the heap it holds.
  const base = heapUsed();
  const t0 = performance.now();
  const search = engine === "minisearch" ? KeywordIndex.fromJSON(readFileSync(file, "utf8")) : PostingsIndex.open([readFileSync(file)], [], options);
  const openMs = performance.now() - t0;
  const heap = heapUsed() - base;
  const latency: Result["latency"] = {};
  for (const [name, questions] of Object.entries(sets)) {
    for (const q of questions) search.query(q, 50); // warm-up
    const times: number[][] = questions.map(() => []);
    let hits = 0;
    for (let r = 0; r < rounds; r++) {
      questions.forEach((q, i) => {
        const s = performance.now();
        const res = exhaustive ? (search as PostingsIndex).query(q, 50, { exhaustive }) : search.query(q, 50);
        times[i]!.push(performance.now() - s);
        if (r === 0) hits += res.hits.length;
      });
    }
    const perQuestion = times.map(median);
    latency[name] = { p50: round(percentile(perQuestion, 50)), p95: round(percentile(perQuestion, 95)), meanHits: round(hits / questions.length, 1) };
  }
  rmSync(path.dirname(file), { recursive: true, force: true });
  const result: Result = {
    engine,
    size,
    passages: Number(argValue("--passages") ?? 0),
    buildMs: round(buildMs, 0),
    bytes,
    openMs: round(openMs, 1),
    heapMB: round(mb(heap), 1),
    peakRssMB: round(mb(process.resourceUsage().maxRSS * 1024), 0),
    latency,
  };
  writeResult(result);
}

/** Builds the engine's index from texts and writes its stored form; the index is dropped on return. */
function buildAndStore(engine: Engine, texts: string[], file: string, options: EngineOptions): { buildMs: number; bytes: number } {
  const t0 = performance.now();
  if (engine === "minisearch") {
    const built = KeywordIndex.build(texts);
    const buildMs = performance.now() - t0;
    writeFileSync(file, built.toJSON());
    return { buildMs, bytes: readFileSync(file).byteLength };
  }
  const built = PostingsIndex.build(texts, options);
  const buildMs = performance.now() - t0;
  writeFileSync(file, built.toBuffers().segments[0]!);
  return { buildMs, bytes: readFileSync(file).byteLength };
}

async function parent(): Promise<void> {
  const sizes = (argValue("--sizes") ?? "10k,100k").split(",");
  const available = largeCorpora();
  const results: Result[] = [];
  for (const size of sizes) {
    const corpus = available.get(size);
    if (!corpus) {
      console.error(`  · no data/large corpus of size ${size} (npm run prepare-large -- --sizes ${size}); skipped`);
      continue;
    }
    const passages = (await loadCorpus(corpus.dir)).articles.flatMap(splitArticle).length;
    const wanted = (argValue("--engines") ?? ENGINES.join(",")).split(",");
    for (const engine of ENGINES.filter((e) => wanted.includes(e))) {
      console.error(`  · ${size} (${passages} passages): ${engine}`);
      const args = ["--child", "--engine", engine, "--size", size, "--passages", String(passages)];
      for (const k of ["--questions", "--rounds"]) if (argValue(k)) args.push(k, argValue(k)!);
      const r = await runChild<Result>(path.join(ROOT, "scripts", "bench", "keyword-speed.ts"), args, {
        label: `keyword-${engine}-${size}`,
        nodeArgs: ["--expose-gc", "--max-old-space-size=8192"],
      });
      results.push({ ...r, passages });
    }
  }
  const head = ["size", "engine", "build", "stored", "open", "heap", "peak RSS", "eval p50/p95", "in-corpus p50/p95", "hits/q (eval, in-corpus)"];
  const body = results.map((r) => [
    `${r.size} (${r.passages})`,
    r.engine,
    `${(r.buildMs / 1000).toFixed(2)} s`,
    `${mb(r.bytes).toFixed(1)} MiB`,
    `${r.openMs.toFixed(0)} ms`,
    `${r.heapMB.toFixed(0)} MiB`,
    `${r.peakRssMB} MiB`,
    `${r.latency.eval!.p50.toFixed(2)} / ${r.latency.eval!.p95.toFixed(2)} ms`,
    `${r.latency["in-corpus"]!.p50.toFixed(2)} / ${r.latency["in-corpus"]!.p95.toFixed(2)} ms`,
    `${r.latency.eval!.meanHits}, ${r.latency["in-corpus"]!.meanHits}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log([line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n"));
  const out = argValue("--json");
  if (out) writeFileSync(out, JSON.stringify({ machine: machine(), results }, null, 2));
}

(process.argv.includes("--child") ? child() : parent()).catch((err) => {
  console.error(err);
  process.exit(1);
});
