declare namespace hnswbuild {
  /** One keyword segment's arrays for searchPostings (src/search/postings/engine.ts). */
  interface PostingsSegment {
    docs: Uint32Array;
    tfs: Uint8Array;
    labels: Uint32Array;
    /** Per doc: k1·(1 − b + b·|d|/avgdl). */
    norms: Float64Array;
    /** Deletion marks, a bit per doc. */
    deleted?: Uint8Array;
    /** Per query term present in the segment, in summing order: postings start, end, weight·idf, upper bound, question-term group. */
    cursors: Float64Array;
  }
  interface BuildHnswFileOptions {
    /** count × dim values, row after row; normalised inside (hnswlib-node's "cosine"), never changed. */
    vectors: Float32Array;
    /** One label per vector, ≥ 0, each at most once. */
    labels: Int32Array;
    dim: number;
    m: number;
    efConstruction: number;
    seed: number;
    /** Threads adding points at once; 1 gives the same file on every run. */
    threads: number;
    /** Written with hnswlib's saveIndex; read it with `new HierarchicalNSW("cosine", dim).readIndex(file)`. */
    file: string;
  }

  /** An hnswlib index file read into this process's memory, searched off the event loop. */
  interface HnswGraph {
    /** The k nearest elements' labels and distances (1 − cosine), best first; the query is normalised inside. */
    search(query: Float32Array, k: number): Promise<{ neighbors: Int32Array; distances: Float32Array }>;
    /** Marks element `element` (its position in the file, not its label) deleted, in this process only. */
    markDeleteElement(element: number): void;
    /** Row i of `out` ← the stored (normalised) vector of element `elements[i]`; rows of -1 are left as they are. */
    readVectors(elements: Int32Array, out: Float32Array): void;
    /**
     * The file's bytes as loaded (no copy), to checksum what is searched; deletion marks change them.
     * The view keeps the memory alive after close().
     */
    bytes(): Buffer;
    /** The first element whose vector holds a NaN or an infinity (scanned while loading), or -1. */
    firstNonFiniteElement(): number;
    setEf(ef: number): void;
    /** Level 0 starts from the best `seeds` of a beam search on level 1 (1, the default: hnswlib's own search). */
    setSeeds(seeds: number): void;
    getEf(): number;
    getCurrentCount(): number;
    /** Frees the graph once no search in flight holds it; later calls throw. */
    close(): void;
  }
}

declare const hnswbuild: {
  /**
   * Builds the HNSW index off the event loop and writes it. Rejects with an Error for bad input found
   * while building (a value that is not a number, a label twice) or an unwritable file; throws a
   * TypeError at once for malformed options (dimension mismatch, wrong array types).
   * `onProgress(done)` runs on the JavaScript thread every 8,192 points.
   */
  buildHnswFile(opts: hnswbuild.BuildHnswFileOptions, onProgress?: (done: number) => void): Promise<void>;
  /**
   * Reads the hnswlib file open on `fd` into memory and indexes its link lists, on a libuv thread.
   * Check the file (structure, checksum) before searching it: its neighbour ids are trusted.
   */
  loadHnswGraph(fd: number, dim: number): Promise<hnswbuild.HnswGraph>;
  /**
   * The keyword engine's MaxScore search over `segments` (θ carried from one to the next) on a libuv
   * thread: the best `k` docs' labels, scores and matched-term counts, best first (lower label on ties).
   * The arrays must not change until it settles.
   */
  searchPostings(
    segments: hnswbuild.PostingsSegment[],
    query: { groupCount: number; coordination: boolean; delta: number; k1p1: number; k: number },
  ): Promise<{ labels: Float64Array; scores: Float64Array; matched: Int32Array }>;
};

export = hnswbuild;
