// Embed stage: text → normalised Float32Array, through transformers.js's feature-extraction pipeline.
// Models shipped in models/ (all-MiniLM-L6-v2 exported by scripts/export-model.py, the GloVe-SIF
// model built by scripts/build-model.ts) load offline; EMBED_MODEL may name any Hugging Face
// feature-extraction model instead (downloaded and cached on machines that can reach the hub, or
// from EMBED_REMOTE_HOST). How a model pools, cuts and prefixes text comes from its citebot.json
// (see settings.ts); a model without one gets conservative defaults, and a log line says so.
//
// The pipeline loads the model and tokenizer. Embedding itself takes a faster route to the same
// numbers when it can (see FastTokenizer and TransformersEmbedder.run): the pipeline's own
// tokenizer pieces minus their per-call overheads, the ONNX session run directly, and pooling in
// one pass. `npm run bench` measures both routes against a raw onnxruntime session.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { availableParallelism, endianness } from "node:os";
import path from "node:path";
import { env, type FeatureExtractionPipeline, pipeline, Tensor } from "@huggingface/transformers";
import { DEFAULT_EMBED_MODEL } from "../config.js";
import { type Logger, rootLogger } from "../log.js";
import { PROJECT_ROOT } from "../paths.js";
import { Lexicon } from "./lexicon.js";
import { defaultSettings, type ModelSettings, ModelSettingsError, readModelSettings } from "./settings.js";
import { EmbedWorkers, type WorkerInit } from "./workers.js";

export { PROJECT_ROOT };
/** What `load` takes when no model is named: the configured default (EMBED_MODEL's). */
export const DEFAULT_MODEL = DEFAULT_EMBED_MODEL;
/** The word-vector model kept by name for huge corpora on small CPUs. */
export const LITE_MODEL = "glove-sif-100d";
export const LOCAL_MODELS_DIR = path.join(PROJECT_ROOT, "models");

export interface Embedder {
  /** Model id as recorded in the index manifest. */
  readonly modelId: string;
  readonly dimensions: number;
  /** One unit-length vector per text (a zero vector for text with no known word). */
  embed(texts: string[], opts?: EmbedOptions): Promise<Float32Array[]>;
  /** Each text's token vectors before pooling (their length says how much a word weighs). */
  embedTokens(texts: string[]): Promise<Float32Array[][]>;
  /**
   * For late interaction (MaxSim): each text's token vectors (last_hidden_state rows of its real
   * tokens: no special tokens, padding or prefix), each L2-normalised; rows that are all zero
   * (words a word-level model does not know) are left out.
   */
  tokenVectors?(texts: string[], opts?: EmbedOptions): Promise<Float32Array[][]>;
  /** The model's settings (its citebot.json, or the defaults), including other stages' fields in `extra`. */
  readonly settings?: ModelSettings;
  /**
   * A short fingerprint of a local model's weights file and vector settings: a re-exported model
   * under the same name gets new vectors, so the index must not reuse the old ones.
   */
  readonly weights?: string;
  /** The local model folder (where citebot.json lives), or undefined for a hub model. */
  readonly modelDir?: string;
  /** The word model's vocabulary and names, when it has them (the shipped model does). */
  readonly lexicon?: Lexicon;
}

export interface EmbedOptions {
  /** What the texts are: the model's query or passage prefix is put before each (none when unset). */
  kind?: "query" | "passage";
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
  /** onnxruntime intra-op threads (default: onnxruntime's, one per core). */
  threads?: number;
  /**
   * Take the direct route (own token ids, session run directly, one-pass pooling) when the model
   * allows it; false always goes through the transformers.js pipeline call. Same vectors either way.
   */
  fast?: boolean;
  /** Where the start-up notes go (default: the app's logger). */
  logger?: Logger;
  /**
   * Worker threads for large embed calls (indexing), each with its own session of one onnxruntime
   * thread; started on first use. Default: one per core when there are two or more; 0 or 1: none.
   */
  workers?: number;
}

/** Calls of at least this many batches go to the worker threads (fewer: not worth the hand-over). */
const MIN_BATCHES_FOR_WORKERS = 4;

export class EmbedderError extends Error {}

/** The ONNX session as transformers.js holds it (onnxruntime-node's InferenceSession). */
interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}

const LITTLE_ENDIAN = endianness() === "LE";

/** Models whose defaults were already announced (once per model and process). */
const announcedDefaults = new Set<string>();

interface DirectRoute {
  tokenizer: FastTokenizer;
  session: OrtSession;
  output: string;
}

