// The postings keyword engine (src/search/postings): exact BM25, MaxScore top-k equal to
// exhaustive scoring, typo expansion through the dictionary, the binary segment format, deletions
// and merges equal to a rebuild, and absurd input.
import hnswbuild from "@citebot/hnswbuild";
import { describe, expect, it } from "vitest";
import { terms } from "../src/search/keyword.js";
import { analyze, MAX_TERM_LENGTH } from "../src/search/postings/analyze.js";
import { Deletions } from "../src/search/postings/deletions.js";
import { compareCodePoints, TermDictionary, termOrder } from "../src/search/postings/dictionary.js";
import { BM25, FUZZY, type FuzzyMode, PostingsIndex } from "../src/search/postings/engine.js";
import { Segment, SegmentError } from "../src/search/postings/segment.js";

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Plain Levenshtein distance in code points. */
function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

interface Ref {
  index: number;
  score: number;
  matched: number;
}

/**
 * Brute-force reference, written from the definitions and not from the engine: every doc scored
 * term by term; fuzzy expansions found by comparing the question term with every indexed term.
 */
function reference(
  docs: Array<{ label: number; text: string }>,
  question: string,
  k: number,
  opts: { fuzzy: FuzzyMode; coordination: boolean; bm25?: { k1: number; b: number; delta: number } },
): Ref[] {
  const { k1, b, delta } = opts.bm25 ?? BM25;
  const toks = docs.map((d) => terms(d.text).filter((t) => t.length <= MAX_TERM_LENGTH));
  const N = docs.length;
  const avg = toks.reduce((a, t) => a + t.length, 0) / N;
  const df = new Map<string, number>();
  for (const t of toks) for (const term of new Set(t)) df.set(term, (df.get(term) ?? 0) + 1);
  const counts = new Map<string, number>();
  for (const t of terms(question).filter((t) => t.length <= MAX_TERM_LENGTH)) counts.set(t, (counts.get(t) ?? 0) + 1);
  const specs: Array<{ term: string; group: number; weight: number }> = [];
  let group = 0;
  for (const [term, qtf] of counts) {
    const exact = df.get(term) ?? 0;
    if (exact > 0) specs.push({ term, group, weight: qtf });
    const L = [...term].length;
    if (opts.fuzzy !== "off" && L >= FUZZY.minLength && (opts.fuzzy === "always" || exact === 0)) {
      const max = L >= FUZZY.twoEditsFrom ? 2 : 1;
      const near = [...df.keys()]
        .map((t) => ({ t, distance: levenshtein(term, t), df: df.get(t)! }))
        .filter((c) => c.distance > 0 && c.distance <= max)
        .sort((a, b) => a.distance - b.distance || b.df - a.df || compareCodePoints(a.t, b.t))
        .slice(0, FUZZY.maxExpansions);
      for (const c of near) {
        const len = [...c.t].length;
        specs.push({ term: c.t, group, weight: (qtf * FUZZY.weight * len) / (len + c.distance) });
      }
    }
    group++;
  }
  const out: Ref[] = [];
  docs.forEach((doc, i) => {
    let score = 0;
    const groups = new Set<number>();
    for (const s of specs) {
      const tf = Math.min(toks[i]!.filter((t) => t === s.term).length, 255);
      if (tf === 0) continue;
      const d = df.get(s.term)!;
      const idf = Math.log(1 + (N - d + 0.5) / (d + 0.5));
      const norm = k1 * (1 - b + (b * toks[i]!.length) / avg);
      score += s.weight * idf * (delta + (tf * (k1 + 1)) / (tf + norm));
      groups.add(s.group);
    }
    if (groups.size > 0) out.push({ index: doc.label, score: opts.coordination ? score * groups.size : score, matched: groups.size });
  });
  return out.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, k);
}

/** Random corpora with a small made-up vocabulary: many shared terms, near-miss spellings, duplicate docs (ties). */
function randomCorpus(seed: number, n: number): { texts: string[]; questions: string[] } {
  const r = rng(seed);
  const letters = "abcdeéo";
  const vocab = Array.from({ length: 60 }, () => Array.from({ length: 3 + Math.floor(r() * 8) }, () => letters[Math.floor(r() * letters.length)]).join(""));
  const pick = () => vocab[Math.floor(vocab.length * r() ** 2)]!;
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && r() < 0.1) texts.push(texts[Math.floor(r() * i)]!);
    else texts.push(Array.from({ length: 1 + Math.floor(r() * 14) }, pick).join(" "));
  }
  const typo = (w: string) => {
    const i = Math.floor(r() * w.length);
    return r() < 0.5 ? w.slice(0, i) + w.slice(i + 1) : `${w.slice(0, i)}x${w.slice(i)}`;
  };
  const questions = Array.from({ length: 25 }, () => Array.from({ length: 1 + Math.floor(r() * 5) }, () => (r() < 0.2 ? typo(pick()) : pick())).join(" "));
  return { texts, questions };
}

