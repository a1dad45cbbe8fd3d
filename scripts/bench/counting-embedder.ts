// The real model with every result kept by text, for latency runs that measure the model apart
// (scripts/bench/store.ts serve --answer, scripts/bench/answer-profile.ts).
import type { Embedder, EmbedOptions, TransformersEmbedder } from "../../src/embed/embedder.js";

/**
 * The real model with every result kept by text: questions are embedded before the timed runs
 * (their time reported apart), and the time of every model run not served from the cache is counted.
 */
export class CountingEmbedder implements Embedder {
  modelMs = 0;
  private readonly pooled = new Map<string, Float32Array>();
  private readonly tokens = new Map<string, Float32Array[]>();
  constructor(private readonly inner: TransformersEmbedder) {}
  get modelId() {
    return this.inner.modelId;
  }
  get dimensions() {
    return this.inner.dimensions;
  }
  get settings() {
    return this.inner.settings;
  }
  get weights() {
    return this.inner.weights;
  }
  get modelDir() {
    return this.inner.modelDir;
  }
  get lexicon() {
    return this.inner.lexicon;
  }
  private async cached<T>(cache: Map<string, T>, keys: string[], texts: string[], run: (texts: string[]) => Promise<T[]>): Promise<T[]> {
    const missing = keys.flatMap((k, i) => (cache.has(k) ? [] : [i]));
    if (missing.length) {
      const t = performance.now();
      const made = await run(missing.map((i) => texts[i]!));
      this.modelMs += performance.now() - t;
      missing.forEach((i, k) => cache.set(keys[i]!, made[k]!));
    }
    return keys.map((k) => cache.get(k)!);
  }
  embed(texts: string[], opts?: EmbedOptions): Promise<Float32Array[]> {
    return this.cached(
      this.pooled,
      texts.map((t) => `${opts?.kind ?? ""}\0${t}`),
      texts,
      (x) => this.inner.embed(x, opts),
    );
  }
  embedTokens(texts: string[]): Promise<Float32Array[][]> {
    return this.cached(this.tokens, texts, texts, (x) => this.inner.embedTokens(x));
  }
}