export class TransformersEmbedder implements Embedder {
  /** Ids of the tokenizer's special tokens ([CLS], [SEP], [PAD], [UNK], …): never token vectors. */
  private readonly specialIds: Set<number>;

  private constructor(
    readonly modelId: string,
    readonly dimensions: number,
    private readonly extractor: FeatureExtractionPipeline,
    private readonly batchSize: number,
    readonly settings: ModelSettings,
    readonly modelDir: string | undefined,
    /** Set when the direct route is available (see `load`). */
    private readonly direct: DirectRoute | undefined,
    readonly lexicon: Lexicon | undefined,
    private readonly logger: Logger,
    private readonly workers: { wanted: number; init: WorkerInit; pool?: Promise<EmbedWorkers | undefined> },
  ) {
    const tok = extractor.tokenizer as unknown as { all_special_ids?: number[] };
    this.specialIds = new Set(tok.all_special_ids ?? []);
    this.weights = modelDir === undefined ? undefined : weightsFingerprint(path.join(modelDir, settings.file), settings);
  }

  readonly weights: string | undefined;

  static async load(opts: EmbedderOptions = {}): Promise<TransformersEmbedder> {
    const model = opts.model || DEFAULT_MODEL;
    const logger = opts.logger ?? rootLogger();
    const { localDir, id } = resolveModel(model);
    const modelDir = localDir === undefined ? undefined : path.join(localDir, id);
    let settings: ModelSettings;
    try {
      settings = (modelDir !== undefined ? readModelSettings(modelDir) : undefined) ?? defaultSettings();
    } catch (err) {
      if (err instanceof ModelSettingsError) throw new EmbedderError(`Could not load the embedding model "${model}": ${err.message}`);
      throw err;
    }
    env.allowLocalModels = true;
    env.localModelPath = localDir ?? LOCAL_MODELS_DIR + path.sep;
    // The shipped model never needs the network; a hub model does, unless it is cached already.
    env.allowRemoteModels = localDir === undefined;
    env.cacheDir = opts.cacheDir ?? path.join(PROJECT_ROOT, "data", "models");
    if (opts.remoteHost) env.remoteHost = opts.remoteHost.endsWith("/") ? opts.remoteHost : `${opts.remoteHost}/`;
    let extractor: FeatureExtractionPipeline;
    try {
      extractor = (await pipeline("feature-extraction", id, {
        dtype: settings.dtype,
        ...(opts.threads ? { session_options: { intraOpNumThreads: opts.threads } } : {}),
      })) as FeatureExtractionPipeline;
    } catch (err) {
      throw new EmbedderError(
        `Could not load the embedding model "${model}": ${(err as Error).message.split("\n")[0]}` +
          (localDir === undefined ? " (a Hugging Face model needs network access the first time, or EMBED_REMOTE_HOST)." : ""),
      );
    }
    // Inputs are cut at the model's max tokens (the tokenizer's own limit when the defaults apply).
    // (model_max_length is a getter over the tokenizer's config.)
    const tok = extractor.tokenizer as unknown as { model_max_length?: number; _tokenizerConfig: { model_max_length?: number } };
    if (!settings.fromFile) settings = { ...settings, maxTokens: Math.min(settings.maxTokens, tok.model_max_length ?? Infinity) };
    tok._tokenizerConfig.model_max_length = settings.maxTokens;
    if (tok.model_max_length !== settings.maxTokens)
      throw new EmbedderError(`Could not set the maximum input length of "${model}" (this version of transformers.js differs)`);
    if (!settings.fromFile && !announcedDefaults.has(model)) {
      announcedDefaults.add(model);
      logger.warn(
        { model, pooling: settings.pooling, normalize: settings.normalize, maxTokens: settings.maxTokens, dtype: settings.dtype },
        `Embedding model "${model}" has no citebot.json: using conservative defaults (mean pooling, unit vectors, no prefixes, ` +
          `${settings.file}, at most ${settings.maxTokens} tokens). Export it with scripts/export-model.py to give it its own settings.`,
      );
    }
    const probe = await extractor(["dimension probe"], { pooling: "none", normalize: false });
    const dimensions = probe.dims[probe.dims.length - 1]!;
    const batchSize = opts.batchSize ?? 64;
    const direct = opts.fast === false ? undefined : directRoute(extractor);
    const lexicon = modelDir === undefined ? undefined : Lexicon.load(modelDir, direct?.tokenizer.vocabulary());
    const workers = {
      wanted: opts.workers ?? (availableParallelism() >= 2 ? availableParallelism() : 0),
      init: { model, cacheDir: opts.cacheDir, remoteHost: opts.remoteHost, batchSize, fast: opts.fast !== false },
    };
    const make = (route?: DirectRoute) =>
      new TransformersEmbedder(model, dimensions, extractor, batchSize, settings, modelDir, route, lexicon, logger, workers);
    const embedder = make(direct);
    // The direct route must give the pipeline's vectors exactly; if a model differs, use the pipeline.
    if (direct && !(await embedder.agreesWithPipeline())) {
      logger.debug({ model }, "embedding takes the pipeline route (the direct route differs for this model)");
      return make(undefined);
    }
    return embedder;
  }