const close = (hits: Ref[], want: Ref[]) => {
  expect(hits.map((h) => [h.index, h.matched])).toEqual(want.map((h) => [h.index, h.matched]));
  for (const [i, h] of hits.entries()) expect(h.score).toBeCloseTo(want[i]!.score, 9);
};

describe("postings engine: terms", () => {
  it("analyzes text exactly as terms() does (stems, stop words, apostrophes, numbers)", () => {
    const texts = [
      "The U.S. Ambassador's remarks weren't about the 2021 Geneva summit’s results, were they?",
      "Cats chase mice; dogs chase cats and CATS. I'm 5 x 10 — naïve café’s Œuvre",
      "",
    ];
    for (const t of texts) expect(analyze(t)).toEqual(terms(t));
  });

  it("drops terms longer than MAX_TERM_LENGTH and survives absurd tokens", () => {
    const absurd = "x".repeat(200_000);
    const many = Array.from({ length: 5000 }, (_, i) => `${"q".repeat(70)}${i}`).join(" ");
    const index = PostingsIndex.build([`${absurd} budget`, many, "budget plans"]);
    const seg = Segment.open(index.toBuffers().segments[0]!);
    for (let t = 0; t < seg.termCount; t++) expect(seg.dictionary.term(t).length).toBeLessThanOrEqual(MAX_TERM_LENGTH);
    expect(Array.from({ length: seg.termCount }, (_, t) => seg.dictionary.term(t))).toEqual(["budget", "plan"]); // nothing from the blobs
    const res = index.query(`${absurd} ${"y".repeat(60)}`, 10, { fuzzy: "always" });
    expect(res).toEqual({ hits: [], queryTerms: 1 });
    // The dropped blob does not count towards doc 0's length either: it is the shorter match.
    expect(index.query("budget", 10).hits.map((h) => h.index)).toEqual([0, 2]);
  });
});

