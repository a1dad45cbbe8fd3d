/**
 * Fits one model's ranking weights and answer/abstain calibration on every question set under
 * test/eval (src/eval.ts EVAL_SETS), and writes them into models/<name>/citebot.json ("retrieval"
 * and "abstain" keys), where the retriever reads them.
 *
 * - Ranking, two tiers as the retriever scores them: `firstWeights` over the signals that need no
 *   model run (FIRST_SIGNALS) for the first `rerank` candidates, `weights` over every signal
 *   (SIGNALS) for the best `rescore` of those. Each is a pairwise logistic model (every correct
 *   candidate against every wrong one of the same question, each question weighing the same).
 * - Abstention: a logistic model over the question's evidence (EVIDENCE), the two classes weighing
 *   the same (--negative-weight to change), and a threshold set so that at most --max-wrong (5%)
 *   of the answerable training questions are abstained on.
 *
 * Honest figures: for each set, both are fitted WITHOUT that set and the whole pipeline
 * (`answer()`, excerpts and all) is run on it with those weights: leave-one-set-out. The weights
 * written are fitted on all sets; their in-sample figures are printed for comparison only.
 *
 *   npm run fit-abstain -- --model all-MiniLM-L6-v2 --set rescore=3 [--dry-run]
 *   npm run fit-abstain -- --model glove-sif-100d --set wordWeights=model --set softWords=true --set denseQuery=content --set rescore=3
 *   options: --signals dense,keyword,… --evidence late,weakest,… (ablations), --set key=value (retrieval settings, written too),
 *   --details (list the held-out questions each set's decision got wrong), --dump <file> (every question's evidence, one JSON a line)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Citebot } from "../src/citebot.js";
import { loadCoreConfig } from "../src/config.js";
import { EVAL_SETS, type EvalQuestion, evaluate, type Figures, firstCorrectRank, pooled, readQuestions } from "../src/eval.js";
import {
  type AbstainModel,
  type Calibration,
  EVIDENCE,
  type EvidenceName,
  FIRST_SIGNALS,
  SIGNALS,
  type Signal,
  writeCalibration,
} from "../src/search/calibration.js";
import {
  type Candidate,
  DEFAULT_SETTINGS,
  evidenceOf,
  type QuestionEvidence,
  type Retriever,
  type RetrieverSettings,
  scoreOf,
} from "../src/search/retriever.js";

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const model = arg("--model") ?? loadCoreConfig().EMBED_MODEL;
const dryRun = args.includes("--dry-run");
/** Also list, per set, the held-out questions the decision got wrong. */
const showDetails = args.includes("--details");
const signals = (arg("--signals")?.split(",") ?? [...SIGNALS]) as Signal[];
const firstSignals = signals.filter((s) => (FIRST_SIGNALS as readonly Signal[]).includes(s));
const evidenceNames = (arg("--evidence")?.split(",") ?? [...EVIDENCE]) as EvidenceName[];
for (const s of signals) if (!SIGNALS.includes(s)) throw new Error(`unknown signal ${s} (one of ${SIGNALS.join(", ")})`);
for (const e of evidenceNames) if (!EVIDENCE.includes(e)) throw new Error(`unknown evidence ${e} (one of ${EVIDENCE.join(", ")})`);
/** Retrieval settings to fit under (and write): --set key=value, repeated. */
const retrieval: Record<string, string | number | boolean> = {};
args.forEach((a, i) => {
  if (a !== "--set") return;
  const [k, v] = args[i + 1]!.split("=") as [string, string];
  retrieval[k] = v === "true" ? true : v === "false" ? false : Number.isFinite(Number(v)) ? Number(v) : v;
});

// Fitting needs the signals of every candidate the first stage could hand on, so it re-scores more
// of them than the shipped setting; uncalibrated weights are replaced below.
const FIT_RERANK = 30;
/** The two tiers' sizes the weights are fitted for (the retriever's settings). */
const RERANK = Number(retrieval.rerank ?? DEFAULT_SETTINGS.rerank);
const RESCORE = Number(retrieval.rescore ?? DEFAULT_SETTINGS.rescore);
/** How much more a negative counts than an answerable question in the abstain fit (classes otherwise balanced). */
const NEGATIVE_WEIGHT = Number(arg("--negative-weight") ?? 1);
/** The share of answerable training questions the fitted threshold may wrongly abstain on. */
const MAX_WRONG = Number(arg("--max-wrong") ?? 0.05);
/** L2 penalty of the abstain fit (on standardised evidence): larger keeps correlated evidence from pulling apart. */
const ABSTAIN_L2 = Number(arg("--l2") ?? 0.01);

interface Row {
  set: string;
  q: EvalQuestion;
  candidates: Candidate[];
  /** Whether each candidate's excerpt (sentence and neighbours) holds an answer. */
  correct: boolean[];
  question: QuestionEvidence;
}

