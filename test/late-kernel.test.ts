// The shared MaxSim pass (bestCosines) is an exact rewrite of the plain loop it replaced: every
// cosine summed in the same order, so late interaction and focus give the same figures bit for bit.
import { describe, expect, it } from "vitest";
import { wordSimilarities } from "../src/search/focus.js";
import { bestCosines, lateScores, type TokenMatrix } from "../src/search/late.js";

/** A seeded pseudo-random generator (mulberry32): the same matrices on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMatrix(rows: number, dim: number, next: () => number): TokenMatrix {
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += (data[r * dim + d] = next() - 0.5) ** 2;
    for (let d = 0; d < dim; d++) data[r * dim + d]! /= Math.sqrt(n);
  }
  return { rows, data, pooled: new Float32Array(dim) };
}

/** The plain loop: one question row against one text row at a time. */
function plainBest(q: TokenMatrix, doc: TokenMatrix, dim: number, i: number): number {
  let b = -1;
  for (let j = 0; j < doc.rows; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += q.data[i * dim + d]! * doc.data[j * dim + d]!;
    if (s > b) b = s;
  }
  return b;
}

describe("bestCosines", () => {
  const dim = 24;
  const next = random(7);

  it("equals the plain loop exactly, for any number of question and text rows (the grouped and the remainder paths)", () => {
    for (const qRows of [1, 2, 3, 4, 5, 7, 8, 9]) {
      for (const docRows of [1, 2, 3, 6, 11]) {
        const q = randomMatrix(qRows, dim, next);
        const doc = randomMatrix(docRows, dim, next);
        const best = bestCosines(q, doc, dim);
        for (let i = 0; i < qRows; i++) expect(best[i]).toBe(plainBest(q, doc, dim, i));
      }
    }
  });

  it("leaves out the rows neither late interaction nor focus reads (weight 0, in no word)", () => {
    const q = { ...randomMatrix(5, dim, next), weights: Float32Array.from([1, 0, 1, 0, 1]), words: Int32Array.from([0, -1, 1, 2, -1]) };
    const doc = randomMatrix(4, dim, next);
    const best = bestCosines(q, doc, dim);
    expect(Number.isNaN(best[1])).toBe(true);
    for (const i of [0, 2, 3, 4]) expect(best[i]).toBe(plainBest(q, doc, dim, i));
  });

  it("gives the same late-interaction and focus figures whether computed once and shared or by each on its own", () => {
    const q = { ...randomMatrix(7, dim, next), weights: Float32Array.from([0, 1, 1, 1, 0, 1, 1]), words: Int32Array.from([-1, 0, 0, 1, -1, 2, 3]) };
    const doc = randomMatrix(9, dim, next);
    const shared = bestCosines(q, doc, dim);
    expect(lateScores(q, doc, dim, shared)).toEqual(lateScores(q, doc, dim));
    expect(wordSimilarities(q, doc, dim, shared)).toEqual(wordSimilarities(q, doc, dim));
    // And the plain mean: weighted rows' best cosines over their weight.
    const rows = [1, 2, 3, 5, 6];
    const mean = rows.reduce((s, i) => s + plainBest(q, doc, dim, i), 0) / rows.length;
    expect(lateScores(q, doc, dim).mean).toBe(mean);
  });

  it("a text without rows: every used row at -1, and late interaction 0", () => {
    const q = randomMatrix(3, dim, next);
    expect([...bestCosines(q, { rows: 0, data: new Float32Array(0), pooled: new Float32Array(dim) }, dim)]).toEqual([-1, -1, -1]);
  });
});
