// Retrieve stage: question → ranked passages (dense + keyword, fused) → cited excerpts
// (sentence windows, adjacent hits merged, near-duplicates dropped) → an Answer that abstains
// when the evidence says the articles do not cover the question.
import path from "node:path";
import { type Embedder, LOCAL_MODELS_DIR } from "../embed/embedder.js";
import { Lexicon } from "../embed/lexicon.js";
import type { Filter, PassageId, Snapshot } from "../store/types.js";
import type { Answer, AnswerOptions, Hit, Passage } from "../types.js";
import { answerType, countedInText, countedWords, hasAnswerOfType } from "./answertype.js";
import { type AbstainModel, CONSERVATIVE_ABSTAIN, EVIDENCE, type EvidenceName, loadCalibration, SIGNALS, type Signal } from "./calibration.js";
import { rarityWeight, windowFocus } from "./focus.js";
import { isStopWord, MAX_STEMMED_WORD, stemOf, words } from "./keyword.js";
import { bestCosines, lateScores, markContentTokens, TokenCache, type TokenMatrix } from "./late.js";
import { type Gathered, LoadedSnapshot } from "./loaded.js";

interface WordInfo {
  word: string;
  stem: string;
  /** The word's direction; undefined for a word the model does not know. */
  unit: Float32Array | undefined;
  /** The word's vector length: the model's weight for it. */
  norm: number;
}

/** A passage's distinct words and their stems (what a question word is matched against): a few dozen, so arrays, not sets. */
interface PassageWords {
  infos: WordInfo[];
  words: string[];
  stems: string[];
}

/** What rerank reads of the question alone (Retriever.prepare). */
interface QuestionPrep {
  words: QuestionWord[];
  df: Map<string, number>;
  late: TokenMatrix;
}

interface QuestionWord extends WordInfo {
  weight: number;
  /** Written as a name (capitalised mid-question, or an acronym): matches exactly only. */
  name: boolean;
  /** May be a typo: matched by a word one edit away. */
  typos: boolean;
  /** Used nowhere in the corpus, and no typo of a word that is. */
  unknown: boolean;
}

/** Score factor for each excerpt an article already has in the answer. */
const ARTICLE_REPEAT_DISCOUNT = 0.85;
/** The most sentences one excerpt's quote may span. */
const MAX_SPAN = 3;
/** Excerpts prepared per question, whatever page is asked for. */
const PAGE_POOL = 15;
/** Candidates whose articles are read at once when the excerpts walk past those already read. */
const EXCERPT_BATCH = 10;

/** An excerpt before it is made into a hit: sentences first..last of an article. */
interface ExcerptSpan {
  articleId: string;
  first: number;
  last: number;
  score: number;
  /** The candidates it holds (their vectors make the redundancy check). */
  vectors: number[];
}

/** Two rows of isTypo's edit-distance table, reused (grown for a longer word). */
let typoRows = [new Int32Array(32), new Int32Array(32)];

/** One edit apart (two for long words): "timline" ~ "timeline". */
function isTypo(a: string, b: string): boolean {
  if (a.length < 5 || Math.abs(a.length - b.length) > 2) return false;
  const max = a.length >= 8 ? 2 : 1;
  if (typoRows[0]!.length < b.length + 1) typoRows = [new Int32Array(b.length + 1), new Int32Array(b.length + 1)];
  let [prev, cur] = typoRows as [Int32Array, Int32Array];
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let least = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (cur[j]! < least) least = cur[j]!;
    }
    // A row's least entry never falls in later rows: already too far apart.
    if (least > max) return false;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]! <= max;
}

/** "russia"/"russian", "america"/"americans": one name a short ending away from the other. */
function isDerivedName(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 4 && long.length - short.length <= 3 && long.startsWith(short);
}

export type RetrievalMode = "hybrid" | "dense" | "keyword";

export interface RetrieverSettings {
  mode: RetrievalMode;
  /** Candidates taken from each ranking before fusion. */
  candidates: number;
  /** Weight of the dense cosine against the normalised BM25 score in the first-stage mix. */
  denseWeight: number;
  /** HNSW search breadth (recall/latency trade-off). Unused: each store sets its own (the files engine max(SEARCH_EF 512, k)). */
  ef: number;
  /** Excerpts whose vectors are this similar to a chosen one are dropped as repeats (MMR-style). */
  duplicateCosine: number;
  /** Characters of context around a hit. */
  maxContext: number;
  /** How many of the first stage's best candidates are re-scored by the signals that need no model run. */
  rerank: number;
  /** Linear weights over those signals: their score. */
  firstWeights: Partial<Record<Signal, number>>;
  /** How many of those best get every signal (one model run per window not cached). */
  rescore: number;
  /** Linear weights over every signal (hybrid mode): a rescored candidate's score. */
  weights: Partial<Record<Signal, number>>;
  /** The answer/abstain model over the question's evidence. */
  abstain: AbstainModel;
  /** How the two first-stage rankings combine: a weighted mix of scores, or reciprocal rank fusion. */
  fusion: "mix" | "rrf";
  /** Embed the whole question, or only its content words. */
  denseQuery: "full" | "content";
  /** Question words weigh by the model's word weight (a word model's vector length) or by their rarity in the corpus (IDF). */
  wordWeights: "model" | "idf";
  /** A question word is also covered by a near-synonym (the model's word vectors), not only by the same word. */
  softWords: boolean;
  /** Late interaction weighs every question token, or only those of its content words. */
  lateQuery: "all" | "content";
  /** Recognise lower-case names with the English lexicon when the model has none of its own. */
  englishLexicon: boolean;
  /** Compute every signal, whatever its weight (fitting). */
  allSignals: boolean;
  /** Question focus weighs a word by its rarity in the corpus (IDF) or in English (the English lexicon's word frequencies). */
  focusWeights: "idf" | "english";
  /** SIF's a for the English rarity: the smaller, the less common words weigh. */
  focusRarity: number;
  /** A "how many X" question's X is counted by a window when a number there counts X or a word this similar (the model's word vectors). */
  countSimilarity: number;
}