const bots = new Map<string, Citebot>();
const open = async (corpus: string) => {
  let bot = bots.get(corpus);
  if (!bot) {
    bot = await Citebot.open({
      corpusDir: corpus,
      dataDir: mkdtempSync(path.join(tmpdir(), "citebot-fit-")),
      model,
      retriever: retrieval as Partial<RetrieverSettings>,
    });
    bots.set(corpus, bot);
  }
  return bot;
};
const retrieverOf = (bot: Citebot) => (bot as unknown as { retriever: Retriever }).retriever;

const rows: Row[] = [];
for (const set of EVAL_SETS) {
  const bot = (await open(set.corpus)).withSettings({ rerank: FIT_RERANK, allSignals: true });
  const r = retrieverOf(bot);
  for (const q of readQuestions(set.file)) {
    const { candidates: first, gathered } = await r.rank(q.question);
    const { question } = await r.rerank(q.question, first, gathered);
    // In the first stage's order (re-scoring sets the signals on these same objects).
    const candidates = first.filter((c) => c.signals);
    const correct = await Promise.all(
      candidates.map(async (c) => {
        const p = gathered.passage(c.index);
        const hit = (await r.excerpt(p.articleId, p.n))!;
        return q.answers.length > 0 && firstCorrectRank({ question: q.question, answered: true, hits: [hit], more: false }, q.answers) === 1;
      }),
    );
    rows.push({ set: set.name, q, candidates, correct, question });
  }
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Weighted L2-regularised logistic regression by Newton's method (IRLS) on standardised columns;
 * returns weights on the original scale, the intercept first when `intercept`.
 */
function logistic(X: number[][], y: number[], sw: number[], opts: { intercept: boolean; l2: number }): number[] {
  const k = X[0]?.length ?? 0;
  const n = X.length;
  const totalW = sw.reduce((a, b) => a + b, 0) || 1;
  const mean = Array.from({ length: k }, (_, j) => (opts.intercept ? X.reduce((s, x, i) => s + sw[i]! * x[j]!, 0) / totalW : 0));
  const sd = Array.from({ length: k }, (_, j) => Math.sqrt(X.reduce((s, x, i) => s + sw[i]! * (x[j]! - mean[j]!) ** 2, 0) / totalW) || 1);
  const Z = X.map((x) => [...(opts.intercept ? [1] : []), ...x.map((v, j) => (v - mean[j]!) / sd[j]!)]);
  const m = Z[0]?.length ?? 0;
  let w = new Array<number>(m).fill(0);
  for (let it = 0; it < 50; it++) {
    const H = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    const g = new Array<number>(m).fill(0);
    for (let i = 0; i < n; i++) {
      const z = Z[i]!;
      const p = sigmoid(z.reduce((s, v, j) => s + v * w[j]!, 0));
      const r = (sw[i]! / totalW) * (y[i]! - p);
      const h = (sw[i]! / totalW) * p * (1 - p);
      for (let a = 0; a < m; a++) {
        g[a]! += r * z[a]!;
        for (let b = 0; b < m; b++) H[a]![b]! += h * z[a]! * z[b]!;
      }
    }
    const first = opts.intercept ? 1 : 0;
    for (let a = first; a < m; a++) {
      g[a]! -= opts.l2 * w[a]!;
      H[a]![a]! += opts.l2;
    }
    const step = solve(H, g);
    w = w.map((v, j) => v + step[j]!);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  // Back to the original scale.
  const coef = (opts.intercept ? w.slice(1) : w).map((v, j) => v / sd[j]!);
  if (!opts.intercept) return coef;
  const bias = w[0]! - coef.reduce((s, c, j) => s + c * mean[j]!, 0);
  return [bias, ...coef];
}

/** Solves A x = b (Gaussian elimination with partial pivoting). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const pivot = M[c]![c]! || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / pivot;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / (M[i]![i]! || 1e-12));
}

/** Pairwise logistic ranking weights over `signals` (no intercept: only differences count). */
function fitRanking(train: Row[], signals: readonly Signal[]): Partial<Record<Signal, number>> {
  const X: number[][] = [];
  const y: number[] = [];
  const sw: number[] = [];
  for (const r of train) {
    const pos = r.candidates.filter((_, i) => r.correct[i]);
    const neg = r.candidates.filter((_, i) => !r.correct[i]);
    if (!pos.length || !neg.length) continue;
    // Each question weighs the same however many pairs it has; each pair both ways round.
    const w = 1 / (pos.length * neg.length);
    for (const p of pos)
      for (const n of neg) {
        const d = signals.map((s) => p.signals![s] - n.signals![s]);
        X.push(
          d,
          d.map((v) => -v),
        );
        y.push(1, 0);
        sw.push(w, w);
      }
  }
  const w = logistic(X, y, sw, { intercept: false, l2: 0.01 });
  return Object.fromEntries(signals.map((s, i) => [s, round(w[i]!)]));
}

interface Ranking {
  firstWeights: Partial<Record<Signal, number>>;
  weights: Partial<Record<Signal, number>>;
}
const fitBoth = (train: Row[]): Ranking => ({ firstWeights: fitRanking(train, firstSignals), weights: fitRanking(train, signals) });

/** Re-scores each question's candidates as the retriever does (two tiers); returns the evidence of each question. */
function evidenceRows(rs: Row[], ranking: Ranking) {
  return rs.map((r) => {
    const tier1 = r.candidates
      .slice(0, RERANK)
      .map((c) => ({ ...c, score: scoreOf(c.signals!, ranking.firstWeights) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    const scored = tier1
      .slice(0, RESCORE)
      .map((c) => ({ ...c, rescored: true, score: scoreOf(c.signals!, ranking.weights) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    const e = evidenceOf(scored, r.question, { bias: 0, weights: {}, threshold: 0.5 });
    return { x: evidenceNames.map((k) => e[k]), answerable: r.q.kind !== "negative" };
  });
}

/** Which way each evidence should push answerability (+1: the more, the more answerable); unlisted: free. */
const EXPECTED_SIGN: Partial<Record<EvidenceName, number>> = {
  late: 1,
  weakest: 1,
  window: 1,
  dense: 1,
  coverage: 1,
  focus: 1,
  focusGap: -1,
  namesMissing: -1,
  typeMissing: -1,
  countMissing: -1,
};
const FREE_SIGNS = args.includes("--free-signs");

/** Logistic answerability over the evidence, the two classes weighted to count equally. */
function fitAbstain(train: Array<{ x: number[]; answerable: boolean }>): AbstainModel {
  const nPos = train.filter((t) => t.answerable).length || 1;
  const nNeg = train.filter((t) => !t.answerable).length || 1;
  // Evidence whose direction is known (more focus, never less answerable) keeps that sign: an
  // evidence the fit turns round only stands in for another it is correlated with, which does not
  // carry over to new sets. Such evidence is dropped and the rest refitted (--free-signs: off).
  const used = evidenceNames.map(() => true);
  let w: number[] = [];
  for (;;) {
    const cols = evidenceNames.map((_, i) => i).filter((i) => used[i]);
    const fitted = logistic(
      train.map((t) => cols.map((i) => t.x[i]!)),
      train.map((t) => (t.answerable ? 1 : 0)),
      train.map((t) => (t.answerable ? 1 / nPos : NEGATIVE_WEIGHT / nNeg)),
      { intercept: true, l2: ABSTAIN_L2 },
    );
    w = [fitted[0]!, ...evidenceNames.map((_, i) => (used[i] ? fitted[cols.indexOf(i) + 1]! : 0))];
    const wrong = FREE_SIGNS ? [] : evidenceNames.map((_, i) => i).filter((i) => used[i] && (EXPECTED_SIGN[evidenceNames[i]!] ?? 0) * w[i + 1]! < 0);
    if (!wrong.length) break;
    for (const i of wrong) used[i] = false;
  }
  const model: AbstainModel = { bias: round(w[0]!), weights: Object.fromEntries(evidenceNames.map((k, i) => [k, round(w[i + 1]!)])), threshold: 0.5 };
  // The threshold: abstain on as many questions as possible while wrongly abstaining on at most
  // MAX_WRONG of the answerable training questions.
  const z = (x: number[]) => model.bias + evidenceNames.reduce((s, k, i) => s + model.weights[k]! * x[i]!, 0);
  const answerable = train
    .filter((t) => t.answerable)
    .map((t) => sigmoid(z(t.x)))
    .sort((a, b) => a - b);
  const k = Math.floor(MAX_WRONG * answerable.length);
  // Halfway between the k-th and (k+1)-th lowest answerable score: k of them fall below.
  model.threshold = Math.round(((k > 0 ? answerable[k - 1]! : 0) + answerable[k]!) * 500) / 1000;
  return model;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const f2 = (x: number) => x.toFixed(2);
const line = (f: Figures) =>
  `hit@1 ${f2(f.hit1)} hit@3 ${f2(f.hit3)} MRR@5 ${f2(f.mrr5)} para@3 ${f.byKind.paraphrase ? f2(f.byKind.paraphrase.hit3) : " -  "} | ` +
  `negatives abstained ${f2(f.abstainOnNegatives)} (${Math.round(f.abstainOnNegatives * f.negatives)}/${f.negatives}), answerable wrongly abstained ${f2(f.wrongAbstain)} (${Math.round(f.wrongAbstain * f.answerable)}/${f.answerable})`;

const candidatesRecall = rows.filter((r) => r.q.kind !== "negative" && r.correct.some(Boolean)).length / rows.filter((r) => r.q.kind !== "negative").length;
console.log(
  `${model}: ${rows.length} questions in ${EVAL_SETS.length} sets; a correct passage is among the ${FIT_RERANK} re-scored candidates for ${f2(candidatesRecall)} of the answerable`,
);
console.log(
  `signals: ${signals.join(", ")}; evidence: ${evidenceNames.join(", ")}${Object.keys(retrieval).length ? `; settings ${JSON.stringify(retrieval)}` : ""}\n`,
);

console.log("leave-one-set-out (ranking and abstention fitted without the set, whole pipeline run on it):");
const loso: Record<string, Figures> = {};
for (const set of EVAL_SETS) {
  const train = rows.filter((r) => r.set !== set.name);
  const ranking = fitBoth(train);
  const abstain = fitAbstain(evidenceRows(train, ranking));
  const bot = (await open(set.corpus)).withSettings({ ...ranking, abstain });
  loso[set.name] = await evaluate(bot, readQuestions(set.file));
  console.log(`  ${set.name.padEnd(9)} ${line(loso[set.name]!)}`);
  if (showDetails) {
    const questions = new Map(readQuestions(set.file).map((q) => [q.id, q.question]));
    for (const d of loso[set.name]!.details) {
      const wrong = d.kind === "negative" ? d.answered && "answered" : !d.answered && "abstained";
      if (wrong) console.log(`      ${wrong.padEnd(9)} ${d.id} ${questions.get(d.id)}`);
    }
  }
}
console.log(`  ${"all".padEnd(9)} ${line(pooled(Object.values(loso)))}`);
// How well the held-out answerability scores separate the classes, whatever the threshold.
const held = Object.values(loso).flatMap((f) => f.details.map((d) => ({ p: (d.evidence as { score: number }).score, answerable: d.kind !== "negative" })));
const pos = held.filter((h) => h.answerable).map((h) => h.p);
const neg = held.filter((h) => !h.answerable).map((h) => h.p);
const auc = pos.reduce((s, p) => s + neg.reduce((t, n) => t + (p > n ? 1 : p === n ? 0.5 : 0), 0), 0) / (pos.length * neg.length);
const at = (wrong: number) => {
  const sorted = [...pos].sort((a, b) => a - b);
  const t = sorted[Math.floor(wrong * sorted.length)]!;
  return `${f2(neg.filter((n) => n < t).length / neg.length)} of negatives abstained when ${f2(pos.filter((p) => p < t).length / pos.length)} of answerable are`;
};
console.log(`  held-out answerability AUC ${f2(auc)}; at other thresholds: ${at(0.05)}; ${at(0.1)}; ${at(0.2)}`);

const ranking = fitBoth(rows);
const abstain = fitAbstain(evidenceRows(rows, ranking));
const dumpFile = arg("--dump");
if (dumpFile) {
  // Every question's evidence under the ranking fitted on all sets, for looking at by hand.
  const evidence = evidenceRows(rows, ranking);
  const out = rows.map((r, i) => ({
    set: r.set,
    id: r.q.id,
    kind: r.q.kind,
    question: r.q.question,
    ...Object.fromEntries(evidenceNames.map((k, j) => [k, evidence[i]!.x[j]])),
  }));
  writeFileSync(dumpFile, `${out.map((o) => JSON.stringify(o)).join("\n")}\n`);
}
console.log(
  `\nfitted on all sets:\n  firstWeights ${JSON.stringify(ranking.firstWeights)}\n  weights ${JSON.stringify(ranking.weights)}\n  abstain ${JSON.stringify(abstain)}`,
);
console.log("in-sample (fitted on all sets, for comparison only):");
const inSample: Figures[] = [];
for (const set of EVAL_SETS) {
  const f = await evaluate((await open(set.corpus)).withSettings({ ...ranking, abstain }), readQuestions(set.file));
  inSample.push(f);
  console.log(`  ${set.name.padEnd(9)} ${line(f)}`);
}
console.log(`  ${"all".padEnd(9)} ${line(pooled(inSample))}`);

if (!dryRun) {
  const summary = (f: Figures) => ({
    hit1: round(f.hit1),
    hit3: round(f.hit3),
    negativesAbstained: round(f.abstainOnNegatives),
    answerableAbstained: round(f.wrongAbstain),
  });
  const calibration: Calibration = {
    retrieval: { ...(retrieval as NonNullable<Calibration["retrieval"]>), ...ranking },
    abstain: {
      ...abstain,
      fitted: {
        by: "npm run fit-abstain",
        sets: EVAL_SETS.map((s) => s.name),
        leaveOneSetOut: Object.fromEntries(Object.entries(loso).map(([k, f]) => [k, summary(f)])),
      },
    },
  };
  console.log(`\nwritten to ${writeCalibration(model, calibration)}`);
}
