// A full HNSW build on every core: our native addon (native/hnswbuild, compiled on npm install like
// hnswlib-node) adds the points from several threads off the event loop and writes hnswlib's file,
// which hnswlib-node's readIndex reads. hnswlib-node itself adds one point at a time on one core
// (869 of 903 s of a 1M build). The incremental fold (a few thousand points) stays on hnswlib-node.
import { availableParallelism } from "node:os";
import hnswbuild from "@citebot/hnswbuild";
import { INDEX_SETTINGS } from "../../index/settings.js";

/**
 * Below this many points a build uses one thread: a one-thread build is the same file on every run
 * (same points, same settings), and small builds take a few seconds at most anyway. With several
 * threads the neighbour lists depend on thread timing (recall does not).
 */
export const PARALLEL_FROM = 10_000;

export const buildThreads = (points: number) => (points < PARALLEL_FROM ? 1 : availableParallelism());

/** Builds the base HNSW of `labels` (vector i is row i of `vectors`) with INDEX_SETTINGS into `file`. */
export async function buildHnswFile(file: string, vectors: Float32Array, labels: Int32Array, dim: number, onProgress?: (done: number) => void): Promise<void> {
  const { space, m, efConstruction, seed } = INDEX_SETTINGS.hnsw;
  // The addon's space is hnswlib-node's "cosine" (normalise, then inner product), nothing else.
  if (space !== "cosine") throw new Error(`the native HNSW build knows the cosine space only, not ${space}`);
  await hnswbuild.buildHnswFile({ vectors, labels, dim, m, efConstruction, seed, threads: buildThreads(labels.length), file }, onProgress);
}