describe("postings engine: BM25", () => {
  // d0 = cat chase mice (3 terms), d1 = dog chase cat cat (4), d2 = bird sing (2); N 3, avgdl 3.
  const docs = ["Cats chase mice.", "Dogs chase cats and cats.", "Birds sing."];

  it("scores a hand-computed example (k1 1.2, b 0.75, idf ln(1 + (N − df + 0.5)/(df + 0.5)))", () => {
    const index = PostingsIndex.build(docs, { bm25: { delta: 0 }, coordination: false });
    // cat: df 2, idf = ln(1 + 1.5/2.5) = ln 1.6 = 0.470004.
    // d0: tf 1, norm 1.2·(0.25 + 0.75·3/3) = 1.2 → 2.2/2.2 = 1 → 0.470004
    // d1: tf 2, norm 1.2·(0.25 + 0.75·4/3) = 1.5 → 4.4/3.5 = 1.257143 → 0.590862
    const cat = index.query("cat", 10);
    expect(cat.queryTerms).toBe(1);
    expect(cat.hits.map((h) => h.index)).toEqual([1, 0]);
    expect(cat.hits[0]!.score).toBeCloseTo(0.590862, 6);
    expect(cat.hits[1]!.score).toBeCloseTo(0.470004, 6);
    // + chase (df 2, same idf): d0 tf 1 → 0.470004, d1 tf 1 → 2.2/2.5 = 0.88 → 0.413603
    const both = index.query("cats chasing?", 10);
    expect(both.queryTerms).toBe(2);
    expect(both.hits[0]).toMatchObject({ index: 1, matched: 2 });
    expect(both.hits[0]!.score).toBeCloseTo(1.004465, 6);
    expect(both.hits[1]!.score).toBeCloseTo(0.940007, 6);
    // Coordination multiplies by the matched query terms, as minisearch does.
    const coord = index.query("cat chase bird", 10, { coordination: true });
    expect(coord.hits.map((h) => [h.index, h.matched])).toEqual([
      [1, 2],
      [0, 2],
      [2, 1],
    ]);
    expect(coord.hits[0]!.score).toBeCloseTo(2 * 1.004465, 5);
  });

  it("defaults to BM25+ (δ 0.5) with coordination: the hand-computed example again", () => {
    const index = PostingsIndex.build(docs);
    // d1: (0.470004·(0.5 + 1.257143) + 0.470004·(0.5 + 0.88))·2 matched = (0.825864 + 0.648606)·2 = 2.948939
    // d0: (0.470004·1.5 + 0.470004·1.5)·2 = 2.820022
    const both = index.query("cat chase", 10);
    expect(both.hits.map((h) => h.index)).toEqual([1, 0]);
    expect(both.hits[0]!.score).toBeCloseTo(2.948939, 5);
    expect(both.hits[1]!.score).toBeCloseTo(2.820022, 5);
    // bird: df 1, idf ln(1 + 2.5/1.5) = 0.980829; d2 length 2: norm 1.2·(0.25 + 0.5) = 0.9 → 2.2/1.9
    expect(index.query("bird", 10).hits[0]!.score).toBeCloseTo(0.980829 * (0.5 + 2.2 / 1.9), 5);
  });

  it("keeps the keyword query contract (hit fields, queryTerms, limit, no-term questions)", () => {
    const texts = ["The council approved the budget.", "The clinic opened in March.", "Budget cuts hit the clinic."];
    const index = PostingsIndex.build(texts);
    // Question → passages holding at least one of its terms (OR), and its distinct analysed terms.
    for (const [q, matching, queryTerms] of [
      ["What did the council approve?", [0], 2],
      ["clinic budget", [0, 1, 2], 2],
      ["the of and", [], 0],
      ["", [], 0],
    ] as const) {
      expect(new Set(terms(q)).size).toBe(queryTerms);
      const a = index.query(q, 2);
      expect(a.queryTerms, q).toBe(queryTerms);
      expect(a.hits.length, q).toBe(Math.min(2, matching.length));
      for (const h of a.hits) expect(Object.keys(h).sort()).toEqual(["index", "matched", "score"]);
      for (const h of a.hits) expect(matching as readonly number[]).toContain(h.index);
    }
    // The passage matching both terms ranks first, and says so.
    expect(index.query("clinic budget", 2).hits[0]).toMatchObject({ index: 2, matched: 2 });
    expect(index.query("clinic", 0).hits).toEqual([]);
  });
});