/** Settings of a model without a calibration; a calibrated model's citebot.json overrides them. */
export const DEFAULT_SETTINGS: RetrieverSettings = {
  mode: "hybrid",
  candidates: 50,
  denseWeight: 0.5,
  ef: 512,
  duplicateCosine: 0.92,
  maxContext: 600,
  rerank: 20,
  firstWeights: { neighbours: 1, keyword: 0.3, coverage: 0.3 },
  rescore: 3,
  weights: { late: 1, keyword: 0.3, coverage: 0.3 },
  abstain: CONSERVATIVE_ABSTAIN,
  fusion: "mix",
  denseQuery: "full",
  wordWeights: "idf",
  softWords: false,
  lateQuery: "content",
  englishLexicon: true,
  allSignals: false,
  focusWeights: "english",
  focusRarity: 1e-4,
  countSimilarity: 0.5,
};

/** One scored passage before excerpts are built. */
export interface Candidate {
  index: number;
  dense: number;
  /** BM25 normalised by the best BM25 score of this question (0 when not matched). */
  keyword: number;
  /** Every signal, for re-scored candidates (window, late and weakest only once `rescored`). */
  signals?: Record<Signal, number>;
  /** Scored by every signal (the second tier). */
  rescored?: boolean;
  score: number;
}

/** Signals behind the answer/abstain decision, exposed for evaluation and fitting. */
export type Evidence = Record<EvidenceName, number> & { score: number };

/** What the question itself contributes to the evidence, whatever the ranking. */
export interface QuestionEvidence {
  /** Share of the question's weight that the best passages cover (the best window's). */
  coverage: number;
  /** 1 when a name in the question (capitalised, or known only as a name) is in none of the best passages. */
  namesMissing: number;
  /** Share of the question's weight in words the corpus never uses (nor a typo of one). */
  unknownWords: number;
  /** The question asks for a number, a time or a name. */
  asksType: boolean;
  /** The question asks how many (or how much) of something it names ("how many fans…"). */
  asksCount?: boolean;
  /** No word of the question is known to the corpus, the model or the English lexicon ("zzqx qqzv"): nothing to answer. */
  nothingKnown?: boolean;
}

/** A candidate's score from its signals. */
export function scoreOf(signals: Record<Signal, number>, weights: Partial<Record<Signal, number>>): number {
  let s = 0;
  for (const k of SIGNALS) s += (weights[k] ?? 0) * signals[k];
  return s;
}

/** The evidence of a ranked (best first, re-scored) candidate list. */
export function evidenceOf(ranked: Candidate[], q: QuestionEvidence, abstain: AbstainModel): Evidence {
  const scored = ranked.filter((c) => c.rescored);
  const best = (k: Signal) => Math.max(0, ...scored.map((c) => c.signals![k]));
  const e: Record<EvidenceName, number> = {
    top: scored[0]?.score ?? 0,
    // The best of the first three: the answer's excerpt is among them.
    weakest: Math.max(0, ...scored.slice(0, 3).map((c) => c.signals!.weakest)),
    // Likewise the best-focused of the first three, and the smallest miss of a rare question word.
    focus: Math.max(0, ...scored.slice(0, 3).map((c) => c.signals!.focus)),
    focusGap: scored.length ? Math.min(...scored.slice(0, 3).map((c) => c.signals!.focusGap)) : 1,
    typeMissing: q.asksType && !scored.slice(0, 3).some((c) => c.signals!.answerType > 0) ? 1 : 0,
    // "How many fans…": no number in the first three windows counts fans (or a near-synonym).
    countMissing: q.asksCount && !scored.slice(0, 3).some((c) => c.signals!.counted > 0) ? 1 : 0,
    margin: scored.length > 1 ? scored[0]!.score - scored[1]!.score : (scored[0]?.score ?? 0),
    late: best("late"),
    window: best("window"),
    dense: best("dense"),
    keyword: best("keyword"),
    coverage: q.coverage,
    namesMissing: q.namesMissing,
    unknownWords: q.unknownWords,
  };
  return { ...e, score: scored.length && !q.nothingKnown ? answerProbability(e, abstain) : 0 };
}

/** Logistic answerability from the evidence. */
export function answerProbability(e: Record<EvidenceName, number>, abstain: AbstainModel): number {
  let z = abstain.bias;
  for (const k of EVIDENCE) z += (abstain.weights[k] ?? 0) * e[k];
  return 1 / (1 + Math.exp(-z));
}

