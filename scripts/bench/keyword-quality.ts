// Keyword-only retrieval quality: minisearch (scripts/bench/minisearch.ts, the engine before the store) against the postings
// engine (src/search/postings) in each of its settings, on the project's question sets, side by side.
//
//   npx tsx scripts/bench/keyword-quality.ts [--distractors 10k|100k] [--hybrid] [--json out.json]
//
// Passages are made as the index build makes them (loadCorpus → splitArticle). A question counts
// as answered at rank r when the r-th passage, or the window of it and its two neighbours in the
// same article, contains one of its answers after src/eval.ts `normalize` (as `firstCorrectRank`
// does with an excerpt's context). Negative questions are left out. With --distractors, every
// corpus is searched together with the passages of data/large/corpus-<size> (npm run
// prepare-large), none of which holds an answer: ranking among 10k–100k unrelated sentences.
// With --hybrid, also the whole pipeline (`evaluate` of src/eval.ts, hybrid mode, the default
// model) with the store's postings engine and with minisearch swapped into the same loaded
// snapshot: what the move from minisearch did to `npm run eval`. Indexes go to
// data/bench/keyword-quality/.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Citebot } from "../../src/citebot.js";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { evaluate, normalize, readQuestions } from "../../src/eval.js";
import { type EngineOptions, PostingsIndex } from "../../src/search/postings/engine.js";
import { Segment } from "../../src/search/postings/segment.js";
import { Retriever } from "../../src/search/retriever.js";
import type { Snapshot } from "../../src/store/types.js";
import type { Article, Passage } from "../../src/types.js";
import { argValue, BENCH_DIR, largeCorpora, ROOT, snapshotPassages } from "./common.js";
import { KeywordIndex } from "./minisearch.js";

const SETS: Array<{ corpus: string; files: string[] }> = [
  { corpus: "corpus", files: ["dev-qa.jsonl", "extra-qa.jsonl", "holdout-qa.jsonl", "chat-qa.jsonl"] },
  { corpus: "test/fixtures/extra-corpus", files: ["fixtures-qa.jsonl"] },
  { corpus: "test/fixtures/kinds-corpus", files: ["kinds-qa.jsonl"] },
];

const PLAIN = { coordination: false, bm25: { delta: 0 } } as const;
const ENGINES: Array<[name: string, options: EngineOptions | "minisearch"]> = [
  ["minisearch (baseline)", "minisearch"],
  ["BM25, fuzzy=missing", { ...PLAIN, fuzzy: "missing" }],
  ["BM25, fuzzy=always", { ...PLAIN, fuzzy: "always" }],
  ["BM25 +coord, fuzzy=missing", { fuzzy: "missing", coordination: true, bm25: { delta: 0 } }],
  ["BM25+ δ.5 +coord, fuzzy=missing (default)", {}],
  ["BM25+ δ.5 +coord, fuzzy=always", { fuzzy: "always" }],
  ["BM25+ δ.5 b.7 +coord, fuzzy=always", { fuzzy: "always", bm25: { b: 0.7 } }],
];

interface Row {
  set: string;
  engine: string;
  n: number;
  hit1: number;
  hit3: number;
  mrr5: number;
}

/** Normalized passage texts and ±1 windows (same article), in index order. */
function windows(articles: Article[], passages: Passage[]): Array<{ text: string; window: string }> {
  const byArticle = new Map(articles.map((a) => [a.id, a]));
  return passages.map((p, i) => {
    const prev = passages[i - 1]?.articleId === p.articleId ? passages[i - 1]! : p;
    const next = passages[i + 1]?.articleId === p.articleId ? passages[i + 1]! : p;
    return { text: normalize(p.text), window: normalize(byArticle.get(p.articleId)!.text.slice(prev.start, next.end)) };
  });
}

