// HNSW recall@10 against exact search and snapshot.dense latency at several ef values, on one built
// index (the scale bench's rows and questions): what a change of SEARCH_EF would cost and buy.
//
//   npx tsx scripts/bench/recall-ef.ts --index data/bench/store/scale-1m [--ef 256,512,768,1024] [--seeds 1,16] [--questions 100]
//
// The exact top 10 of each question is computed once (a JS scan of every stored vector) and cached
// beside the index (exact-top10-<questions>.json), keyed by the snapshot's version.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FileStore } from "../../src/store/fs/store.js";
import type { PassageId } from "../../src/store/types.js";
import { argValue, log, median, percentile, round } from "./common.js";
import { exactTop10 } from "./exact.js";
import { base } from "./rows.js";

const indexDir = argValue("--index");
if (!indexDir) throw new Error("--index <dir> is required");
const efs = (argValue("--ef") ?? "256,512,768,1024").split(",").map(Number);
/** Level-1 entry points of the level-0 search (HnswGraph.setSeeds; 1 = hnswlib's own search). */
const seedList = (argValue("--seeds") ?? "1").split(",").map(Number);
const count = Number(argValue("--questions") ?? 100);
const b = await base(Math.max(count, 200));
const queries = Array.from({ length: count }, (_, i) => b.queryVectors.slice(i * b.dim, (i + 1) * b.dim));
const store = new FileStore(indexDir);
const snap = await store.current();
if (!snap) throw new Error(`no index in ${indexDir}`);

const cache = path.join(indexDir, `exact-top10-${count}.json`);
let exact: PassageId[][];
const cached = existsSync(cache) ? (JSON.parse(readFileSync(cache, "utf8")) as { version: string; exact: PassageId[][] }) : undefined;
if (cached?.version === snap.info.version) exact = cached.exact;
else {
  const t = performance.now();
  exact = await exactTop10(snap, queries, b.dim);
  writeFileSync(cache, JSON.stringify({ version: snap.info.version, exact }));
  log(`exact top 10 of ${count} questions in ${round((performance.now() - t) / 1000, 1)} s (cached in ${cache})`);
}

// snapshot.dense sets ef from SEARCH_EF: search its graph directly, as dense does, at each ef.
type Graph = { setEf(ef: number): void; setSeeds(n: number): void; search(q: Float32Array, k: number): Promise<{ neighbors: Int32Array }> };
const graph = (snap as unknown as { shared: { snap: { hnsw?: Graph } } }).shared.snap.hnsw;
if (!graph) throw new Error("the snapshot's graph is not loaded");
/** snapshot.dense's graph search (top 50) at a given ef. */
const denseAt = async (q: Float32Array, ef: number): Promise<PassageId[]> => {
  graph.setEf(ef);
  return Array.from((await graph.search(q, 50)).neighbors);
};
for (const q of queries.slice(0, 20)) await denseAt(q, efs[0]!);
for (const seeds of seedList)
  for (const ef of efs) {
    graph.setSeeds(seeds);
    const ms: number[] = [];
    let found = 0;
    for (let r = 0; r < 3; r++) {
      for (const [qi, q] of queries.entries()) {
        const t = performance.now();
        const hits = await denseAt(q, ef);
        ms.push(performance.now() - t);
        if (r === 0) {
          const got = new Set(hits.slice(0, 10));
          found += exact[qi]!.filter((id) => got.has(id)).length;
        }
      }
    }
    log(
      `seeds ${seeds}, ef ${ef}: recall@10 ${round(found / (10 * count), 4)}, top 50 p50 ${round(median(ms), 3)} ms, p95 ${round(percentile(ms, 95), 3)} ms (${count} questions × 3)`,
    );
  }

await store.close();