/** The shipped word model whose vocabulary and names.txt serve as the English lexicon of other models. */
const ENGLISH_LEXICON_MODEL = "glove-sif-100d";
let englishLexicon: Lexicon | null | undefined;

/** Token matrices of questions and passages, one cache per embedder (shared by retrievers over one model). */
const tokenCaches = new WeakMap<Embedder, TokenCache>();

export class Retriever {
  readonly settings: RetrieverSettings;
  /** Where the settings came from: the model's fitted calibration, or the conservative default. */
  readonly calibration: "model" | "default";
  /** Why the model's citebot.json could not be used, when it could not. */
  readonly calibrationProblem?: string;
  private readonly dim: number;
  /** Word → its stem, unit vector and weight (vector length), computed once. */
  private readonly wordCache = new Map<string, WordInfo>();
  /** Passage index → its distinct words. */
  private readonly passageWordCache = new Map<number, PassageWords>();
  private readonly tokens: TokenCache;
  private prepared: { question: string; prep: Promise<QuestionPrep> } | undefined;

  /** A retriever over `snapshot`, reading what it keeps in memory of it (articles) first. */
  static async open(snapshot: Snapshot, embedder: Embedder, settings: Partial<RetrieverSettings> = {}): Promise<Retriever> {
    return new Retriever(await LoadedSnapshot.load(snapshot), embedder, settings);
  }

  constructor(
    readonly loaded: LoadedSnapshot,
    private readonly embedder: Embedder,
    settings: Partial<RetrieverSettings> = {},
  ) {
    const { calibration, problem } = loadCalibration(embedder.modelId);
    const fitted: Partial<RetrieverSettings> = {
      ...(calibration?.retrieval ?? {}),
      ...(calibration?.abstain ? { abstain: calibration.abstain } : {}),
    };
    this.calibration = calibration?.abstain ? "model" : "default";
    this.calibrationProblem = problem;
    this.settings = { ...DEFAULT_SETTINGS, ...fitted, ...settings };
    this.dim = loaded.dimensions;
    let cache = tokenCaches.get(embedder);
    if (!cache) tokenCaches.set(embedder, (cache = new TokenCache(embedder)));
    this.tokens = cache;
  }

  /** The snapshot this retriever answers from. */
  get snapshot(): Snapshot {
    return this.loaded.snapshot;
  }

  /** Forgets every cached token matrix (latency measurements of a cold cache). */
  forgetTokens(): void {
    this.tokens.clear();
  }

  /** The question's token matrix (cached): its pooled vector is the dense query for "full". */
  private questionTokens(question: string): Promise<TokenMatrix> {
    return this.tokens.get([`q\0${question}`], [question]).then(([m]) => m!);
  }

  /** The question's tokens as late interaction weighs them: all, or its content words' only. */
  private async lateQuery(question: string): Promise<TokenMatrix> {
    const m = await this.questionTokens(question);
    return this.settings.lateQuery === "content" ? markContentTokens(this.embedder, question, m) : m;
  }

  /**
   * What rerank reads of the question alone (its words with their corpus frequencies, focus
   * frequencies, its late-interaction tokens): started by rank while both searches run off the
   * event loop; kept for the last question only.
   */
  private prepare(question: string): Promise<QuestionPrep> {
    if (this.prepared?.question !== question) {
      const prep = Promise.all([this.questionWords(question), this.focusFrequencies(question), this.lateQuery(question)]).then(([words, df, late]) => ({
        words,
        df,
        late,
      }));
      this.prepared = { question, prep };
      // A failure is not kept: the same question asked again starts over.
      prep.catch(() => {
        if (this.prepared?.prep === prep) this.prepared = undefined;
      });
    }
    return this.prepared!.prep;
  }

