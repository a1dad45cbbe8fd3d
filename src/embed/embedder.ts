// Embed stage: text → normalised Float32Array, through transformers.js's feature-extraction pipeline.
// The default model is the GloVe-SIF model built by scripts/build-model.ts and shipped in models/;
// EMBED_MODEL may name any Hugging Face feature-extraction model instead (downloaded and cached
// on machines that can reach the hub, or from EMBED_REMOTE_HOST).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { env, pipeline, type FeatureExtractionPipeline } from "@huggingface/transformers";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DEFAULT_MODEL = "glove-sif-100d";
export const LOCAL_MODELS_DIR = path.join(PROJECT_ROOT, "models");

export interface Embedder {
  /** Model id as recorded in the index manifest. */
  readonly modelId: string;
  readonly dimensions: number;
  /** One unit-length vector per text (a zero vector for text with no known word). */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Each text's token vectors before pooling (their length says how much a word weighs). */
  embedTokens(texts: string[]): Promise<Float32Array[][]>;
}

export interface EmbedderOptions {
  /** A folder name under models/, a path to a model folder, or a Hugging Face model id. */
  model?: string;
  /** Where downloaded models are cached (default data/models). */
  cacheDir?: string;
  /** Base URL of a model hub mirror (default: the library's, i.e. huggingface.co). */
  remoteHost?: string;
  /** Texts per model call. */
  batchSize?: number;
}

export class EmbedderError extends Error {}

export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly modelId: string,
    readonly dimensions: number,
    private readonly extractor: FeatureExtractionPipeline,
    private readonly batchSize: number,
  ) {}

  static async load(opts: EmbedderOptions = {}): Promise<TransformersEmbedder> {
    const model = opts.model || DEFAULT_MODEL;
    const { localDir, id } = resolveModel(model);
    env.allowLocalModels = true;
    env.localModelPath = localDir ?? LOCAL_MODELS_DIR + path.sep;
    // The shipped model never needs the network; a hub model does, unless it is cached already.
    env.allowRemoteModels = localDir === undefined;
    env.cacheDir = opts.cacheDir ?? path.join(PROJECT_ROOT, "data", "models");
    if (opts.remoteHost) env.remoteHost = opts.remoteHost.endsWith("/") ? opts.remoteHost : `${opts.remoteHost}/`;
    let extractor: FeatureExtractionPipeline;
    try {
      extractor = (await pipeline("feature-extraction", id, { dtype: "fp32" })) as FeatureExtractionPipeline;
    } catch (err) {
      throw new EmbedderError(
        `Could not load the embedding model "${model}": ${(err as Error).message.split("\n")[0]}` +
          (localDir === undefined ? " (a Hugging Face model needs network access the first time, or EMBED_REMOTE_HOST)." : ""),
      );
    }
    const probe = await extractor(["dimension probe"], { pooling: "mean", normalize: true });
    const dimensions = probe.dims[probe.dims.length - 1]!;
    return new TransformersEmbedder(model, dimensions, extractor, opts.batchSize ?? 64);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    // Sort by length so each batch pads to similar lengths, then restore the order.
    const order = texts.map((t, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
    for (let b = 0; b < order.length; b += this.batchSize) {
      const idx = order.slice(b, b + this.batchSize);
      const batch = idx.map((i) => texts[i]!.trim() || " ");
      const result = await this.extractor(batch, { pooling: "mean", normalize: true });
      const data = result.data as Float32Array;
      idx.forEach((i, k) => {
        const v = data.slice(k * this.dimensions, (k + 1) * this.dimensions);
        // Text with no known word pools to 0/0: make it the zero vector (similar to nothing).
        if (!Number.isFinite(v[0]!)) v.fill(0);
        out[i] = v;
      });
    }
    return out;
  }

  async embedTokens(texts: string[]): Promise<Float32Array[][]> {
    if (texts.length === 0) return [];
    const batch = texts.map((t) => t.trim() || " ");
    const encoded = this.extractor.tokenizer(batch, { padding: true, truncation: true });
    const mask = encoded.attention_mask.tolist() as Array<Array<number | bigint>>;
    const result = await this.extractor(batch, { pooling: "none", normalize: false });
    const [, seq, dim] = result.dims as [number, number, number];
    const data = result.data as Float32Array;
    return batch.map((_, b) => {
      const rows: Float32Array[] = [];
      for (let s = 0; s < seq; s++) if (Number(mask[b]![s]) === 1) rows.push(data.slice((b * seq + s) * dim, (b * seq + s + 1) * dim));
      return rows;
    });
  }
}

/** A shipped model folder (models/<name> or a path) is loaded offline; anything else is a hub id. */
function resolveModel(model: string): { localDir?: string; id: string } {
  const asPath = path.resolve(model);
  if (existsSync(path.join(asPath, "config.json"))) return { localDir: path.dirname(asPath) + path.sep, id: path.basename(asPath) };
  if (existsSync(path.join(LOCAL_MODELS_DIR, model, "config.json"))) return { localDir: LOCAL_MODELS_DIR + path.sep, id: model };
  return { id: model };
}
