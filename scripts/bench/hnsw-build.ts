// Bench of the HNSW base build on the scale rows (scripts/bench/rows.ts: the 1M rows of the scale
// section, first N of them): build seconds of hnswlib-node's addPoint (one core, as write.ts did)
// and of the native builder (@citebot/hnswbuild) on 1 and 2 threads, side by side in one run; then
// for each index recall@10 against exact search and the dense search p50 (hnswlib-node's searchKnn
// for 50, as FileSnapshot.dense does) at each ef, and the file's bytes.
//
//   npx tsx scripts/bench/hnsw-build.ts --n 200k --m 16,24,32 --efc 100,200 [--builders addpoint,native1,native2]
//     [--compare-at 16/200] [--ef 256,512,1024] [--questions 200] [--sse-addon <path to a .node>] [--json out.json]
//
// --builders applies at --compare-at (M/efConstruction); the other settings of the sweep run the native
// builder on every core only (native2 on this 2-core machine). --sse-addon: the same addon compiled
// without -mavx2 -mfma (CITEBOT_HNSW_SIMD=off), built beside the default one for the SIMD comparison.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import hnswbuild from "@citebot/hnswbuild";
import hnswlib from "hnswlib-node";
import { argValue, log, machine, median, round } from "./common.js";
import { base, DIR, row, sizeOf } from "./rows.js";

const { BruteforceSearch, HierarchicalNSW } = hnswlib;
const SEED = 100;
const list = (name: string, def: string) => (argValue(name) ?? def).split(",").map((s) => s.trim());

const n = sizeOf(argValue("--n") ?? "200k");
const ms = list("--m", "16").map(Number);
const efcs = list("--efc", "200").map(Number);
const efs = list("--ef", "256,512,1024").map(Number);
const builders = list("--builders", "addpoint,native1,native2");
const [compareM, compareEfc] = (argValue("--compare-at") ?? "16/200").split("/").map(Number);
const questions = Number(argValue("--questions") ?? 200);
const sseAddon = argValue("--sse-addon");
// One folder per run: two runs at once must not remove each other's files.
const dir = path.join(DIR, `hnsw-build-${process.pid}`);

type Native = typeof hnswbuild;
const sse: Native | undefined = sseAddon ? (createRequire(import.meta.url)(path.resolve(sseAddon)) as Native) : undefined;

/** The rows' vectors (row i is label i), as the scale bench's write step makes them (seed 1). */
function vectorsOf(b: Awaited<ReturnType<typeof base>>): Float32Array {
  const out = new Float32Array(n * b.dim);
  for (let i = 0; i < n; i++) row(b, i, 1, out, i * b.dim);
  return out;
}

/** Exact top 10 by cosine: hnswlib's brute force (native, ~20× a JS loop; 1M × 384 per query). */
function exactTop10(vectors: Float32Array, dim: number, queries: Float32Array[]): Int32Array[] {
  const exact = new BruteforceSearch("cosine", dim);
  exact.initIndex(n);
  for (let i = 0; i < n; i++) exact.addPoint(Array.from(vectors.subarray(i * dim, (i + 1) * dim)), i);
  return queries.map((q) => Int32Array.from(exact.searchKnn(Array.from(q), 10).neighbors));
}

async function build(kind: string, vectors: Float32Array, labels: Int32Array, dim: number, m: number, efc: number, file: string): Promise<number> {
  rmSync(file, { force: true });
  const t0 = performance.now();
  if (kind === "addpoint") {
    // What write.ts did before: one point at a time on the JavaScript thread.
    const index = new HierarchicalNSW("cosine", dim);
    index.initIndex(n, m, efc, SEED);
    for (let i = 0; i < n; i++) index.addPoint(Array.from(vectors.subarray(i * dim, (i + 1) * dim)), i);
    index.writeIndexSync(file);
  } else {
    const threads = Number(kind.replace(/^native(-sse)?/, ""));
    const addon = kind.startsWith("native-sse") ? sse! : hnswbuild;
    await addon.buildHnswFile({ vectors, labels, dim, m, efConstruction: efc, seed: SEED, threads, file });
  }
  return (performance.now() - t0) / 1000;
}

function measure(file: string, dim: number, queries: Float32Array[], exact: Int32Array[]) {
  const index = new HierarchicalNSW("cosine", dim);
  index.readIndexSync(file);
  const out: Record<string, { recallAt10: number; denseP50Ms: number }> = {};
  for (const ef of efs) {
    index.setEf(ef);
    for (const q of queries.slice(0, 20)) index.searchKnn(Array.from(q), 50); // warm-up
    const times: number[] = [];
    let found = 0;
    queries.forEach((q, qi) => {
      const t = performance.now();
      const { neighbors } = index.searchKnn(Array.from(q), 50);
      times.push(performance.now() - t);
      const got = new Set(neighbors.slice(0, 10));
      for (const id of exact[qi]!) if (got.has(id)) found++;
    });
    out[ef] = { recallAt10: round(found / (10 * queries.length), 4), denseP50Ms: round(median(times), 3) };
  }
  return out;
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const b = await base(questions);
  const dim = b.dim;
  log(`rows: ${n} (${dim}-d), ${questions} queries`);
  const vectors = vectorsOf(b);
  const labels = Int32Array.from({ length: n }, (_, i) => i);
  const queries = Array.from({ length: questions }, (_, i) => b.queryVectors.slice(i * dim, (i + 1) * dim));
  let t0 = performance.now();
  const exact = exactTop10(vectors, dim, queries);
  log(`exact top 10 in ${round((performance.now() - t0) / 1000, 1)} s`);

  const runs: object[] = [];
  for (const m of ms) {
    for (const efc of efcs) {
      const at = m === compareM && efc === compareEfc;
      const kinds = at ? [...builders, ...(sse ? ["native-sse2"] : [])] : [builders.filter((k) => k.startsWith("native")).at(-1) ?? "native2"];
      for (const kind of kinds) {
        const file = path.join(dir, `n${n}-m${m}-efc${efc}-${kind}.bin`);
        const seconds = await build(kind, vectors, labels, dim, m, efc, file);
        t0 = performance.now();
        const ef = measure(file, dim, queries, exact);
        const r = { n, m, efConstruction: efc, builder: kind, buildS: round(seconds, 1), indexMB: round(statSync(file).size / 2 ** 20, 1), ef };
        log(`${JSON.stringify(r)} (measured in ${round((performance.now() - t0) / 1000, 1)} s)`);
        runs.push(r);
        rmSync(file, { force: true });
      }
    }
  }
  printTable(runs as Run[]);
  const json = argValue("--json");
  if (json) writeFileSync(json, JSON.stringify({ machine: machine(), n, questions, efs, runs }, null, 1));
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

interface Run {
  n: number;
  m: number;
  efConstruction: number;
  builder: string;
  buildS: number;
  indexMB: number;
  ef: Record<string, { recallAt10: number; denseP50Ms: number }>;
}

function printTable(runs: Run[]) {
  const head = ["rows", "M", "efC", "builder", "build s", "index MB", ...efs.flatMap((ef) => [`R@10 ef${ef}`, `p50 ms ef${ef}`])];
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map(() => "---").join("|")}|`);
  for (const r of runs) {
    const cells = [r.n, r.m, r.efConstruction, r.builder, r.buildS, r.indexMB, ...efs.flatMap((ef) => [r.ef[ef]!.recallAt10, r.ef[ef]!.denseP50Ms])];
    console.log(`| ${cells.join(" | ")} |`);
  }
}

await main();
