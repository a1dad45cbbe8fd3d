// Exact nearest neighbours over a snapshot's stored vectors: the reference the scale bench's and
// scripts/bench/recall-ef.ts's recall@10 compare the HNSW search with.
import type { PassageId, Snapshot } from "../../src/store/types.js";

/** Every live passage id of a snapshot (after an update, ids are no longer row numbers). */
export async function liveIds(snap: Snapshot): Promise<PassageId[]> {
  const ids: PassageId[] = [];
  for (const a of await snap.articles()) ids.push(...(await snap.passageIds(a.id)));
  return ids;
}

/** Exact top 10 of each query over the snapshot's stored vectors, read in chunks (1M × 384 floats at once would dominate the step's memory). */
export async function exactTop10(snap: Snapshot, queries: Float32Array[], dim: number): Promise<PassageId[][]> {
  const ids = await liveIds(snap);
  const norms = queries.map((q) => Math.hypot(...q));
  const top = queries.map(() => ({ ids: [] as PassageId[], scores: [] as number[] }));
  for (let c = 0; c < ids.length; c += 20_000) {
    const chunk = ids.slice(c, c + 20_000);
    const vecs = await snap.vectors(chunk);
    queries.forEach((q, qi) => {
      const t = top[qi]!;
      vecs.forEach((v, i) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[d]! * v[d]!;
        s /= norms[qi]!;
        if (t.scores.length === 10 && s <= t.scores[9]!) return;
        let at = t.scores.length;
        while (at > 0 && t.scores[at - 1]! < s) at--;
        t.scores.splice(at, 0, s);
        t.ids.splice(at, 0, chunk[i]!);
        if (t.scores.length > 10) t.scores.pop(), t.ids.pop();
      });
    });
  }
  return top.map((t) => t.ids);
}
