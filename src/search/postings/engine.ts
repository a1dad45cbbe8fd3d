// The keyword engine: exact BM25(+) over one or more segments with deletion marks, top-k by MaxScore,
// typo tolerance through the term dictionaries. Same query contract as the minisearch engine it
// replaced (kept as the benches' baseline: scripts/bench/minisearch.ts).
//
// Scoring. For each query term t (weight w: how often t occurs in the question, times a fuzzy
// weight for expansions) and doc d of length |d|:
//   s(d) = Σ_t w · idf(t) · (δ + tf·(k1 + 1) / (tf + k1·(1 − b + b·|d|/avgdl))),
//   idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5)),  k1 = 1.2, b = 0.75,
//   score(d) = s(d) · (number of question terms d matched)   [coordination]
// with N, df and avgdl over the live docs of all segments, so a set of segments with deletions
// scores exactly like the one segment a merge (or a rebuild) of them would make.
// Defaults: δ = 0.5 (BM25+) and coordination on, the two parts of minisearch's scoring that
// matter for one-sentence passages: with 98k unrelated sentences mixed in, plain BM25 (δ 0, no
// coordination) found the answer first for 0.442 of the questions against minisearch's 0.509,
// BM25+ with coordination 0.521 (scripts/bench/keyword-quality.ts --distractors 100k). Plain BM25
// is `{ bm25: { delta: 0 }, coordination: false }`. What still differs from minisearch: b 0.75
// (minisearch 0.7), typo expansion only for terms found nowhere (minisearch: always), at most 2
// edits (minisearch: 3 from 13 chars) and 16 expansions per term.
import hnswbuild from "@citebot/hnswbuild";
import type { KeywordHit } from "../keyword.js";
import { analyze } from "./analyze.js";
import { Deletions } from "./deletions.js";
import { compareCodePoints } from "./dictionary.js";
import { Segment, SegmentError } from "./segment.js";

/** BM25 parameters; `delta` > 0 is BM25+ (every matched term adds delta·idf, as minisearch does). */
export interface Bm25Params {
  k1: number;
  b: number;
  delta: number;
}
export const BM25: Bm25Params = { k1: 1.2, b: 0.75, delta: 0.5 };

export const FUZZY = {
  /** Query terms shorter than this (code points) are never expanded. */
  minLength: 5,
  /** From this length on, expansions may be 2 edits away (else 1). */
  twoEditsFrom: 8,
  /** At most this many expansions per query term: nearest first, then most frequent. */
  maxExpansions: 16,
  /** An expansion at distance δ of length L weighs weight·L/(L + δ) (minisearch's formula). */
  weight: 0.45,
} as const;

/** When a query term is expanded to dictionary terms within a small edit distance. */
export type FuzzyMode = "missing" | "always" | "off";

export interface EngineOptions {
  /** Scoring parameters (fixed per index: doc length norms are cached). Default k1 1.2, b 0.75, δ 0.5. */
  bm25?: Partial<Bm25Params>;
  /** "missing" (default): only terms found in no live doc; "always": every term ≥ 5 chars, as minisearch does. */
  fuzzy?: FuzzyMode;
  /** Multiply a doc's score by the number of query terms it matched, as minisearch does (default on). */
  coordination?: boolean;
}

export interface QueryOptions extends EngineOptions {
  /** Score every matching doc (no pruning): the reference the pruned path must equal. */
  exhaustive?: boolean;
  /** Only docs whose label this holds (a Set, or any label set): filtered before scoring, so pruning still works. */
  allow?: { has(label: number): boolean };
}

export const idf = (N: number, df: number) => Math.log(1 + (N - df + 0.5) / (df + 0.5));

/** Slack on the pruning test, so float rounding in a different summation order never drops a doc. */
const PRUNE_SLACK = 1 + 1e-9;

interface TermSpec {
  term: string;
  /** Index of the question term it stands for (for `matched`). */
  group: number;
  weight: number;
  idf: number;
  /** Term id in each segment, or -1. */
  ids: Int32Array;
}