describe("postings engine: MaxScore top-k", () => {
  const variants = [{ k1: 1.2, b: 0.75, delta: 0 }, BM25, { k1: 1.2, b: 0.7, delta: 0.5 }, { k1: 0.9, b: 0.4, delta: 0 }];
  for (const seed of [1, 2, 3, 4]) {
    const bm25 = variants[seed - 1]!;
    it(`equals exhaustive scoring and a brute-force reference (random corpus ${seed}, k1 ${bm25.k1} b ${bm25.b} δ ${bm25.delta})`, () => {
      const { texts, questions } = randomCorpus(seed, 300);
      const docs = texts.map((text, label) => ({ label, text }));
      const index = PostingsIndex.build(texts, { bm25 });
      let nonEmpty = 0;
      for (const fuzzy of ["off", "missing", "always"] as const) {
        for (const coordination of [false, true]) {
          for (const q of questions) {
            const want = reference(docs, q, 50, { fuzzy, coordination, bm25 });
            for (const k of [1, 3, 10, 50]) {
              const pruned = index.query(q, k, { fuzzy, coordination });
              const full = index.query(q, k, { fuzzy, coordination, exhaustive: true });
              expect(pruned.hits).toEqual(full.hits);
              close(pruned.hits, want.slice(0, k));
              if (pruned.hits.length) nonEmpty++;
            }
          }
        }
      }
      expect(nonEmpty).toBeGreaterThan(400);
    });
  }

  it("queryAsync (the postings walked by our addon, off the event loop) gives query's very hits and scores: several segments, deletions, every mode", async () => {
    for (const seed of [5, 6]) {
      const { texts, questions } = randomCorpus(seed, 300);
      const index = PostingsIndex.build(texts.slice(0, 200), { bm25: variants[seed - 5]! });
      index.add(
        texts.slice(200),
        texts.slice(200).map((_, i) => 200 + i),
      );
      for (let label = 0; label < 300; label += 7) index.delete(label);
      expect(index.segmentCount).toBe(2);
      let nonEmpty = 0;
      for (const fuzzy of ["off", "missing", "always"] as const)
        for (const coordination of [false, true])
          for (const q of questions)
            for (const k of [1, 10, 50]) {
              const want = index.query(q, k, { fuzzy, coordination });
              const got = await index.queryAsync(q, k, { fuzzy, coordination });
              expect(got).toEqual(want);
              if (got.hits.length) nonEmpty++;
            }
      expect(nonEmpty).toBeGreaterThan(300);
    }
  });

  it("an index with a native search in flight refuses changes; the addon refuses arrays that do not fit", async () => {
    const { texts, questions } = randomCorpus(7, 100);
    const index = PostingsIndex.build(texts);
    const pending = index.queryAsync(questions[0]!, 10);
    expect(() => index.delete(3)).toThrow(/search in flight/);
    await pending;
    expect(index.delete(3)).toBe(true);
    const seg = { docs: Uint32Array.of(0, 1, 5), tfs: Uint8Array.of(1, 1, 1), labels: Uint32Array.of(10, 11), norms: Float64Array.of(1, 1) };
    const query = { groupCount: 1, coordination: true, delta: 0.5, k1p1: 2.2, k: 5 };
    // A cursor past the postings, and one over a posting that names a doc the segment does not have.
    expect(() => hnswbuild.searchPostings([{ ...seg, cursors: Float64Array.of(0, 4, 1, 1, 0) }], query)).toThrow(/outside the postings/);
    await expect(hnswbuild.searchPostings([{ ...seg, cursors: Float64Array.of(0, 3, 1, 1, 0) }], query)).rejects.toThrow(/beyond its segment/);
    expect(() => hnswbuild.searchPostings([{ ...seg, cursors: Float64Array.of(0, 2, 1, 1, 1) }], query)).toThrow(/group/);
    const ok = await hnswbuild.searchPostings([{ ...seg, cursors: Float64Array.of(0, 2, 1, 1, 0) }], query);
    expect(Array.from(ok.labels)).toEqual([10, 11]);
  });

  it("filters by an allowed label set before ranking, still equal to the reference", () => {
    const { texts, questions } = randomCorpus(9, 300);
    const index = PostingsIndex.build(texts);
    const allow = new Set(texts.map((_, i) => i).filter((i) => i % 3 === 0));
    const docs = texts.map((text, label) => ({ label, text }));
    for (const q of questions) {
      const want = reference(docs, q, 10, { fuzzy: "missing", coordination: false }).filter((h) => allow.has(h.index));
      const all = reference(docs, q, 300, { fuzzy: "missing", coordination: false })
        .filter((h) => allow.has(h.index))
        .slice(0, 10);
      const got = index.query(q, 10, { allow, coordination: false });
      close(got.hits, all);
      expect(got.hits.slice(0, want.length).map((h) => h.index)).toEqual(want.map((h) => h.index));
    }
  });
});

describe("postings engine: typos", () => {
  const texts = [
    "The timeline for the negotiations was set in Geneva.",
    "Negotiators met again on Tuesday.",
    "A time line was drawn on the board.",
    "Cybersecurity was on the agenda.",
    "Parliament and the cabinet agreed.",
  ];

  it("expands a query term missing from the dictionary to terms one edit away (two from 8 chars)", () => {
    const index = PostingsIndex.build(texts);
    expect(index.query("timline", 5).hits.map((h) => h.index)).toEqual([0]);
    // parlaiment: 10 chars, 2 edits from parliament; cabniet: 7 chars, 2 edits from cabinet (too far).
    expect(index.query("parlaiment", 5).hits.map((h) => h.index)).toEqual([4]);
    expect(index.query("cabniet", 5).hits).toEqual([]);
    expect(index.query("cabinte", 5, { fuzzy: "off" }).hits).toEqual([]);
    // Too short to expand ("tme" is 3 chars), and off means off.
    expect(index.query("tme", 5).hits).toEqual([]);
    expect(index.query("timline", 5, { fuzzy: "off" }).hits).toEqual([]);
  });

  it("weighs an expansion below an exact match; 'missing' leaves found terms alone, 'always' expands them", () => {
    // treaty → treati; treats → treat (one edit away).
    const index = PostingsIndex.build(["treaty", "treats", "other words"]);
    expect(index.query("treaty", 5, { fuzzy: "missing" }).hits.map((h) => h.index)).toEqual([0]);
    const always = index.query("treaty", 5, { fuzzy: "always" });
    expect(always.hits.map((h) => h.index)).toEqual([0, 1]);
    // Same df and length: the expansion scores 0.45·L/(L + 1) of the exact match, L = 5 ("treat").
    expect(always.hits[1]!.score / always.hits[0]!.score).toBeCloseTo((0.45 * 5) / 6, 9);
  });

  it("dictionary.fuzzy finds exactly the terms within the distance (brute force, non-ASCII included)", () => {
    const r = rng(7);
    const alphabet = ["a", "b", "c", "é", "中", "😀"];
    const words = [
      ...new Set(
        Array.from({ length: 800 }, () => Array.from({ length: 1 + Math.floor(r() * 7) }, () => alphabet[Math.floor(r() * alphabet.length)]).join("")),
      ),
    ];
    const sorted = termOrder(words).map((i) => words[i]!);
    const dict = TermDictionary.fromSorted(sorted);
    expect(dict.checkOrder()).toBeUndefined();
    for (let q = 0; q < 60; q++) {
      const query = Array.from({ length: 1 + Math.floor(r() * 7) }, () => alphabet[Math.floor(r() * alphabet.length)]).join("");
      for (const max of [1, 2]) {
        const got = dict
          .fuzzy(query, max)
          .map((m) => `${dict.term(m.id)}:${m.distance}`)
          .sort();
        const want = sorted
          .map((t) => `${t}:${levenshtein(query, t)}`)
          .filter((s) => Number(s.split(":").at(-1)) <= max)
          .sort();
        expect(got).toEqual(want);
      }
      const hit = dict.find(sorted[q]!);
      expect(dict.term(hit)).toBe(sorted[q]);
    }
    expect(dict.find("zzz")).toBe(-1);
  });
});