  /** Scores candidates for a question (first stage: dense + BM25), best first. */
  async rank(question: string, filter?: Filter): Promise<{ candidates: Candidate[]; queryVector: Float32Array; gathered: Gathered }> {
    const { mode, candidates: C, denseWeight } = this.settings;
    let q: Float32Array;
    if (this.settings.denseQuery === "content") {
      // The question's content words only: "what did … say about" matches every sentence a little.
      const denseText =
        words(question)
          .filter((w) => !isStopWord(w))
          .join(" ") || question;
      [q] = (await this.embedder.embed([denseText])) as [Float32Array];
    } else q = (await this.questionTokens(question)).pooled;
    const n = this.loaded.passageCount;
    const scores = new Map<number, Candidate>();
    const get = (index: number) => {
      let c = scores.get(index);
      if (!c) scores.set(index, (c = { index, dense: 0, keyword: 0, score: 0 }));
      return c;
    };
    // Both searches run off the event loop (our addon); whichever ends first has its best hits'
    // articles loaded here while the other still runs (rerank reads the best candidates' articles).
    let first = true;
    const prefetch = <T extends { id: PassageId }>(hits: T[]) => {
      if (first && hits.length) this.loaded.prefetch(hits.slice(0, this.settings.rerank).map((h) => h.id)).catch(() => undefined);
      first = false;
      return hits;
    };
    const searches = Promise.all([
      mode !== "keyword" && n > 0 && q.some((x) => x !== 0) ? this.snapshot.dense(q, Math.min(n, C), filter).then(prefetch) : [],
      mode !== "dense" && n > 0 ? this.snapshot.keyword(question, C, filter).then((r) => prefetch(r.hits)) : [],
    ]);
    // Meanwhile, what rerank needs of the question alone.
    this.prepare(question).catch(() => undefined);
    const [dense, keyword] = await searches;
    for (const h of dense) get(h.id);
    const best = keyword[0]?.score ?? 0;
    for (const h of keyword) get(h.id).keyword = best > 0 ? h.score / best : 0;
    // The candidates' own vectors in one read; the passages and neighbours of the few re-scored or
    // shown are read by rerank and excerpts.
    const gathered = await this.loaded.gather([...scores.keys()], 0, []);
    // The dense score from the stored vector, whichever ranking found the candidate.
    for (const c of scores.values()) c.dense = dot(q, gathered.vector(c.index));
    if (mode === "hybrid" && this.settings.fusion === "rrf") {
      // Reciprocal rank fusion: only the ranks count, not the two scores' scales.
      const K = 60;
      const byDense = [...scores.values()].sort((a, b) => b.dense - a.dense);
      const byKeyword = [...scores.values()].filter((c) => c.keyword > 0).sort((a, b) => b.keyword - a.keyword);
      for (const c of scores.values()) c.score = 0;
      byDense.forEach((c, r) => (c.score += denseWeight / (K + r + 1)));
      byKeyword.forEach((c, r) => (c.score += (1 - denseWeight) / (K + r + 1)));
      // Scale to [0, 1]: 1 is first in both rankings.
      for (const c of scores.values()) c.score *= K + 1;
    } else {
      for (const c of scores.values()) {
        const dense = Math.max(0, c.dense);
        c.score = mode === "dense" ? dense : mode === "keyword" ? c.keyword : denseWeight * dense + (1 - denseWeight) * c.keyword;
      }
    }
    const ranked = [...scores.values()].sort((a, b) => b.score - a.score || a.index - b.index);
    return { candidates: ranked, queryVector: q, gathered };
  }

  /**
   * Re-scores the first stage's best candidates by every signal (late interaction with the
   * sentence and its neighbours, their pooled cosine, word coverage, answer type, BM25, the
   * sentence's cosine) and returns the answer/abstain evidence.
   */
  async rerank(question: string, ranked: Candidate[], gathered?: Gathered): Promise<{ ranked: Candidate[]; evidence: Evidence; question: QuestionEvidence }> {
    const top = ranked.slice(0, this.settings.rerank);
    if (top.length === 0) {
      const qe = { coverage: 0, namesMissing: 1, unknownWords: 1, asksType: false };
      return { ranked, evidence: evidenceOf([], qe, this.settings.abstain), question: qe };
    }
    const g = gathered ?? (await this.loaded.gather(top.map((c) => c.index)));
    await this.loaded.addArticles(
      g,
      top.map((c) => c.index),
    );
    await this.loaded.gatherNeighbours(
      g,
      top.map((c) => c.index),
    );
    const prep = await this.prepare(question);
    const qWords = prep.words;
    const total = qWords.reduce((s, w) => s + w.weight, 0);
    const names = qWords.filter((w) => w.name);
    let coverage = 0;
    const namesSeen = new Set<QuestionWord>();
    const coverageOf = new Map<number, number>();
    for (const c of top) {
      const p = g.passage(c.index);
      const own = g.own(p.articleId);
      const own1 = await this.passageWords(c.index, p);
      // The neighbours count too: an answer often spans two sentences.
      const window = [own1];
      for (const n of [p.n - 1, p.n + 1]) if (n >= 0 && n < own.ids.length) window.push(await this.passageWords(own.ids[n]!, own.passages[n]!));
      const own1Only = [own1];
      let coveredOwn = 0;
      let coveredWindow = 0;
      for (const q of qWords) {
        coveredOwn += q.weight * this.wordMatch(q, own1Only);
        coveredWindow += q.weight * this.wordMatch(q, window);
      }
      coverageOf.set(c.index, total > 0 ? (coveredOwn + coveredWindow) / (2 * total) : 0);
      coverage = Math.max(coverage, total > 0 ? coveredWindow / total : 0);
      for (const w of names) if (this.wordMatch(w, window) === 1) namesSeen.add(w);
    }
    // A name in the question that no top passage mentions ("What did Lavrov say…").
    const namesMissing = namesSeen.size < names.length ? 1 : 0;
    const unknown = qWords.filter((w) => w.unknown).reduce((s, w) => s + w.weight, 0);
    const nothingKnown = qWords.length > 0 && qWords.every((w) => w.unknown && !w.name && !(this.lexicon()?.knows(w.word) ?? false));
    // "How many X": what is counted, less chat shorthand ("how many ppl…"): a short word the corpus never uses can't be checked.
    const counted = countedWords(question).filter((w) => w.length >= 4 || !qWords.some((q) => q.word === w && q.unknown));
    const qe: QuestionEvidence = {
      coverage,
      namesMissing,
      unknownWords: total > 0 ? unknown / total : 0,
      asksType: answerType(question) !== undefined,
      asksCount: counted.length > 0,
      nothingKnown,
    };

    // Tier 1, no model run: the signals from stored vectors and words, for every re-scored candidate.
    const qTokens = await this.questionTokens(question);
    const type = answerType(question);
    for (const c of top) {
      c.signals = {
        dense: c.dense,
        keyword: c.keyword,
        neighbours: this.neighbourhoodCosine(qTokens.pooled, c.index, g),
        coverage: coverageOf.get(c.index)!,
        answerType: type && hasAnswerOfType(g.passage(c.index).text, type, question) ? 1 : 0,
        window: 0,
        late: 0,
        weakest: 0,
        focus: 0,
        focusGap: 0,
        counted: 0,
      };
      if (this.settings.mode === "hybrid") c.score = scoreOf(c.signals, this.settings.firstWeights);
    }
    if (this.settings.mode === "hybrid") top.sort((a, b) => b.score - a.score || a.index - b.index);
    // Tier 2: the best few get late interaction and the pooled cosine of their window (the
    // sentence with its neighbours), from one model run per window not yet cached.
    const best = top.slice(0, this.settings.allSignals ? top.length : this.settings.rescore);
    const qLate = prep.late;
    const windows = best.map((c) => this.windowText(c.index, g));
    const mats = await this.tokens.get(
      windows.map((w) => `w\0${w}`),
      windows,
    );
    const df = prep.df;
    for (const [i, c] of best.entries()) {
      const m = mats[i]!;
      // Each question token's best match in the window, once for both late interaction and focus.
      const best = bestCosines(qLate, m, this.dim);
      const late = lateScores(qLate, m, this.dim, best);
      const focus = windowFocus(qLate, m, windows[i]!, this.dim, (w) => this.focusWeight(w, df), best);
      const counts = counted.length > 0 && (await this.counts(counted, windows[i]!));
      Object.assign(c.signals!, {
        window: dot(qTokens.pooled, m.pooled),
        late: late.mean,
        weakest: late.weakest,
        focus: focus.focus,
        focusGap: focus.gap,
        counted: counts ? 1 : 0,
      });
      c.rescored = true;
      if (this.settings.mode === "hybrid") c.score = scoreOf(c.signals!, this.settings.weights);
    }
    if (this.settings.mode === "hybrid") best.sort((a, b) => b.score - a.score || a.index - b.index);
    const rest = top.slice(best.length).map((c) => ({ ...c, rescored: false }));
    return { ranked: [...best, ...rest, ...ranked.slice(top.length)], evidence: evidenceOf(best, qe, this.settings.abstain), question: qe };
  }

