// The scale bench's derived rows (scripts/bench/rows.ts): deterministic, unit vectors between two
// real sentence vectors, and articles a store accepts as they are (passages are slices of the text).
import { afterAll, describe, expect, it } from "vitest";
import { articles, type Base, PER_ARTICLE, row, sizeOf } from "../scripts/bench/rows.js";
import { FileStore } from "../src/store/fs/store.js";
import { cleanupTmp, mkTmp } from "./helpers.js";

afterAll(cleanupTmp);

const DIM = 16;
/** Ten "real" sentences with one-hot-ish vectors, so a row's origin can be read off its vector. */
function fakeBase(): Base {
  const texts = Array.from({ length: 10 }, (_, i) => `Sentence number ${i} talks about topic ${i} in seven words or more here.`);
  const vectors = new Float32Array(texts.length * DIM);
  texts.forEach((_, i) => (vectors[i * DIM + i] = 1));
  return { texts, vectors, dim: DIM, queries: ["q"], queryVectors: new Float32Array(DIM) };
}

describe("scale bench rows", () => {
  it("parses sizes", () => {
    expect(sizeOf("100k")).toBe(100_000);
    expect(sizeOf("1m")).toBe(1_000_000);
    expect(sizeOf("2500")).toBe(2500);
  });

  it("derives the same unit vector and text for the same row and seed, another for another seed", () => {
    const b = fakeBase();
    const a = new Float32Array(DIM);
    const c = new Float32Array(DIM);
    const t1 = row(b, 7, 1, a, 0);
    const t2 = row(b, 7, 1, c, 0);
    expect(t1).toBe(t2);
    expect([...a]).toEqual([...c]);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    // Mostly one real sentence's direction, not random: its largest component is a real sentence's axis (0-9).
    const top = a.indexOf(Math.max(...a));
    expect(top).toBeLessThan(10);
    const other = new Float32Array(DIM);
    row(b, 7, 2, other, 0);
    expect([...other]).not.toEqual([...a]);
  });

  it("makes articles of 25 rows whose passages are slices of the article text, which a FileStore takes and serves", async () => {
    const b = fakeBase();
    const rows = articles(b, 0, 60, 1);
    expect(rows.map((r) => r.passages.length)).toEqual([PER_ARTICLE, PER_ARTICLE, 10]);
    for (const r of rows) {
      expect(r.vectors.length).toBe(r.passages.length * DIM);
      for (const p of r.passages) expect(r.article.text.slice(p.start, p.end)).toBe(p.text);
    }
    const store = new FileStore(mkTmp("bench-rows-"));
    const { snapshot } = await store.write({ mode: "replace", model: "m", dimensions: DIM, settingsHash: "s", upsert: rows, remove: [] });
    expect(snapshot.info.passages).toBe(60);
    const [first] = await snapshot.dense(rows[1]!.vectors.slice(3 * DIM, 4 * DIM), 1);
    expect((await snapshot.passages([first!.id]))[0]!.id).toBe(rows[1]!.passages[3]!.id);
    await store.close();
  });
});