describe("postings engine: binary segments", () => {
  const { texts, questions } = randomCorpus(11, 200);

  it("round-trips: opened from its buffer it answers the same and writes the same bytes", () => {
    const index = PostingsIndex.build(texts);
    const buf = index.toBuffers().segments[0]!;
    const opened = PostingsIndex.open([buf]);
    for (const q of questions) expect(opened.query(q, 10)).toEqual(index.query(q, 10));
    expect(Buffer.compare(opened.toBuffers().segments[0]!, buf)).toBe(0);
    // A misaligned copy (a Buffer slice at an odd offset) opens too.
    const odd = Buffer.alloc(buf.length + 1);
    buf.copy(odd, 1);
    expect(PostingsIndex.open([odd.subarray(1)]).query(questions[0]!, 10)).toEqual(index.query(questions[0]!, 10));
    // An empty index is a valid segment.
    expect(PostingsIndex.open([PostingsIndex.build([]).toBuffers().segments[0]!]).query("anything", 5).hits).toEqual([]);
  });

  it("refuses truncated, extended, foreign and damaged buffers with a clear error", () => {
    const buf = PostingsIndex.build(texts).toBuffers().segments[0]!;
    expect(() => Segment.open(buf.subarray(0, 10))).toThrow(/truncated/);
    for (const cut of [32, 100, buf.length - 1]) expect(() => Segment.open(buf.subarray(0, cut))).toThrow(/truncated/);
    expect(() => Segment.open(Buffer.concat([buf, Buffer.alloc(4)]))).toThrow(/longer than its header says/);
    expect(() => Segment.open(Buffer.from("not a segment at all, just some text here"))).toThrow(/not a citebot keyword segment/);
    const version = Buffer.from(buf);
    version.writeUInt32LE(99, 4);
    expect(() => Segment.open(version)).toThrow(/format version 99/);
    const r = rng(5);
    for (let i = 0; i < 200; i++) {
      const bad = Buffer.from(buf);
      const at = 32 + Math.floor(r() * (buf.length - 32));
      bad[at] = bad[at]! ^ (1 + Math.floor(r() * 255));
      expect(() => Segment.open(bad)).toThrow(SegmentError);
      // Without the checksum, damage is either caught by the structural checks or harmless to read.
      try {
        const seg = Segment.open(bad, { checksum: false });
        const index = new PostingsIndex([seg]);
        for (const q of questions.slice(0, 5)) index.query(q, 10, { fuzzy: "always" });
      } catch (err) {
        expect(err).toBeInstanceOf(SegmentError);
      }
    }
    // Counts in the header that point past the end.
    const counts = Buffer.from(buf);
    counts.writeUInt32LE(0xffffffff, 16);
    expect(() => Segment.open(counts)).toThrow(/truncated/);
  });
});