export class PostingsIndex {
  private readonly segments: Segment[];
  private readonly deletions: Array<Deletions | undefined>;
  private liveDocs = 0;
  private liveLength = 0;
  /** Per segment: k1·(1 − b + b·|d|/avgdl) of each doc; recomputed when avgdl changes. */
  private norms: Float64Array[] | undefined;
  /** Per segment: live df of each term (-1: not counted yet); only for segments with deletions. */
  private liveDfCache: Array<Int32Array | undefined> = [];
  /** Per segment: max over live postings of tf·(k1+1)/(tf + norm) (NaN: not computed yet). */
  private impactCache: Array<Float64Array | undefined> = [];
  private readonly bm25: Bm25Params;
  private readonly k1p1: number;
  /** Native searches in flight: they read the deletion marks, which must not change meanwhile. */
  private searching = 0;

  constructor(
    segments: Segment[],
    deletions: Array<Deletions | undefined> = [],
    readonly options: EngineOptions = {},
  ) {
    this.segments = [...segments];
    this.bm25 = { ...BM25, ...options.bm25 };
    this.k1p1 = this.bm25.k1 + 1;
    this.deletions = segments.map((s, i) => {
      const d = deletions[i];
      if (d && d.docCount !== s.docCount) throw new SegmentError(`deletion marks for ${d.docCount} docs given for a segment of ${s.docCount}`);
      return d?.clone();
    });
    this.segments.forEach((s, si) => {
      const del = this.deletions[si];
      this.liveDocs += s.docCount - (del?.count ?? 0);
      this.liveLength += s.totalLength;
      if (!del && si === 0) return;
      for (let d = 0; d < s.docCount; d++) {
        if (del?.has(d)) {
          this.liveLength -= s.lengths[d]!;
          continue;
        }
        // Labels ascend within a segment; across segments a label may be live only once.
        for (let sj = 0; sj < si; sj++) {
          const other = this.segments[sj]!.docOf(s.labels[d]!);
          if (other >= 0 && !this.deletions[sj]?.has(other)) throw new SegmentError(`doc label ${s.labels[d]} is live in two segments`);
        }
      }
    });
  }

  /** One segment of `texts`; passage i gets label i. */
  static build(texts: string[], options: EngineOptions = {}): PostingsIndex {
    return new PostingsIndex([Segment.build(texts)], [], options);
  }

  /** Opens stored segments (and their deletion marks) from buffers; throws SegmentError on damage. */
  static open(segments: Uint8Array[], deletions: Array<Uint8Array | undefined> = [], options: EngineOptions & { checksum?: boolean } = {}): PostingsIndex {
    const segs = segments.map((b) => Segment.open(b, { checksum: options.checksum }));
    const dels = segs.map((s, i) => (deletions[i] ? Deletions.fromBuffer(deletions[i]!, s.docCount) : undefined));
    return new PostingsIndex(segs, dels, options);
  }