  /** Cosine of the question with the mean of the sentence's and its neighbours' stored vectors (no model run). */
  private neighbourhoodCosine(q: Float32Array, index: number, g: Gathered): number {
    const p = g.passage(index);
    const own = g.own(p.articleId);
    const v = new Float32Array(this.dim);
    for (let n = Math.max(0, p.n - 1); n <= Math.min(own.ids.length - 1, p.n + 1); n++) {
      const u = g.vector(own.ids[n]!);
      for (let d = 0; d < this.dim; d++) v[d]! += u[d]!;
    }
    const len = norm(v);
    return len > 0 ? dot(q, v) / len : 0;
  }

  /** A passage with its neighbours: the unit late interaction and the window cosine score. */
  private windowText(index: number, g: Gathered): string {
    const p = g.passage(index);
    const own = g.own(p.articleId).passages;
    return this.spanText(p.articleId, own, Math.max(0, p.n - 1), Math.min(own.length - 1, p.n + 1));
  }

  /** How well one question word is matched by the words of passages (one, or a sentence and its neighbours): exactly (same stem), or by a near-synonym. */
  private wordMatch(q: QuestionWord, parts: PassageWords[]): number {
    if (q.name) {
      // A name's synonyms and parts: "america" in "the United States", "switzerland" in "Geneva".
      const aliases = this.lexicon()?.aliasesOf(q.word) ?? [];
      if (aliases.length && aliases.some((a) => a.every((x) => parts.some((p) => p.words.includes(x))))) return 1;
    }
    for (const p of parts) if (p.words.includes(q.word) || p.stems.includes(q.stem)) return 1;
    const soft = this.settings.softWords && q.unit !== undefined && !q.name;
    // Only a typo, a name's derived form or a near-synonym is left to find, word by word.
    if (!q.typos && !q.name && !soft) return 0;
    let best = 0;
    for (const p of parts) {
      for (const w of p.infos) {
        if (q.typos && isTypo(q.word, w.word)) return 1;
        // A name and its adjective or plural: "russia" ~ "russian", "american" ~ "americans".
        if (q.name && isDerivedName(q.word, w.word)) return 1;
        // Names must match exactly: "lavrov" is near "antonov" in vector space, but not the same person.
        if (!soft || w.unit === undefined || this.loaded.names.has(w.word)) continue;
        best = Math.max(best, softMatch(dot(q.unit!, w.unit)));
      }
    }
    return best;
  }