describe("postings engine: segments, deletions, merges", () => {
  const { texts, questions } = randomCorpus(21, 400);
  const firstBatch = texts.slice(0, 300);
  const secondBatch = texts.slice(300);

  function liveRebuild(live: Map<number, string>): PostingsIndex {
    const labels = [...live.keys()].sort((a, b) => a - b);
    return new PostingsIndex([
      Segment.build(
        labels.map((l) => live.get(l)!),
        labels,
      ),
    ]);
  }

  it("scores several segments with deletions exactly like a rebuild of the live docs, and merges to the rebuild's bytes", () => {
    const index = PostingsIndex.build(firstBatch);
    // A second segment with labels after the first (new passages), then deletions in both.
    index.add(
      secondBatch,
      secondBatch.map((_, i) => 1000 + i),
    );
    const live = new Map<number, string>();
    for (const [i, t] of firstBatch.entries()) live.set(i, t);
    for (const [i, t] of secondBatch.entries()) live.set(1000 + i, t);
    const r = rng(3);
    for (const label of [...live.keys()]) {
      if (r() < 0.2) {
        expect(index.delete(label)).toBe(true);
        live.delete(label);
      }
    }
    expect(index.delete(0xfffffff)).toBe(false);
    // An "updated" passage: deleted, then re-added under its label in a third segment.
    const changed = [...live.keys()][5]!;
    index.delete(changed);
    index.add(["a brand new sentence about ebcda and cabbed"], [changed]);
    live.set(changed, "a brand new sentence about ebcda and cabbed");
    expect(index.segmentCount).toBe(3);
    expect(index.docCount).toBe(live.size);

    const rebuilt = liveRebuild(live);
    for (const fuzzy of ["missing", "always"] as const) {
      for (const coordination of [false, true]) {
        for (const q of [...questions, "brand new ebcda"]) {
          expect(index.query(q, 10, { fuzzy, coordination })).toEqual(rebuilt.query(q, 10, { fuzzy, coordination }));
        }
      }
    }
    expect(index.mergeDue(8, 0.1)).toBe(true); // about a fifth of the stored docs are deleted
    expect(index.mergeDue(8, 0.5)).toBe(false);
    expect(index.mergeDue(2, 0.5)).toBe(true); // three segments
    const merged = index.merged();
    expect(merged.segmentCount).toBe(1);
    expect(merged.mergeDue()).toBe(false);
    expect(Buffer.compare(merged.toBuffers().segments[0]!, rebuilt.toBuffers().segments[0]!)).toBe(0);
    for (const q of questions) expect(merged.query(q, 10)).toEqual(index.query(q, 10));
  });

  it("stores deletion marks apart from the segment and reopens to the same answers", () => {
    const index = PostingsIndex.build(firstBatch);
    index.add(
      secondBatch,
      secondBatch.map((_, i) => 1000 + i),
    );
    for (const label of [1, 2, 3, 1005, 1010]) index.delete(label);
    const stored = index.toBuffers();
    expect(stored.deletions[0]).toBeDefined();
    const reopened = PostingsIndex.open(stored.segments, stored.deletions);
    for (const q of questions) expect(reopened.query(q, 10)).toEqual(index.query(q, 10));
    expect(reopened.docCount).toBe(index.docCount);
    expect(() => Deletions.fromBuffer(stored.deletions[0]!.subarray(0, 14), 300)).toThrow(/truncated/);
    expect(() => Deletions.fromBuffer(stored.deletions[0]!, 299)).toThrow(/299/);
    const flipped = Buffer.from(stored.deletions[0]!);
    flipped[20] = flipped[20]! ^ 1;
    expect(() => Deletions.fromBuffer(flipped, 300)).toThrow(/count mismatch/);
  });

  it("refuses a label that is already live, and labels out of order", () => {
    const index = PostingsIndex.build(["one budget", "two budgets"]);
    expect(() => index.add(["again"], [1])).toThrow(/already in the index/);
    expect(() => Segment.build(["a", "b"], [5, 5])).toThrow(/unique and ascending/);
    const a = Segment.build(["old text"], [1]);
    const b = Segment.build(["new text"], [1]);
    expect(() => new PostingsIndex([a, b])).toThrow(/live in two segments/);
    const gone = Deletions.empty(1);
    gone.add(0);
    expect(new PostingsIndex([a, b], [gone]).query("text", 5).hits.map((h) => h.index)).toEqual([1]);
    expect(new PostingsIndex([a, b], [gone]).query("old", 5).hits).toEqual([]);
  });
});
