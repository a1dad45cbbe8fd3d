// The native parallel HNSW builder (@citebot/hnswbuild, used by src/store/fs/hnswbuild.ts for full
// builds): its file is read by hnswlib-node and searches as well as an addPoint-built index, labels
// are kept, 1 and 2 threads both work (1 thread gives the same file every run), bad input is a clear
// error, and a store write above PARALLEL_FROM builds on every core and answers like exact search.
import { readFileSync } from "node:fs";
import path from "node:path";
import hnswbuild from "@citebot/hnswbuild";
import hnswlib from "hnswlib-node";
import { afterAll, describe, expect, it } from "vitest";
import { type Base, row } from "../scripts/bench/rows.js";
import { PARALLEL_FROM } from "../src/store/fs/hnswbuild.js";
import { FileStore } from "../src/store/fs/store.js";
import type { Changes } from "../src/store/types.js";
import { cleanupTmp, exactTop, mkTmp } from "./helpers.js";
import { rng } from "./store/synthetic.js";

afterAll(cleanupTmp);

const { HierarchicalNSW } = hnswlib;
const DIM = 48;
const N = 3000;
const SETTINGS = { m: 8, efConstruction: 40, seed: 100 };

/** Rows made the way the scale bench makes them (two "sentence" vectors mixed, plus noise), from 300 random unit "sentences". */
function realish(n: number, seed: number, first = 0): Float32Array {
  const r = rng(seed);
  const S = 300;
  const vectors = new Float32Array(S * DIM);
  for (let s = 0; s < S; s++) {
    let sq = 0;
    for (let d = 0; d < DIM; d++) sq += (vectors[s * DIM + d] = r() * 2 - 1) ** 2;
    for (let d = 0; d < DIM; d++) vectors[s * DIM + d]! /= Math.sqrt(sq);
  }
  const b: Base = {
    texts: Array.from({ length: S }, (_, i) => `sentence ${i} of the base`),
    vectors,
    dim: DIM,
    queries: [],
    queryVectors: new Float32Array(0),
  };
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) row(b, first + i, seed, out, i * DIM);
  return out;
}

const vectors = realish(N, 7);
const queries = realish(100, 7, 10 * N); // rows of the same mix that are not in the index
const labels = Int32Array.from({ length: N }, (_, i) => 5 + i * 7); // not row numbers

const exactTop10 = (q: Float32Array) => exactTop(q, vectors, labels, DIM);
const exact = Array.from({ length: 100 }, (_, i) => exactTop10(queries.subarray(i * DIM, (i + 1) * DIM)));

/** recall@10 at a small ef (so that the graph's quality shows), through hnswlib-node as the store searches. */
function recall(file: string, ef = 12): number {
  const index = new HierarchicalNSW("cosine", DIM);
  index.readIndexSync(file);
  index.setEf(ef);
  let found = 0;
  exact.forEach((top, qi) => {
    const got = new Set(index.searchKnn(Array.from(queries.subarray(qi * DIM, (qi + 1) * DIM)), 10).neighbors);
    found += top.filter((l) => got.has(l)).length;
  });
  return found / (10 * exact.length);
}

function addPointFile(file: string): string {
  const index = new HierarchicalNSW("cosine", DIM);
  index.initIndex(N, SETTINGS.m, SETTINGS.efConstruction, SETTINGS.seed);
  for (let i = 0; i < N; i++) index.addPoint(Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)), labels[i]!);
  index.writeIndexSync(file);
  return file;
}

const nativeFile = async (file: string, threads: number) => {
  await hnswbuild.buildHnswFile({ vectors, labels, dim: DIM, ...SETTINGS, threads, file });
  return file;
};