  /**
   * Content words of the question with their weights: the model's word weight (a word model's
   * vector length) or the word's rarity in the corpus (IDF).
   */
  private async questionWords(question: string): Promise<QuestionWord[]> {
    // Names: capitalised mid-question ("What did Sergei Lavrov say"), or acronyms anywhere ("INF treaty").
    const capitalised = new Set(
      [...question.matchAll(/(?<=\S\s+)(\p{Lu}[\p{L}'’-]*)|\b(\p{Lu}{2,})\b/gu)].map((m) => (m[1] ?? m[2])!.toLowerCase().replace(/['’]s$/, "")),
    );
    const list = [...new Set(words(question))].filter((w) => !isStopWord(w));
    const lexicon = this.lexicon();
    const vectors = this.needsWordVectors();
    const infos = vectors ? await this.wordInfos(list) : list.map(plainWord);
    const known = infos.filter((w) => w.unit !== undefined).map((w) => w.norm);
    // A word the model does not know (a rare name, a typo) weighs like the heaviest known word.
    const unknownWeight = known.length ? Math.max(...known) : 1;
    const stems = [...new Set(infos.map((w) => w.stem))];
    const counts = await this.snapshot.documentFrequency(stems);
    const df = new Map(stems.map((st, i) => [st, counts[i]!]));
    const inCorpus = (w: WordInfo) => this.loaded.usesWord(w.word) || (df.get(w.stem) ?? 0) > 0;
    // A word model knows words by their vectors; otherwise the English lexicon's word list says.
    const knows = (w: WordInfo) => (this.embedder.lexicon ? w.unit !== undefined : lexicon ? lexicon.knows(w.word) : inCorpus(w));
    // A word nobody knows may be a typo (of a corpus word).
    const mayBeTypo = (w: WordInfo) => !knows(w) && !inCorpus(w);
    const isTypoWord = (w: WordInfo) => (lexicon ? lexicon.isTypo(w.word) : false) || this.isCorpusTypo(w.word);
    // Lower-case names count too: a word the model knows only as a name ("iran"), or one it does
    // not know at all and that is no typo of a word it knows ("ryabkov", but not "timline"); a short
    // unknown word is more often chat shorthand ("abt", "mtg", "smth") than a name.
    const isName = (w: WordInfo) =>
      capitalised.has(w.word) ||
      (lexicon !== undefined && !/\d/.test(w.word) && (lexicon.isName(w.word) || (w.word.length >= 5 && !knows(w) && !lexicon.isTypo(w.word))));
    const weightOf = (w: WordInfo) => (this.settings.wordWeights === "model" && vectors ? (w.unit ? w.norm : unknownWeight) : this.idf(df.get(w.stem) ?? 0));
    return infos.map((w) => ({
      ...w,
      weight: weightOf(w),
      name: isName(w),
      typos: mayBeTypo(w),
      unknown: !inCorpus(w) && !isTypoWord(w),
    }));
  }

  /**
   * The word model's lexicon, or for a model without one (a subword model) the English word list
   * and WordNet names shipped with the word model: they are facts about English, not about vectors.
   */
  private lexicon(): Lexicon | undefined {
    if (this.embedder.lexicon) return this.embedder.lexicon;
    if (!this.settings.englishLexicon) return undefined;
    if (englishLexicon === undefined) englishLexicon = Lexicon.load(path.join(LOCAL_MODELS_DIR, ENGLISH_LEXICON_MODEL)) ?? null;
    return englishLexicon ?? undefined;
  }

  private needsWordVectors(): boolean {
    return this.settings.softWords || this.settings.wordWeights === "model" || this.embedder.lexicon !== undefined;
  }

  /** Whether a number in the text counts one of `counted` (the same word, or a near-synonym by the model's word vectors). */
  private async counts(counted: string[], text: string): Promise<boolean> {
    const found = [...new Set(countedInText(text))];
    if (!found.length) return false;
    const stems = new Set(found.map(stemOf));
    if (counted.some((w) => stems.has(stemOf(w)))) return true;
    // One model run for both lists' words not cached yet.
    const infos = await this.wordInfos([...new Set([...counted, ...found])]);
    const byWord = new Map(infos.map((w) => [w.word, w]));
    const asked = counted.map((w) => byWord.get(w)!);
    const seen = found.map((w) => byWord.get(w)!);
    return asked.some((a) => a.unit !== undefined && seen.some((b) => b.unit !== undefined && dot(a.unit!, b.unit) >= this.settings.countSimilarity));
  }

  /** How much a question word counts for its focus: its rarity in English, or in the corpus. */
  private focusWeight(word: string, df: Map<string, number>): number {
    const lexicon = this.lexicon();
    if (this.settings.focusWeights === "english" && lexicon) return rarityWeight(lexicon.frequencyRank(word), lexicon.size, this.settings.focusRarity);
    return this.idf(df.get(stemOf(word)) ?? 0);
  }

  /** Sentences holding each question word's stem, when focus is weighted by the corpus (one store call). */
  private async focusFrequencies(question: string): Promise<Map<string, number>> {
    if (this.settings.focusWeights === "english" && this.lexicon()) return new Map();
    const stems = [...new Set(words(question).map(stemOf))];
    const counts = await this.snapshot.documentFrequency(stems);
    return new Map(stems.map((st, i) => [st, counts[i]!]));
  }

  /** Inverse document frequency of a stem in `f` of the corpus's sentences (BM25's). */
  private idf(f: number): number {
    const n = this.loaded.passageCount;
    return Math.log(1 + (n - f + 0.5) / (f + 0.5));
  }

  /** Whether a word the corpus never uses is one edit (two for long words) from one it does. */
  private isCorpusTypo(word: string): boolean {
    if (word.length < 5) return false;
    const candidates = this.loaded.wordsStartingWith(word[0]!);
    return candidates.some((c) => c !== word && isTypo(word, c));
  }

  /** Words → their stem, unit vector (the sum of the word's token vectors, normalised) and length; cached. */
  private async wordInfos(list: string[]): Promise<WordInfo[]> {
    const missing = list.filter((w) => !this.wordCache.has(w));
    if (missing.length) {
      const tokens = await this.embedder.embedTokens(missing);
      if (this.wordCache.size + missing.length > 200_000) this.wordCache.clear();
      missing.forEach((word, i) => {
        const v = new Float32Array(this.dim);
        for (const t of tokens[i]!) for (let d = 0; d < this.dim; d++) v[d]! += t[d]!;
        const n = norm(v);
        this.wordCache.set(word, { word, stem: stemOf(word), unit: n > 0 ? v.map((x) => x / n) : undefined, norm: n });
      });
    }
    return list.map((w) => this.wordCache.get(w)!);
  }

  /** A passage's distinct words, with their stems, as sets too (cached per passage). */
  private async passageWords(index: PassageId, passage: Passage): Promise<PassageWords> {
    let cached = this.passageWordCache.get(index);
    if (!cached) {
      const list = [...new Set(words(passage.text))];
      const infos = this.needsWordVectors() ? await this.wordInfos(list) : list.map(plainWord);
      cached = { infos, words: list, stems: [...new Set(infos.map((w) => w.stem))] };
      if (this.passageWordCache.size > 50_000) this.passageWordCache.clear();
      this.passageWordCache.set(index, cached);
    }
    return cached;
  }

  /** The cited answer to a question. */
  async answer(question: string, opts: AnswerOptions = {}): Promise<Answer & { evidence: Evidence }> {
    const limit = opts.limit ?? 3;
    const offset = opts.offset ?? 0;
    const { candidates: firstPass, gathered } = await this.rank(question);
    const { ranked: candidates, evidence } = await this.rerank(question, firstPass, gathered);
    const answered = candidates.length > 0 && evidence.score >= this.settings.abstain.threshold;
    // A fixed pool, so that paging ("More") walks one stable list.
    const spans = await this.excerptSpans(candidates, Math.max(PAGE_POOL, offset + limit + 1), gathered);
    // Only the page asked for is made into hits.
    const hits = spans.slice(offset, offset + limit).map((e, i) => this.hitOf(e, gathered, offset + i + 1));
    return { question, answered, hits, more: spans.length > offset + limit, evidence };
  }

  /** The best passage of one article for a query, with its context. */
  async searchArticle(articleId: string, query: string): Promise<Hit | undefined> {
    if (!this.loaded.articleById.has(articleId)) return undefined;
    const { candidates, gathered } = await this.rank(query, { articleId });
    await this.loaded.addArticles(
      gathered,
      candidates.map((c) => c.index),
    );
    const [hit] = await this.excerpts(
      candidates.filter((c) => gathered.passage(c.index).articleId === articleId),
      1,
      gathered,
    );
    return hit;
  }

  /** Passage n of an article, with its neighbours as context. */
  async excerpt(articleId: string, n: number): Promise<Hit | undefined> {
    if (!this.loaded.articleById.has(articleId)) return undefined;
    const own = (await this.loaded.articlePassages(articleId)).passages;
    const p = own[n];
    if (!p) return undefined;
    return this.buildHit(p.articleId, own, p.n, p.n, 1, 1);
  }

  /** An article's passages in sentence order ([] for an unknown article). */
  async passagesOf(articleId: string): Promise<Passage[]> {
    if (!this.loaded.articleById.has(articleId)) return [];
    return (await this.loaded.articlePassages(articleId)).passages;
  }

  /** Turns ranked candidates into up to `count` excerpts: windows, merged neighbours, no repeats. */
  async excerpts(ranked: Candidate[], count: number, gathered?: Gathered): Promise<Hit[]> {
    const g = gathered ?? (await this.loaded.gather(ranked.map((c) => c.index)));
    return (await this.excerptSpans(ranked, count, g)).map((e, i) => this.hitOf(e, g, i + 1));
  }

  /** The sentence spans of up to `count` excerpts, best first (what `excerpts` makes into hits). */
  private async excerptSpans(ranked: Candidate[], count: number, g: Gathered): Promise<ExcerptSpan[]> {
    const chosen: ExcerptSpan[] = [];
    for (const [i, c] of ranked.entries()) {
      if (chosen.length >= count + 2) break;
      // The articles of candidates past those re-scored are read as the walk reaches them.
      if (!g.has(c.index))
        await this.loaded.addArticles(
          g,
          ranked.slice(i, i + EXCERPT_BATCH).map((x) => x.index),
        );
      const p = g.passage(c.index);
      const own = g.own(p.articleId).passages;
      // A hit within two sentences of chosen excerpts joins them (their contexts would overlap):
      // one excerpt of at most MAX_SPAN sentences that still fits the context limit, or, when it
      // cannot grow that far, nothing new (its neighbourhood is already shown).
      const touching = chosen.filter((e) => e.articleId === p.articleId && p.n >= e.first - 2 && p.n <= e.last + 2);
      if (touching.length) {
        const first = Math.min(p.n, ...touching.map((e) => e.first));
        const last = Math.max(p.n, ...touching.map((e) => e.last));
        if (last - first < MAX_SPAN && this.spanText(p.articleId, own, first, last).length <= this.settings.maxContext) {
          const [keep, ...rest] = touching;
          keep!.first = first;
          keep!.last = last;
          keep!.score = Math.max(keep!.score, ...rest.map((e) => e.score));
          keep!.vectors.push(c.index, ...rest.flatMap((e) => e.vectors));
          for (const e of rest) chosen.splice(chosen.indexOf(e), 1);
        }
        continue;
      }
      // Drop a passage that says what a chosen one already says (MMR-style redundancy check).
      const v = g.vector(c.index);
      if (chosen.some((e) => e.vectors.some((j) => dot(g.vector(j), v) >= this.settings.duplicateCosine))) continue;
      chosen.push({ articleId: p.articleId, first: p.n, last: p.n, score: c.score, vectors: [c.index] });
    }
    // Spread excerpts across articles: each further excerpt from the same article counts a little
    // less, so a question answered in several articles shows each of them near the top.
    const ordered: typeof chosen = [];
    const perArticle = new Map<string, number>();
    while (chosen.length) {
      let best = 0;
      let bestScore = -Infinity;
      chosen.forEach((e, i) => {
        const adjusted = e.score * ARTICLE_REPEAT_DISCOUNT ** (perArticle.get(e.articleId) ?? 0);
        if (adjusted > bestScore) (best = i), (bestScore = adjusted);
      });
      const [e] = chosen.splice(best, 1);
      perArticle.set(e!.articleId, (perArticle.get(e!.articleId) ?? 0) + 1);
      ordered.push(e!);
    }
    return ordered.slice(0, count);
  }

  private hitOf(e: ExcerptSpan, g: Gathered, rank: number): Hit {
    return this.buildHit(e.articleId, g.own(e.articleId).passages, e.first, e.last, rank, Math.min(1, e.score));
  }

  /** The article's text from sentence `first` to `last` (of its passages `own`), whitespace collapsed. */
  private spanText(articleId: string, own: Passage[], first: number, last: number): string {
    const article = this.loaded.articleById.get(articleId)!;
    return collapse(article.text.slice(own[first]!.start, own[last]!.end));
  }

  private buildHit(articleId: string, own: Passage[], first: number, last: number, rank: number, score: number): Hit {
    const article = this.loaded.articleById.get(articleId)!;
    const matched = own.slice(first, last + 1);
    const text = collapse(article.text.slice(matched[0]!.start, matched[matched.length - 1]!.end));
    // One neighbour on each side, while it fits: excerpts of one article three or more sentences
    // apart then never repeat a sentence of each other's context.
    const fits = (a: number, b: number) => this.spanText(articleId, own, a, b).length <= this.settings.maxContext;
    const lo = first > 0 && fits(first - 1, last) ? first - 1 : first;
    const hi = last < own.length - 1 && fits(lo, last + 1) ? last + 1 : last;
    let context = collapse(article.text.slice(own[lo]!.start, own[hi]!.end));
    let start = context.indexOf(text);
    if (context.length > this.settings.maxContext) {
      // A single sentence longer than the limit: shown trimmed at a word boundary.
      context = trimAtWord(text, this.settings.maxContext);
      start = 0;
    }
    const highlights = [{ start, end: Math.min(context.length, start + text.length) }];
    return {
      rank,
      text,
      context,
      highlights,
      score: Math.round(score * 1000) / 1000,
      article: {
        id: article.id,
        title: article.title,
        file: article.file,
        ...(article.url ? { url: article.url } : {}),
        ...(article.date ? { date: article.date } : {}),
        ...(article.source ? { source: article.source } : {}),
      },
      passageIds: matched.map((p) => p.id),
      position: { first, last, total: own.length },
    };
  }
}

/** Word similarity → how much it counts as "the same word": exact or near-synonym only. */
function softMatch(cos: number): number {
  if (cos >= 0.95) return 1;
  if (cos <= 0.45) return 0;
  return (cos - 0.45) / 0.5;
}

/** Words without vectors, shared (every re-scored passage's words are looked up: one object per word, not per use). */
let plainWords = new Map<string, WordInfo>();

/** A word without vectors: matched by its spelling and stem only. */
function plainWord(word: string): WordInfo {
  if (word.length > MAX_STEMMED_WORD) return { word, stem: stemOf(word), unit: undefined, norm: 1 };
  let w = plainWords.get(word);
  if (!w) {
    if (plainWords.size >= 200_000) plainWords = new Map();
    w = Object.freeze({ word, stem: stemOf(word), unit: undefined, norm: 1 });
    plainWords.set(word, w);
  }
  return w;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

export const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

function trimAtWord(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, "")}…`;
}

/** Content words of a question (for display and diagnostics). */
export const questionWords = (q: string) => words(q);