  get docCount(): number {
    return this.liveDocs;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** The stored form: one buffer per segment, and deletion marks where a segment has any. */
  toBuffers(): { segments: Buffer[]; deletions: Array<Buffer | undefined> } {
    return { segments: this.segments.map((s) => s.toBuffer()), deletions: this.deletions.map((d) => (d && d.count > 0 ? d.toBuffer() : undefined)) };
  }

  /**
   * A copy to change (add, delete, merge) without touching this one: segments are immutable and
   * shared, deletion marks copied. No re-check: this index was checked when it was opened.
   */
  fork(): PostingsIndex {
    const copy = new PostingsIndex([], [], this.options);
    copy.segments.push(...this.segments);
    copy.deletions.push(...this.deletions.map((d) => d?.clone()));
    copy.liveDocs = this.liveDocs;
    copy.liveLength = this.liveLength;
    return copy;
  }

  /** Adds docs as a new segment (their labels must ascend and not be live already). */
  add(texts: string[], labels: ArrayLike<number>): void {
    if (this.searching > 0) throw new Error("a keyword index with a search in flight cannot change (fork it)");
    for (let i = 0; i < texts.length; i++) if (this.locate(labels[i]!)) throw new SegmentError(`doc label ${labels[i]} is already in the index`);
    const seg = Segment.build(texts, labels);
    this.segments.push(seg);
    this.deletions.push(undefined);
    this.liveDocs += seg.docCount;
    this.liveLength += seg.totalLength;
    this.statsChanged();
  }

  /** Marks the doc with `label` deleted; false when there is no such live doc. */
  delete(label: number): boolean {
    if (this.searching > 0) throw new Error("a keyword index with a search in flight cannot change (fork it)");
    const at = this.locate(label);
    if (!at) return false;
    const [si, d] = at;
    let del = this.deletions[si];
    if (!del) del = this.deletions[si] = Deletions.empty(this.segments[si]!.docCount);
    del.add(d);
    this.liveDocs--;
    this.liveLength -= this.segments[si]!.lengths[d]!;
    this.liveDfCache[si] = undefined;
    this.statsChanged();
    return true;
  }

  /**
   * Whether a merge is due: more than `maxSegments` segments, or more than `maxDeleted` of the
   * stored docs deleted (they still cost postings to skip). A background merge then swaps in
   * `merged()`; answers are the same before and after.
   */
  mergeDue(maxSegments = 8, maxDeleted = 0.2): boolean {
    const stored = this.segments.reduce((a, s) => a + s.docCount, 0);
    return this.segments.length > maxSegments || (stored > 0 && (stored - this.liveDocs) / stored > maxDeleted);
  }

  /** All live docs in one segment, without deletion marks (scores unchanged). */
  merged(): PostingsIndex {
    return new PostingsIndex([Segment.merge(this.segments, this.deletions)], [], this.options);
  }

  private locate(label: number): [segment: number, doc: number] | undefined {
    for (let si = this.segments.length - 1; si >= 0; si--) {
      const d = this.segments[si]!.docOf(label);
      if (d >= 0 && !this.deletions[si]?.has(d)) return [si, d];
    }
    return undefined;
  }

  private statsChanged(): void {
    this.norms = undefined;
    this.impactCache = [];
  }

  private normsOf(si: number): Float64Array {
    if (!this.norms) {
      const avg = this.liveDocs > 0 ? this.liveLength / this.liveDocs : 1;
      this.norms = this.segments.map((s) => {
        const out = new Float64Array(s.docCount);
        const { k1, b } = this.bm25;
        for (let d = 0; d < s.docCount; d++) out[d] = k1 * (1 - b + (b * s.lengths[d]!) / avg);
        return out;
      });
    }
    return this.norms[si]!;
  }

  /** Counts live postings of term `t` in segment `si`, and records its max impact on the way. */
  private scanTerm(si: number, t: number): void {
    const s = this.segments[si]!;
    const del = this.deletions[si];
    const norm = this.normsOf(si);
    let live = 0;
    let max = 0;
    for (let p = s.postStart[t]!; p < s.postStart[t + 1]!; p++) {
      const d = s.postDocs[p]!;
      if (del?.has(d)) continue;
      live++;
      const tf = s.postTf[p]!;
      const v = (tf * this.k1p1) / (tf + norm[d]!);
      if (v > max) max = v;
    }
    if (del && del.count > 0) {
      let cache = this.liveDfCache[si];
      if (!cache) cache = this.liveDfCache[si] = new Int32Array(s.termCount).fill(-1);
      cache[t] = live;
    }
    let impacts = this.impactCache[si];
    if (!impacts) impacts = this.impactCache[si] = new Float64Array(s.termCount).fill(Number.NaN);
    impacts[t] = max;
  }

  private liveDf(si: number, t: number): number {
    const s = this.segments[si]!;
    const del = this.deletions[si];
    if (!del || del.count === 0) return s.postStart[t + 1]! - s.postStart[t]!;
    const cached = this.liveDfCache[si]?.[t];
    if (cached !== undefined && cached >= 0) return cached;
    this.scanTerm(si, t);
    return this.liveDfCache[si]![t]!;
  }

  private maxImpact(si: number, t: number): number {
    const v = this.impactCache[si]?.[t];
    if (v !== undefined && !Number.isNaN(v)) return v;
    this.scanTerm(si, t);
    return this.impactCache[si]![t]!;
  }

  /** Term ids of `term` in every segment, and its live df over all of them. */
  private lookup(term: string): { ids: Int32Array; df: number } {
    const ids = new Int32Array(this.segments.length);
    let df = 0;
    this.segments.forEach((s, si) => {
      const id = s.dictionary.find(term);
      ids[si] = id;
      if (id >= 0) df += this.liveDf(si, id);
    });
    return { ids, df };
  }

  /** How many live docs hold `term` (an analysed term: a stem). */
  documentFrequency(term: string): number {
    return this.lookup(term).df;
  }

  /** The weighted terms a question stands for: its own terms, plus typo expansions. */
  private expand(question: string, fuzzy: FuzzyMode): { specs: TermSpec[]; queryTerms: number } {
    const counts = new Map<string, number>();
    for (const t of analyze(question)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const specs: TermSpec[] = [];
    const N = this.liveDocs;
    let group = 0;
    for (const [term, qtf] of counts) {
      const exact = this.lookup(term);
      if (exact.df > 0) specs.push({ term, group, weight: qtf, idf: idf(N, exact.df), ids: exact.ids });
      const length = [...term].length;
      if (fuzzy !== "off" && length >= FUZZY.minLength && (fuzzy === "always" || exact.df === 0)) {
        const maxDistance = length >= FUZZY.twoEditsFrom ? 2 : 1;
        const found = new Map<string, number>();
        for (const s of this.segments) {
          for (const m of s.dictionary.fuzzy(term, maxDistance)) if (m.distance > 0) found.set(s.dictionary.term(m.id), m.distance);
        }
        const candidates = [...found].map(([t, distance]) => ({ t, distance, ...this.lookup(t) })).filter((c) => c.df > 0);
        candidates.sort((a, b) => a.distance - b.distance || b.df - a.df || compareCodePoints(a.t, b.t));
        for (const c of candidates.slice(0, FUZZY.maxExpansions)) {
          const L = [...c.t].length;
          specs.push({ term: c.t, group, weight: (qtf * FUZZY.weight * L) / (L + c.distance), idf: idf(N, c.df), ids: c.ids });
        }
      }
      // Dense group numbers (a term with no spec takes none): the per-doc group marks are sized by the count.
      if (specs.length > 0 && specs[specs.length - 1]!.group === group) group++;
    }
    return { specs, queryTerms: counts.size };
  }

  /** The best `limit` docs for `question` (OR of its terms), best first; ties go to the lower label. */
  query(question: string, limit: number, opts: QueryOptions = {}): { hits: KeywordHit[]; queryTerms: number } {
    const { specs, queryTerms, k, coordination, groupCount } = this.plan(question, limit, opts);
    if (specs.length === 0) return { hits: [], queryTerms };
    const top = new TopK(k);
    for (let si = 0; si < this.segments.length; si++) this.searchSegment(si, specs, groupCount, coordination, opts.exhaustive === true, opts.allow, top);
    return { hits: top.sorted(), queryTerms };
  }

  /** What both search paths need of a question: its weighted terms (none when nothing can match), k and the scoring options. */
  private plan(question: string, limit: number, opts: QueryOptions) {
    const { specs, queryTerms } = this.expand(question, opts.fuzzy ?? this.options.fuzzy ?? "missing");
    const k = Math.max(0, Math.floor(limit));
    return {
      specs: k === 0 || this.liveDocs === 0 ? [] : specs,
      queryTerms,
      k,
      coordination: opts.coordination ?? this.options.coordination ?? true,
      groupCount: new Set(specs.map((s) => s.group)).size,
    };
  }

  /** Segment `si`'s cursor on each term of `specs` it holds, in canonical (spec) order: the order scores are summed in. */
  private cursorsOf(si: number, specs: TermSpec[]): Array<{ pos: number; end: number; scale: number; ub: number; group: number }> {
    const s = this.segments[si]!;
    const cursors = [];
    for (const spec of specs) {
      const t = spec.ids[si]!;
      if (t < 0) continue;
      const scale = spec.weight * spec.idf;
      cursors.push({ pos: s.postStart[t]!, end: s.postStart[t + 1]!, scale, ub: scale * (this.bm25.delta + this.maxImpact(si, t)), group: spec.group });
    }
    return cursors;
  }

  /**
   * `query`, with the postings walked on a libuv thread by our addon (native/hnswbuild/src/postings.cc:
   * this file's searchSegment, the same arithmetic in the same order, so the same hits and scores).
   * The question's analysis and typo expansion stay here. A filtered query (`allow`, a JavaScript
   * set) or an exhaustive one runs `query` itself.
   */
  async queryAsync(question: string, limit: number, opts: QueryOptions = {}): Promise<{ hits: KeywordHit[]; queryTerms: number }> {
    if (opts.allow || opts.exhaustive) return this.query(question, limit, opts);
    const { specs, queryTerms, k, coordination, groupCount } = this.plan(question, limit, opts);
    if (specs.length === 0) return { hits: [], queryTerms };
    const segments = this.segments.map((s, si) => {
      const cursors = this.cursorsOf(si, specs).flatMap((c) => [c.pos, c.end, c.scale, c.ub, c.group]);
      const del = this.deletions[si];
      return {
        docs: s.postDocs,
        tfs: s.postTf,
        labels: s.labels,
        norms: this.normsOf(si),
        ...(del && del.count > 0 ? { deleted: del.bitset } : {}),
        cursors: Float64Array.from(cursors),
      };
    });
    this.searching++;
    try {
      const r = await hnswbuild.searchPostings(segments, { groupCount, coordination, delta: this.bm25.delta, k1p1: this.k1p1, k });
      const hits: KeywordHit[] = [];
      for (let i = 0; i < r.labels.length; i++) hits.push({ index: r.labels[i]!, score: r.scores[i]!, matched: r.matched[i]! });
      return { hits, queryTerms };
    } finally {
      this.searching--;
    }
  }

  /** MaxScore over one segment (θ, the k-th best score so far, carries over from earlier segments). */
  private searchSegment(
    si: number,
    specs: TermSpec[],
    groupCount: number,
    coordination: boolean,
    exhaustive: boolean,
    allow: QueryOptions["allow"],
    top: TopK,
  ): void {
    const s = this.segments[si]!;
    const del = this.deletions[si];
    const norm = this.normsOf(si);
    const { postDocs: docs, postTf: tfs, labels } = s;
    const { delta } = this.bm25;
    const K1P1 = this.k1p1;
    // Cursors, in canonical (spec) order: the order scores are summed in, whatever the pruning.
    const cs = this.cursorsOf(si, specs);
    const m = cs.length;
    if (m === 0) return;
    // Ascending upper bounds; the first `e` cursors are non-essential: a doc found only in them
    // cannot beat θ, so they are only probed for docs an essential cursor brought up.
    const order = cs.map((_, i) => i).sort((a, b) => cs[a]!.ub - cs[b]!.ub || a - b);
    const prefixUb = new Float64Array(m + 1);
    const prefixGroups = new Int32Array(m + 1);
    const seenGroups = new Set<number>();
    for (let i = 0; i < m; i++) {
      const c = cs[order[i]!]!;
      prefixUb[i + 1] = prefixUb[i]! + c.ub;
      seenGroups.add(c.group);
      prefixGroups[i + 1] = seenGroups.size;
    }
    const bound = (sum: number, groups: number) => (coordination ? sum * Math.min(groups, groupCount) : sum) * PRUNE_SLACK;
    let theta = exhaustive ? Number.NEGATIVE_INFINITY : top.threshold();
    let e = 0;
    const raise = () => {
      while (e < m && bound(prefixUb[e + 1]!, prefixGroups[e + 1]!) < theta) e++;
    };
    raise();
    const contrib = new Float64Array(m);
    const groupMark = new Int32Array(groupCount).fill(-1);
    while (e < m) {
      let d = 0xffffffff;
      for (let i = e; i < m; i++) {
        const c = cs[order[i]!]!;
        if (c.pos < c.end && docs[c.pos]! < d) d = docs[c.pos]!;
      }
      if (d === 0xffffffff) break;
      let sum = 0;
      let matched = 0;
      contrib.fill(0);
      for (let i = e; i < m; i++) {
        const ci = order[i]!;
        const c = cs[ci]!;
        if (c.pos < c.end && docs[c.pos] === d) {
          const tf = tfs[c.pos]!;
          const v = c.scale * (delta + (tf * K1P1) / (tf + norm[d]!));
          contrib[ci] = v;
          sum += v;
          if (groupMark[c.group] !== d) {
            groupMark[c.group] = d;
            matched++;
          }
          c.pos++;
        }
      }
      if (del?.has(d) || (allow && !allow.has(labels[d]!))) continue;
      let pruned = false;
      for (let i = e - 1; i >= 0; i--) {
        if (bound(sum + prefixUb[i + 1]!, matched + prefixGroups[i + 1]!) < theta) {
          pruned = true;
          break;
        }
        const ci = order[i]!;
        const c = cs[ci]!;
        c.pos = advance(docs, c.pos, c.end, d);
        if (c.pos < c.end && docs[c.pos] === d) {
          const tf = tfs[c.pos]!;
          const v = c.scale * (delta + (tf * K1P1) / (tf + norm[d]!));
          contrib[ci] = v;
          sum += v;
          if (groupMark[c.group] !== d) {
            groupMark[c.group] = d;
            matched++;
          }
        }
      }
      if (pruned) continue;
      let score = 0;
      for (let ci = 0; ci < m; ci++) score += contrib[ci]!;
      if (coordination) score *= matched;
      if (top.offer(score, labels[d]!, matched) && !exhaustive) {
        const next = top.threshold();
        if (next > theta) {
          theta = next;
          raise();
        }
      }
    }
  }
}

/** First position in docs[pos, end) holding a doc ≥ target (galloping, then binary search). */
function advance(docs: Uint32Array, pos: number, end: number, target: number): number {
  if (pos >= end || docs[pos]! >= target) return pos;
  let lo = pos;
  let step = 1;
  while (lo + step < end && docs[lo + step]! < target) {
    lo += step;
    step *= 2;
  }
  let hi = Math.min(lo + step, end);
  lo++;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (docs[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The k best (score, label) pairs: higher score first, lower label on ties. A min-heap on "worse". */
class TopK {
  private readonly scores: Float64Array;
  private readonly labels: Float64Array;
  private readonly matched: Int32Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.scores = new Float64Array(k);
    this.labels = new Float64Array(k);
    this.matched = new Int32Array(k);
  }

  /** The score a doc must reach to enter (−∞ until k docs are held). */
  threshold(): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : this.scores[0]!;
  }

  private worse(i: number, j: number): boolean {
    const a = this.scores[i]!;
    const b = this.scores[j]!;
    return a < b || (a === b && this.labels[i]! > this.labels[j]!);
  }

  /** Adds the doc if it belongs in the top k; true when it did. */
  offer(score: number, label: number, matched: number): boolean {
    if (this.size === this.k) {
      const s0 = this.scores[0]!;
      if (score < s0 || (score === s0 && label > this.labels[0]!)) return false;
      this.set(0, score, label, matched);
      this.down(0);
      return true;
    }
    const i = this.size++;
    this.set(i, score, label, matched);
    this.up(i);
    return true;
  }

  private set(i: number, score: number, label: number, matched: number): void {
    this.scores[i] = score;
    this.labels[i] = label;
    this.matched[i] = matched;
  }

  private swap(i: number, j: number): void {
    const s = this.scores[i]!;
    const l = this.labels[i]!;
    const m = this.matched[i]!;
    this.set(i, this.scores[j]!, this.labels[j]!, this.matched[j]!);
    this.set(j, s, l, m);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.worse(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < this.size && this.worse(l, w)) w = l;
      if (r < this.size && this.worse(r, w)) w = r;
      if (w === i) return;
      this.swap(i, w);
      i = w;
    }
  }

  sorted(): KeywordHit[] {
    const out: KeywordHit[] = [];
    for (let i = 0; i < this.size; i++) out.push({ index: this.labels[i]!, score: this.scores[i]!, matched: this.matched[i]! });
    return out.sort((a, b) => b.score - a.score || a.index - b.index);
  }
}