describe("native HNSW builder", () => {
  const dir = mkTmp("citebot-hnswbuild-");

  it("writes a file hnswlib-node reads, whose top 10 agree with exact search at least as well as an addPoint build, on 1 and 2 threads", async () => {
    const reference = recall(addPointFile(path.join(dir, "addpoint.bin")));
    const one = recall(await nativeFile(path.join(dir, "t1.bin"), 1));
    const two = recall(await nativeFile(path.join(dir, "t2.bin"), 2));
    expect(reference).toBeGreaterThan(0.5); // the small ef leaves room to differ
    expect(reference).toBeLessThan(1);
    expect(one).toBeGreaterThanOrEqual(reference - 0.01);
    expect(two).toBeGreaterThanOrEqual(reference - 0.01);
    // At a working ef both are near exact.
    expect(recall(path.join(dir, "t2.bin"), 100)).toBeGreaterThan(0.98);
  });

  it("keeps every label, each vector finds itself, and the header carries the settings", async () => {
    const file = await nativeFile(path.join(dir, "labels.bin"), 2);
    const index = new HierarchicalNSW("cosine", DIM);
    index.readIndexSync(file);
    expect(index.getCurrentCount()).toBe(N);
    expect(index.getMaxElements()).toBe(N);
    expect([...index.getIdsList()].sort((a, b) => a - b)).toEqual([...labels]);
    index.setEf(50);
    for (const i of [0, 1, 777, N - 1]) {
      const v = Array.from(vectors.subarray(i * DIM, (i + 1) * DIM));
      expect(index.searchKnn(v, 1).neighbors[0]).toBe(labels[i]);
      // Stored normalised (hnswlib-node's cosine): the stored point equals the unit input.
      const stored = index.getPoint(labels[i]!);
      stored.forEach((x, d) => expect(x).toBeCloseTo(v[d]!, 5));
    }
    const head = readFileSync(file);
    expect(Number(head.readBigUInt64LE(72))).toBe(SETTINGS.m);
    expect(Number(head.readBigUInt64LE(88))).toBe(SETTINGS.efConstruction);
  });

  it("on one thread writes the same bytes every run (what PARALLEL_FROM relies on)", async () => {
    const a = readFileSync(await nativeFile(path.join(dir, "same-a.bin"), 1));
    const b = readFileSync(await nativeFile(path.join(dir, "same-b.bin"), 1));
    expect(a.equals(b)).toBe(true);
  });

  it("reports progress every 8,192 points, on the JavaScript thread", async () => {
    const n = 20_000;
    const dim = 8;
    const v = new Float32Array(n * dim).map((_, i) => Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453));
    const seen: number[] = [];
    await hnswbuild.buildHnswFile(
      {
        vectors: v,
        labels: Int32Array.from({ length: n }, (_, i) => i),
        dim,
        m: 4,
        efConstruction: 10,
        seed: 1,
        threads: 2,
        file: path.join(dir, "progress.bin"),
      },
      (done) => seen.push(done),
    );
    expect(seen.length).toBeGreaterThan(0);
    for (const d of seen) expect(d % 8192).toBe(0);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)!).toBeLessThanOrEqual(16_384);
  });

  it("refuses bad input with a clear error, and the process carries on", async () => {
    const opts = { vectors, labels, dim: DIM, ...SETTINGS, threads: 2, file: path.join(dir, "bad.bin") };
    expect(() => hnswbuild.buildHnswFile({ ...opts, dim: DIM + 1 })).toThrow(/vectors hold 144000 values, but 3000 labels of 49 dimensions need 147000/);
    expect(() => hnswbuild.buildHnswFile({ ...opts, vectors: vectors.subarray(DIM) })).toThrow(/do not match|need/);
    expect(() => hnswbuild.buildHnswFile({ ...opts, labels: Array.from(labels) as unknown as Int32Array })).toThrow(/labels must be an Int32Array/);
    expect(() => hnswbuild.buildHnswFile({ ...opts, dim: 0 })).toThrow(/dim must be/);
    expect(() => hnswbuild.buildHnswFile({ ...opts, threads: 0 })).toThrow(/threads must be/);
    const nan = vectors.slice();
    nan[5 * DIM + 3] = Number.NaN;
    await expect(hnswbuild.buildHnswFile({ ...opts, vectors: nan })).rejects.toThrow(`vector 5 (label ${labels[5]}) holds a value that is not a number`);
    const twice = labels.slice();
    twice[9] = twice[3]!;
    await expect(hnswbuild.buildHnswFile({ ...opts, labels: twice })).rejects.toThrow(`label ${labels[3]} appears twice`);
    await expect(hnswbuild.buildHnswFile({ ...opts, file: path.join(dir, "no-such-folder", "x.bin") })).rejects.toThrow(/cannot write the index file/);
    // Still fine afterwards.
    expect(recall(await nativeFile(path.join(dir, "after.bin"), 2), 100)).toBeGreaterThan(0.98);
  });
});

describe("a store write above PARALLEL_FROM", () => {
  it("builds its base on every core, reports progress, and its dense search matches exact search", async () => {
    const n = PARALLEL_FROM + 2000;
    const per = 25;
    const v = realish(n, 11);
    const upsert: Changes["upsert"] = [];
    for (let s = 0; s < n; s += per) {
      const id = `a${s / per}`;
      const texts = Array.from({ length: per }, (_, k) => `Sentence ${k} of ${id} about the budget.`);
      let at = 0;
      const passages = texts.map((text, k) => {
        const p = { id: `${id}#${k}`, articleId: id, n: k, text, start: at, end: at + text.length };
        at += text.length + 1;
        return p;
      });
      upsert.push({ article: { id, title: id, file: `${id}.txt`, text: texts.join(" ") }, hash: id, passages, vectors: v.slice(s * DIM, (s + per) * DIM) });
    }
    const progress: Array<[number, number]> = [];
    const store = new FileStore(mkTmp("citebot-hnswbuild-store-"), { onHnswProgress: (done, total) => progress.push([done, total]) });
    try {
      const { snapshot } = await store.write({ mode: "replace", model: "fake@1", dimensions: DIM, settingsHash: "s1", upsert, remove: [] });
      expect(progress.length).toBeGreaterThan(0);
      for (const [, total] of progress) expect(total).toBe(n);
      expect(snapshot.info.passages).toBe(n);
      const qs = realish(20, 11, 10 * n);
      let found = 0;
      for (let qi = 0; qi < 20; qi++) {
        const q = qs.subarray(qi * DIM, (qi + 1) * DIM);
        const best = Array.from({ length: n }, (_, i) => {
          let s = 0;
          for (let d = 0; d < DIM; d++) s += q[d]! * v[i * DIM + d]!;
          return [s, i] as const;
        })
          .sort((a, b) => b[0] - a[0])
          .slice(0, 10)
          .map((x) => x[1]);
        const got = new Set((await snapshot.dense(q, 10)).map((h) => h.id));
        found += best.filter((id) => got.has(id)).length;
      }
      expect(found / 200).toBeGreaterThan(0.97);
    } finally {
      await store.close();
    }
  }, 120_000);
});