async function main(): Promise<void> {
  const size = argValue("--distractors");
  let distractors: string[] = [];
  if (size) {
    const large = largeCorpora().get(size);
    if (!large) throw new Error(`no data/large corpus of size ${size}: run npm run prepare-large -- --sizes ${size}`);
    distractors = (await loadCorpus(large.dir)).articles.flatMap(splitArticle).map((p) => p.text);
    console.error(`  · ${distractors.length} distractor passages from ${large.dir}`);
  }
  const rows: Row[] = [];
  for (const { corpus, files } of SETS) {
    const { articles } = await loadCorpus(path.join(ROOT, corpus));
    const passages = articles.flatMap(splitArticle);
    const win = windows(articles, passages);
    // Corpus passages first (labels 0..n-1), distractors after them.
    const texts = [...passages.map((p) => p.text), ...distractors];
    // One segment serves every postings setting (they differ only in scoring).
    const segment = Segment.build(texts);
    const engines = ENGINES.map(([name, opts]) => {
      const t0 = performance.now();
      const search = opts === "minisearch" ? KeywordIndex.build(texts) : new PostingsIndex([segment], [], opts);
      console.error(`  · ${corpus}: ${name} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { name, search };
    });
    for (const file of files) {
      const questions = readQuestions(path.join(ROOT, "test", "eval", file)).filter((q) => q.kind !== "negative" && q.answers.length > 0);
      for (const { name, search } of engines) {
        let hit1 = 0;
        let hit3 = 0;
        let mrr5 = 0;
        for (const q of questions) {
          const wanted = q.answers.map(normalize);
          const { hits } = search.query(q.question, 5);
          const rank =
            hits.findIndex((h) => h.index < win.length && wanted.some((w) => win[h.index]!.text.includes(w) || win[h.index]!.window.includes(w))) + 1;
          if (rank === 1) hit1++;
          if (rank >= 1 && rank <= 3) hit3++;
          if (rank >= 1) mrr5 += 1 / rank;
        }
        const n = questions.length;
        rows.push({ set: file.replace(/\.jsonl$/, ""), engine: name, n, hit1: hit1 / n, hit3: hit3 / n, mrr5: mrr5 / n });
      }
    }
  }
  // Totals over all answerable questions (weighted by set size).
  for (const [name] of ENGINES) {
    const mine = rows.filter((r) => r.engine === name);
    const n = mine.reduce((a, r) => a + r.n, 0);
    const avg = (k: "hit1" | "hit3" | "mrr5") => mine.reduce((a, r) => a + r[k] * r.n, 0) / n;
    rows.push({ set: "ALL", engine: name, n, hit1: avg("hit1"), hit3: avg("hit3"), mrr5: avg("mrr5") });
  }
  const f = (x: number) => x.toFixed(3);
  console.log(`keyword-only quality${size ? ` with ${distractors.length} distractor passages (${size})` : ""}: hit@1 / hit@3 / MRR@5 (answerable questions)\n`);
  const sets = [...new Set(rows.map((r) => r.set))];
  const head = ["engine", ...sets.map((s) => `${s} (${rows.find((r) => r.set === s)!.n})`)];
  const body = ENGINES.map(([name]) => [
    name,
    ...sets.map((s) => rows.find((r) => r.set === s && r.engine === name)!).map((r) => `${f(r.hit1)} ${f(r.hit3)} ${f(r.mrr5)}`),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log([line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n"));
  const hybrid = process.argv.includes("--hybrid") ? await hybridEval() : undefined;
  const out = argValue("--json");
  if (out) writeFileSync(out, JSON.stringify({ distractors: size ?? null, rows, hybrid: hybrid ?? null }, null, 2));
}

/** `evaluate` (hybrid, the whole pipeline) with minisearch (the keyword engine before the store), then with the store's postings engine. */
async function hybridEval(): Promise<Array<{ set: string; engine: string; hit1: number; hit3: number; mrr5: number; abstainNeg: number; abstainAns: number }>> {
  const out: Array<{ set: string; engine: string; hit1: number; hit3: number; mrr5: number; abstainNeg: number; abstainAns: number }> = [];
  for (const { corpus, files } of SETS) {
    const bot = await Citebot.open({ corpusDir: path.join(ROOT, corpus), dataDir: path.join(BENCH_DIR, "keyword-quality") });
    const snapshot = bot.snapshot;
    const { ids, passages } = await snapshotPassages(snapshot);
    const minisearch = KeywordIndex.build(passages.map((p) => p.text));
    // The same snapshot, its keyword search answered by minisearch (no filters: evaluation uses none).
    const withMinisearch: Snapshot = Object.assign(Object.create(snapshot) as Snapshot, {
      keyword: async (question: string, k: number) => {
        const { hits, queryTerms } = minisearch.query(question, k);
        return { hits: hits.map((h) => ({ id: ids[h.index]!, score: h.score, matched: h.matched })), queryTerms };
      },
    });
    for (const [engine, snap] of [
      ["minisearch (before)", withMinisearch],
      ["postings (the store's)", snapshot],
    ] as const) {
      const retriever = await Retriever.open(snap, bot.embedder, bot.settings);
      for (const file of files) {
        const f = await evaluate(retriever, readQuestions(path.join(ROOT, "test", "eval", file)));
        out.push({
          set: file.replace(/\.jsonl$/, ""),
          engine,
          hit1: f.hit1,
          hit3: f.hit3,
          mrr5: f.mrr5,
          abstainNeg: f.abstainOnNegatives,
          abstainAns: f.wrongAbstain,
        });
      }
    }
  }
  const f = (x: number) => x.toFixed(3);
  console.log("\nhybrid pipeline (npm run eval's figures): hit@1 / hit@3 / MRR@5 · abstain on negatives / on answerable\n");
  for (const r of out) console.log(`${r.set.padEnd(12)} ${r.engine.padEnd(24)} ${f(r.hit1)} ${f(r.hit3)} ${f(r.mrr5)} · ${f(r.abstainNeg)} ${f(r.abstainAns)}`);
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
