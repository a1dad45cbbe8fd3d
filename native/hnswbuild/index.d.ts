declare namespace hnswbuild {
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
}

declare const hnswbuild: {
  /**
   * Builds the HNSW index off the event loop and writes it. Rejects with an Error for bad input found
   * while building (a value that is not a number, a label twice) or an unwritable file; throws a
   * TypeError at once for malformed options (dimension mismatch, wrong array types).
   * `onProgress(done)` runs on the JavaScript thread every 8,192 points.
   */
  buildHnswFile(opts: hnswbuild.BuildHnswFileOptions, onProgress?: (done: number) => void): Promise<void>;
};

export = hnswbuild;