  /** Whether embedding takes the direct route (false: the transformers.js pipeline call). */
  get usesDirectRoute(): boolean {
    return this.direct !== undefined;
  }

  async embed(texts: string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const local = (batch: string[]) => (this.direct ? this.pooledDirect(batch) : this.pooledPipeline(batch));
    // Indexing-sized calls go to the worker threads (when they can run here).
    const batches = Math.ceil(texts.length / this.batchSize);
    const workers = batches >= MIN_BATCHES_FOR_WORKERS ? await this.workerPool() : undefined;
    if (!workers) return this.batched(texts, opts, local);
    return this.batched(texts, opts, local, (all) => workers.embedBatches(all));
  }

  /** Stops the embedding worker threads, if any started (idle ones never keep the process alive). */
  async close(): Promise<void> {
    const pool = await this.workers.pool;
    this.workers.pool = Promise.resolve(undefined);
    this.workers.wanted = 0;
    await pool?.close();
  }

  /** The worker threads, started on first use; undefined when off or when they cannot start (then embedding stays here). */
  private workerPool(): Promise<EmbedWorkers | undefined> {
    const w = this.workers;
    if (w.wanted < 2) return Promise.resolve(undefined);
    w.pool ??= EmbedWorkers.start(w.wanted, w.init).then((started) => {
      if (started instanceof EmbedWorkers) return started;
      this.logger.debug({ model: this.modelId, reason: started.reason }, "embedding stays in-process (no worker threads)");
      w.wanted = 0;
      return undefined;
    });
    return w.pool;
  }

  async tokenVectors(texts: string[], opts: EmbedOptions = {}): Promise<Float32Array[][]> {
    const prefix = this.prefix(opts.kind);
    // The prefix's own tokens are not the text's: skip that many real tokens at the start.
    const skip = prefix ? this.contentIds(prefix).length : 0;
    return this.batched(texts, opts, async (batch) => {
      const { ids, data, seq } = this.direct ? await this.run(batch) : await this.runPipeline(batch);
      const dim = this.dimensions;
      return ids.map((own, b) => {
        const rows: Float32Array[] = [];
        let seen = 0;
        own.forEach((id, s) => {
          if (this.specialIds.has(id) || seen++ < skip) return;
          const v = data.slice((b * seq + s) * dim, (b * seq + s + 1) * dim);
          let sq = 0;
          for (let k = 0; k < dim; k++) sq += v[k]! * v[k]!;
          if (sq === 0) return;
          const n = Math.sqrt(sq);
          for (let k = 0; k < dim; k++) v[k] = v[k]! / n;
          rows.push(v);
        });
        return rows;
      });
    });
  }

  /** The prefix the model wants before this kind of text ("" when none). */
  private prefix(kind: EmbedOptions["kind"]): string {
    return kind === "query" ? this.settings.queryPrefix : kind === "passage" ? this.settings.passagePrefix : "";
  }

  /** Token ids of text without special tokens. */
  private contentIds(text: string): number[] {
    const tok = this.extractor.tokenizer as unknown as { _tokenizer: { encode(t: string, o: object): { ids: number[] } } };
    return tok._tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Texts (prefixed) in batches sorted by length, so each batch pads to similar lengths; results in the texts' order. */
  private async batched<T>(
    texts: string[],
    opts: EmbedOptions,
    each: (batch: string[]) => Promise<T[]>,
    all?: (batches: string[][]) => Promise<T[][]>,
  ): Promise<T[]> {
    const out: T[] = new Array(texts.length);
    const prefix = this.prefix(opts.kind);
    const order = texts.map((_t, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
    const plan: Array<{ idx: number[]; batch: string[] }> = [];
    for (let b = 0; b < order.length; b += this.batchSize) {
      const idx = order.slice(b, b + this.batchSize);
      plan.push({ idx, batch: idx.map((i) => prefix + (texts[i]!.trim() || " ")) });
    }
    const place = ({ idx }: { idx: number[] }, results: T[]) => idx.forEach((i, k) => (out[i] = results[k]!));
    if (all) (await all(plan.map((p) => p.batch))).forEach((results, k) => place(plan[k]!, results));
    else for (const p of plan) place(p, await each(p.batch));
    return out;
  }

  async embedTokens(texts: string[]): Promise<Float32Array[][]> {
    if (texts.length === 0) return [];
    const batch = texts.map((t) => t.trim() || " ");
    if (this.direct) {
      const { ids, data, seq } = await this.run(batch);
      const dim = this.dimensions;
      return ids.map((own, b) => Array.from({ length: own.length }, (_, s) => data.slice((b * seq + s) * dim, (b * seq + s + 1) * dim)));
    }
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

  /** One batch through the transformers.js pipeline call (tokenizer, model, pooling, normalisation). */
  private async pooledPipeline(batch: string[]): Promise<Float32Array[]> {
    const result = await this.extractor(batch, { pooling: this.settings.pooling, normalize: this.settings.normalize });
    const data = result.data as Float32Array;
    return batch.map((_, k) => {
      const v = data.slice(k * this.dimensions, (k + 1) * this.dimensions);
      // Text with no known word pools to 0/0: make it the zero vector (similar to nothing).
      if (!Number.isFinite(v[0]!)) v.fill(0);
      return v;
    });
  }

  /**
   * The same batch by the direct route. The arithmetic repeats the pipeline's mean_pooling and
   * normalize step for step (float64 sums stored as float32, the norm accumulated in float32, x ** (1/2)),
   * so the vectors are bit-identical; padded positions are skipped instead of multiplied by 0.
   */
  private async pooledDirect(batch: string[]): Promise<Float32Array[]> {
    const dim = this.dimensions;
    const { ids, data, seq } = await this.run(batch);
    const sums = new Float64Array(dim);
    const { pooling, normalize } = this.settings;
    return ids.map((own, b) => {
      const v = new Float32Array(dim);
      // No token at all: the zero vector.
      if (own.length === 0) return v;
      if (pooling === "cls") v.set(data.subarray(b * seq * dim, b * seq * dim + dim));
      else meanPool(data, b * seq * dim, own.length, dim, sums, v);
      if (normalize) normalizeLikePipeline(v);
      else if (!Number.isFinite(v[0]!)) v.fill(0);
      return v;
    });
  }

  /** The pipeline's tokenizer and model on a batch, as `run` gives them (for token vectors when the direct route is off). */
  private async runPipeline(batch: string[]): Promise<{ ids: number[][]; data: Float32Array; seq: number }> {
    const encoded = this.extractor.tokenizer(batch, { padding: true, truncation: true });
    const mask = encoded.attention_mask.tolist() as Array<Array<number | bigint>>;
    const allIds = encoded.input_ids.tolist() as Array<Array<number | bigint>>;
    const result = await this.extractor(batch, { pooling: "none", normalize: false });
    const seq = result.dims[1]!;
    const ids = allIds.map((row, b) => row.filter((_, s) => Number(mask[b]![s]) === 1).map(Number));
    return { ids, data: result.data as Float32Array, seq };
  }

  /** Token ids of each text, and the model's token vectors for the batch ([batch, seq, dim], right-padded). */
  private async run(batch: string[]): Promise<{ ids: number[][]; data: Float32Array; seq: number }> {
    const { tokenizer, session, output } = this.direct!;
    const ids = batch.map((t) => tokenizer.encode(t));
    const seq = Math.max(0, ...ids.map((x) => x.length));
    // Nothing to look up (no known token anywhere in the batch): no model call needed.
    if (seq === 0) return { ids, data: new Float32Array(0), seq };
    const B = batch.length;
    const inputIds = new BigInt64Array(B * seq);
    const mask = new BigInt64Array(B * seq);
    if (LITTLE_ENDIAN) {
      // Write the low 32 bits through an Int32 view: no BigInt per token.
      const idView = new Int32Array(inputIds.buffer);
      const maskView = new Int32Array(mask.buffer);
      ids.forEach((own, b) => {
        for (let s = 0; s < own.length; s++) {
          idView[2 * (b * seq + s)] = own[s]!;
          maskView[2 * (b * seq + s)] = 1;
        }
      });
    } else {
      ids.forEach((own, b) => own.forEach((id, s) => ((inputIds[b * seq + s] = BigInt(id)), (mask[b * seq + s] = 1n))));
    }
    if (tokenizer.padId !== 0) for (let i = 0; i < inputIds.length; i++) if (mask[i] === 0n) inputIds[i] = BigInt(tokenizer.padId);
    const feeds: Record<string, unknown> = {};
    for (const name of session.inputNames) {
      const data = name === "input_ids" ? inputIds : name === "attention_mask" ? mask : new BigInt64Array(B * seq);
      feeds[name] = new Tensor("int64", data, [B, seq]).ort_tensor;
    }
    const result = await session.run(feeds);
    return { ids, data: result[output]!.data as Float32Array, seq };
  }

  /** Checks the direct route against the pipeline on texts that exercise the tokenizer's rules. */
  private async agreesWithPipeline(): Promise<boolean> {
    const direct = await this.pooledDirect(SELF_CHECK);
    const viaPipeline = await this.pooledPipeline(SELF_CHECK);
    const tokensOk = SELF_CHECK.every((t) => {
      const expected = this.extractor.tokenizer(t, { truncation: true }).input_ids.tolist() as Array<Array<number | bigint>>;
      const got = this.direct!.tokenizer.encode(t);
      return expected[0]!.length === got.length && expected[0]!.every((x, i) => Number(x) === got[i]);
    });
    return tokensOk && direct.every((v, i) => v.every((x, k) => Object.is(x, viaPipeline[i]![k])));
  }
}

/**
 * Mean of n token rows starting at `base` into `v` (float32), with the pipeline's arithmetic:
 * the sum in float64 (row by row, in order) divided by n and stored as float32.
 */
function meanPool(data: Float32Array, base: number, n: number, dim: number, sums: Float64Array, v: Float32Array): void {
  for (let k = 0; k < dim; k++) sums[k] = 0;
  for (let s = 0, o = base; s < n; s++, o += dim) for (let k = 0; k < dim; k++) sums[k]! += data[o + k]!;
  for (let k = 0; k < dim; k++) v[k] = sums[k]! / n;
}

/**
 * L2-normalises `v` in place with the pipeline's arithmetic: the squared norm accumulated in
 * float32, x ** (1/2), each component divided by it. Text whose tokens are all unknown (zero rows)
 * gives 0/0: the zero vector instead (as before).
 */
function normalizeLikePipeline(v: Float32Array): void {
  let acc = 0;
  for (let k = 0; k < v.length; k++) acc = Math.fround(acc + v[k]! ** 2);
  const norm = Math.fround(acc ** (1 / 2));
  for (let k = 0; k < v.length; k++) v[k] = v[k]! / norm;
  if (!Number.isFinite(v[0]!)) v.fill(0);
}

/** Texts for the load-time check of the direct route (rules of the shipped tokenizer and edge cases). */
const SELF_CHECK = [
  "Russia and the U.S. can't agree; they won't, they'd said — it's the U.K.'s and the E.U.'s call.",
  "Anti-Russian sanctions: “We’re ready,” Mr. Antonov said at the U.N. on 15 June 2021.",
  "ÉLYSÉE ﬁnance ＡＢＣ naïve café 2nd 3½ x²",
  "[UNK] and [PAD] are special tokens",
  "!!!",
  " ",
  "supercalifragilisticexpialidocious-ness well-known ex-president",
];

/**
 * Token ids the way the pipeline's tokenizer computes them, from its own parts (normalizers,
 * pre-tokenizer, WordPiece vocabulary), minus the costs that do not change the result:
 * a Replace normalizer whose pattern needs a literal the text lacks is skipped (the library's
 * Unicode-aware `\b` makes each such regex scan slowly), a whole word in the vocabulary is looked
 * up directly, and nothing is converted to BigInt or padded per text. Special tokens a
 * post-processor puts around one text ([CLS] … [SEP] for BERT) are added here too; long text is cut
 * before them, so the closing one stays (as sentence-transformers does). Anything unusual (added
 * tokens in the text, pair templates, other models) is left to the library.
 */
export class FastTokenizer {
  private readonly pieces = new Map<string, number[]>();

  private constructor(
    /** The library's Tokenizer (tokenizers.js). */
    private readonly inner: LibTokenizer,
    private readonly normalize: (text: string) => string,
    private readonly addedContents: string[],
    private readonly maxLength: number,
    readonly padId: number,
    /** Special token ids before and after the text's own (none without a post-processor). */
    private readonly around: { prefix: number[]; suffix: number[] },
  ) {}

  /** A fast tokenizer for the pipeline's tokenizer, or undefined when its setup is not one this handles. */
  static from(pretrained: unknown): FastTokenizer | undefined {
    const pt = pretrained as { _tokenizer?: LibTokenizer; model_max_length?: number; pad_token_id?: number };
    const inner = pt._tokenizer;
    if (!inner || inner.remove_space || inner.do_lowercase_and_remove_accent) return undefined;
    const model = inner.model;
    // Words are looked up one by one, so unknown tokens must not be fused across words.
    if (model?.config?.type !== "WordPiece" || model.fuse_unk || !(model.tokens_to_ids instanceof Map) || typeof inner.encode !== "function") return undefined;
    if (!(inner.added_tokens_map instanceof Map)) return undefined;
    const around = specialTokensAround(inner);
    if (!around) return undefined;
    let normalize: (text: string) => string;
    const norm = inner.normalizer;
    if (!norm) normalize = (t) => t;
    else if (Array.isArray(norm.normalizers) && norm.config?.type === "Sequence") {
      const steps = norm.normalizers.filter((n): n is LibNormalizer => !!n).map(quickRejecting);
      normalize = (t) => {
        for (const step of steps) t = step(t);
        return t;
      };
    } else normalize = (t) => norm.normalize(t);
    const maxLength = pt.model_max_length ?? Infinity;
    if (maxLength <= around.prefix.length + around.suffix.length) return undefined;
    return new FastTokenizer(inner, normalize, [...inner.added_tokens_map.keys()], maxLength, pt.pad_token_id ?? 0, around);
  }

  /** Every token the model knows. */
  vocabulary(): Iterable<string> {
    return this.inner.model.tokens_to_ids.keys();
  }

  /** How many special tokens come before a text's own tokens (e.g. 1 for BERT's [CLS]). */
  get leadingSpecials(): number {
    return this.around.prefix.length;
  }

  /**
   * The text's token ids with the model's special tokens around them, at most the model's
   * maximum length: the text's own tokens are cut so that the closing special tokens stay.
   */
  encode(text: string): number[] {
    const { prefix, suffix } = this.around;
    const room = this.maxLength - prefix.length - suffix.length;
    const own = this.encodeOwn(text);
    if (prefix.length === 0 && suffix.length === 0) return own.length > room ? own.slice(0, room) : own;
    return [...prefix, ...(own.length > room ? own.slice(0, room) : own), ...suffix];
  }

  /** The text's own token ids (no special tokens around them, not truncated). */
  private encodeOwn(text: string): number[] {
    const inner = this.inner;
    let ids: number[];
    if (this.addedContents.some((c) => text.includes(c))) ids = inner.encode(text, { add_special_tokens: false }).ids;
    else {
      const normalized = this.normalize(text);
      if (this.addedContents.some((c) => normalized.includes(c))) ids = inner.encode(text, { add_special_tokens: false }).ids;
      else {
        ids = [];
        if (normalized.length > 0) {
          const words = this.preTokenize(normalized);
          const vocab = inner.model.tokens_to_ids;
          const maxChars = inner.model.max_input_chars_per_word ?? 100;
          for (const w of words) {
            const id = w.length <= maxChars ? vocab.get(w) : undefined;
            if (id !== undefined) ids.push(id);
            else for (const x of this.wordPieces(w)) ids.push(x);
          }
        }
      }
    }
    return ids;
  }

  /** Words of normalized text (a Split pre-tokenizer's own step, without the wrapper that flattens its result). */
  private preTokenize(text: string): string[] {
    const pre = this.inner.pre_tokenizer;
    if (!pre) return [text];
    if (pre.config?.type === "Split" && pre.pre_tokenize_text) return pre.pre_tokenize_text(text, { section_index: 0 });
    return pre(text, { section_index: 0 });
  }

  /** Ids of a word that is not in the vocabulary as a whole (WordPiece pieces or unknown), cached: the search is quadratic. */
  private wordPieces(word: string): number[] {
    let ids = this.pieces.get(word);
    if (!ids) {
      const { model, added_tokens_map } = this.inner;
      ids = model([word]).map((t) => added_tokens_map.get(t)?.id ?? model.tokens_to_ids.get(t) ?? model.unk_token_id);
      if (this.pieces.size >= 100_000) this.pieces.clear();
      this.pieces.set(word, ids);
    }
    return ids;
  }
}

/** The parts of tokenizers.js's Tokenizer the fast route uses. */
interface LibNormalizer {
  config?: { type?: string; pattern?: { Regex?: string; String?: string }; content?: string };
  /** A Replace normalizer's compiled pattern. */
  pattern?: unknown;
  normalizers?: Array<LibNormalizer | null>;
  normalize(text: string): string;
}
interface LibTokenizer {
  normalizer: LibNormalizer | null;
  pre_tokenizer:
    | (((text: string, opts: { section_index: number }) => string[]) & {
        config?: { type?: string };
        pre_tokenize_text?: (text: string, opts: { section_index: number }) => string[];
      })
    | null;
  model: ((tokens: string[]) => string[]) & {
    config?: { type?: string };
    tokens_to_ids: Map<string, number>;
    unk_token_id: number;
    max_input_chars_per_word?: number;
    fuse_unk?: boolean;
  };
  added_tokens_map: Map<string, { id: number }>;
  post_processor: { config?: PostProcessorConfig } | null;
  remove_space?: boolean;
  do_lowercase_and_remove_accent?: boolean;
  encode(text: string, opts?: { add_special_tokens?: boolean }): { ids: number[] };
}

/** A post-processor's config, in tokenizer.json's form (the kinds that wrap one text in special tokens). */
interface PostProcessorConfig {
  type?: string;
  single?: Array<{ SpecialToken?: { id: string; type_id: number }; Sequence?: { id: string; type_id: number } }>;
  cls?: [string, number];
  sep?: [string, number];
}

/**
 * The special token ids a tokenizer's post-processor puts before and after one text (none without
 * one), looked up as the library does; undefined for a post-processor this does not follow (then
 * the library tokenizes). Every token of a single text must have type id 0 (the direct route feeds zeros).
 */
function specialTokensAround(inner: LibTokenizer): { prefix: number[]; suffix: number[] } | undefined {
  const pp = inner.post_processor;
  if (!pp) return { prefix: [], suffix: [] };
  const idOf = (token: string) => inner.added_tokens_map.get(token)?.id ?? inner.model.tokens_to_ids.get(token) ?? inner.model.unk_token_id;
  const cfg = pp.config;
  if ((cfg?.type === "BertProcessing" || cfg?.type === "RobertaProcessing") && cfg.cls && cfg.sep) {
    return { prefix: [idOf(cfg.cls[0])], suffix: [idOf(cfg.sep[0])] };
  }
  if (cfg?.type !== "TemplateProcessing" || !Array.isArray(cfg.single)) return undefined;
  const prefix: number[] = [];
  const suffix: number[] = [];
  let seenText = false;
  for (const item of cfg.single) {
    if (item.Sequence) {
      if (seenText || item.Sequence.id !== "A" || item.Sequence.type_id !== 0) return undefined;
      seenText = true;
    } else if (item.SpecialToken) {
      if (item.SpecialToken.type_id !== 0) return undefined;
      (seenText ? suffix : prefix).push(idOf(item.SpecialToken.id));
    } else return undefined;
  }
  return seenText ? { prefix, suffix } : undefined;
}

/**
 * A normalizer step. A Replace whose pattern cannot match text lacking some literal skips such
 * text; when every match starts with that literal, the library's regex is run behind a lookahead
 * for it, so the costly part (the Unicode-aware `\b`) is tried only where the literal stands.
 */
function quickRejecting(n: LibNormalizer): (text: string) => string {
  const pattern = n.config?.type === "Replace" ? n.config.pattern : undefined;
  if (pattern?.String !== undefined) {
    const literal = pattern.String;
    return literal ? (t) => (t.includes(literal) ? n.normalize(t) : t) : (t) => n.normalize(t);
  }
  const found = pattern?.Regex !== undefined ? requiredLiteral(pattern.Regex) : undefined;
  if (!found) return (t) => n.normalize(t);
  const { literal, prefix } = found;
  const compiled = n.pattern;
  const content = n.config?.content;
  if (prefix && compiled instanceof RegExp && compiled.global && typeof content === "string") {
    const guarded = new RegExp(`(?=${literal.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")})(?:${compiled.source})`, compiled.flags);
    return (t) => (t.includes(literal) ? t.replaceAll(guarded, content) : t);
  }
  return (t) => (t.includes(literal) ? n.normalize(t) : t);
}

/**
 * The longest run of literal characters that every match of a (Rust-syntax) regex contains, or
 * undefined when that cannot be told simply. Conservative: alternation at the top level, inline
 * flags and unknown escapes give up; groups, classes and quantified characters end a run.
 */
export function requiredLiteral(src: string): { literal: string; prefix: boolean } | undefined {
  let best = "";
  let run = "";
  /** Whether `run` started at the beginning of the pattern (only zero-width assertions before it). */
  let runAtStart = true;
  let bestAtStart = false;
  const flush = () => {
    if (run.length > best.length) [best, bestAtStart] = [run, runAtStart];
    run = "";
    runAtStart = false;
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    let literal: string | undefined;
    let next = i + 1;
    if (c === "\\") {
      const e = src[i + 1];
      if (e === undefined) return undefined;
      if ("bBAzZ".includes(e)) {
        i += 2; // zero-width: the run continues
        continue;
      }
      if (!/[.\\\-'"`[\]{}()*+?|^$/#&~ ]/.test(e)) return undefined;
      literal = e;
      next = i + 2;
    } else if (c === "(") {
      if (src[i + 1] === "?" && !":=!<".includes(src[i + 2] ?? "")) return undefined; // inline flags
      let depth = 0;
      let j = i;
      for (; j < src.length; j++) {
        const d = src[j]!;
        if (d === "\\") j++;
        else if (d === "[") j = classEnd(src, j);
        else if (d === "(") depth++;
        else if (d === ")" && --depth === 0) break;
      }
      if (j >= src.length) return undefined;
      flush();
      next = j + 1;
    } else if (c === "[") {
      const j = classEnd(src, i);
      if (j >= src.length) return undefined;
      flush();
      next = j + 1;
    } else if (c === "|" || c === ")") return undefined;
    else if (c === ".") {
      flush();
    } else if (c === "^" || c === "$") {
      i++;
      continue;
    } else if ("*+?{".includes(c))
      return undefined; // a quantifier with nothing before it
    else literal = c;
    // A quantifier applies to the atom just read: a quantified character is not required.
    const q = src[next];
    if (q !== undefined && "*+?{".includes(q)) {
      if (q === "{") {
        const close = src.indexOf("}", next);
        if (close < 0) return undefined;
        next = close + 1;
      } else next++;
      if (src[next] === "?" || src[next] === "+") next++; // lazy / possessive
      flush();
    } else if (literal !== undefined) run += literal;
    else flush();
    i = next;
  }
  flush();
  return best ? { literal: best, prefix: bestAtStart } : undefined;
}

/** Index of the `]` closing the character class that opens at `start`. */
function classEnd(src: string, start: number): number {
  let j = start + 1;
  if (src[j] === "^") j++;
  if (src[j] === "]") j++;
  for (; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === "[") j = classEnd(src, j);
    else if (src[j] === "]") return j;
  }
  return src.length;
}

/** The direct route for a loaded pipeline, when its tokenizer and model allow one. */
function directRoute(extractor: FeatureExtractionPipeline): DirectRoute | undefined {
  const tokenizer = FastTokenizer.from(extractor.tokenizer);
  const session = (extractor.model as unknown as { sessions?: Record<string, OrtSession> }).sessions?.model;
  if (!tokenizer || !session || typeof session.run !== "function") return undefined;
  if (!session.inputNames.every((n) => ["input_ids", "attention_mask", "token_type_ids"].includes(n))) return undefined;
  // The pipeline reads the first of these outputs.
  const output = ["last_hidden_state", "logits", "token_embeddings"].find((n) => session.outputNames.includes(n));
  return output ? { tokenizer, session, output } : undefined;
}

/** A shipped model folder (models/<name> or a path) is loaded offline; anything else is a hub id. */
function resolveModel(model: string): { localDir?: string; id: string } {
  const asPath = path.resolve(model);
  if (existsSync(path.join(asPath, "config.json"))) return { localDir: path.dirname(asPath) + path.sep, id: path.basename(asPath) };
  if (existsSync(path.join(LOCAL_MODELS_DIR, model, "config.json"))) return { localDir: LOCAL_MODELS_DIR + path.sep, id: model };
  return { id: model };
}

/** Size plus the first and last 64 KB of the weights file, and the settings that shape vectors: cheap, and enough to tell two exports apart. */
function weightsFingerprint(file: string, settings: ModelSettings): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    const chunk = Math.min(65536, size);
    const head = Buffer.alloc(chunk);
    const tail = Buffer.alloc(chunk);
    readSync(fd, head, 0, chunk, 0);
    readSync(fd, tail, 0, chunk, size - chunk);
    const { pooling, normalize, maxTokens, queryPrefix, passagePrefix, dtype } = settings;
    return createHash("sha256")
      .update(JSON.stringify([size, pooling, normalize, maxTokens, queryPrefix, passagePrefix, dtype]))
      .update(head)
      .update(tail)
      .digest("hex")
      .slice(0, 12);
  } catch {
    return undefined; // a hub model resolved elsewhere: its id is all we have
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
