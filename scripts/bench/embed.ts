// Bench child: embedding throughput of the indexing pipeline (TransformersEmbedder.embed) against
// the same ONNX model run as a raw onnxruntime-node InferenceSession, side by side in one process.
//
//   raw        session.run only, on pre-tokenized int64 input_ids/attention_mask, in the very batches
//              the embedder makes (sorted by length, same batch size); intraOpNumThreads 2.
//   tokenizer  the transformers.js tokenizer call the pipeline makes per batch (padding, truncation).
//   fast tok.  the embedder's FastTokenizer (token ids only).
//   before     TransformersEmbedder with fast: false — the pipeline call, as shipped before this change.
//   after      TransformersEmbedder as it is now (direct route).
// Rounds interleave the variants (rotating their order) and the figures are medians over rounds.
import * as ort from "onnxruntime-node";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { FastTokenizer, TransformersEmbedder } from "../../src/embed/embedder.js";
import { argValue, log, MODEL_PATH, median, peakRss, round, SHIPPED_CORPUS, sample, THREADS, writeResult } from "./common.js";

const N = Number(argValue("--n") ?? 20000);
const ROUNDS = Number(argValue("--rounds") ?? 5);
const LARGE = argValue("--large");
const BATCH = 64;

type Extractor = ((texts: string[], opts: object) => Promise<unknown>) & {
  tokenizer: (texts: string[], opts: object) => { input_ids: { data: BigInt64Array; dims: number[] }; attention_mask: { data: BigInt64Array; dims: number[] } };
};

const after = await TransformersEmbedder.load({ threads: THREADS });
const before = await TransformersEmbedder.load({ threads: THREADS, fast: false });
if (!after.usesDirectRoute) throw new Error("the embedder did not take its direct route for the shipped model");
const extractor = (after as unknown as { extractor: Extractor }).extractor;
const fastTok = FastTokenizer.from(extractor.tokenizer)!;
const raw = await ort.InferenceSession.create(MODEL_PATH, { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionProviders: ["cpu"] });

/** The embedder's batches: texts sorted by length, BATCH at a time (as TransformersEmbedder.embed makes them). */
function batches(texts: string[], size = BATCH): string[][] {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
  const out: string[][] = [];
  for (let b = 0; b < order.length; b += size) out.push(order.slice(b, b + size).map((i) => texts[i]!.trim() || " "));
  return out;
}

async function measure(texts: string[], label: string, rounds = ROUNDS, size = BATCH) {
  const bs = batches(texts, size);
  // Pre-tokenized feeds for the raw session (built once, outside the timing).
  const feeds = bs.map((b) => {
    const enc = extractor.tokenizer(b, { padding: true, truncation: true });
    return {
      input_ids: new ort.Tensor("int64", enc.input_ids.data, enc.input_ids.dims),
      attention_mask: new ort.Tensor("int64", enc.attention_mask.data, enc.attention_mask.dims),
    };
  });
  const tokens = feeds.reduce((s, f) => s + f.input_ids.dims[1]! * f.input_ids.dims[0]!, 0);
  const afterSized = size === BATCH ? after : await TransformersEmbedder.load({ threads: THREADS, batchSize: size });
  const variants: Record<string, () => Promise<unknown>> = {
    raw: async () => {
      for (const f of feeds) await raw.run(f);
    },
    tokenizer: async () => {
      for (const b of bs) extractor.tokenizer(b, { padding: true, truncation: true });
    },
    fastTokenizer: async () => {
      for (const b of bs) for (const t of b) fastTok.encode(t);
    },
    before: () => before.embed(texts),
    after: () => afterSized.embed(texts),
  };
  const names = size === BATCH ? Object.keys(variants) : ["raw", "after"];
  // Warm-up: one pass of each.
  for (const n of names) await variants[n]!();
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const n of order) {
      const t = performance.now();
      await variants[n]!();
      times[n]!.push((performance.now() - t) / 1000);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(times[n]!)]));
  const perSec = (s: number) => texts.length / s;
  const out: Record<string, unknown> = {
    label,
    texts: texts.length,
    batchSize: size,
    batches: bs.length,
    paddedTokensPerText: round(tokens / texts.length, 1),
    rounds,
    seconds: Object.fromEntries(names.map((n) => [n, times[n]!.map((x) => round(x, 3))])),
    medianSeconds: Object.fromEntries(names.map((n) => [n, round(med[n]!, 3)])),
    throughput: Object.fromEntries(names.map((n) => [n, Math.round(perSec(med[n]!))])),
  };
  // Ratios per round, then their median (the variants ran back to back within each round).
  const ratio = (a: string, b: string | string[]) =>
    round(median(times[a]!.map((_, r) => [b].flat().reduce((s, x) => s + times[x]![r]!, 0) / times[a]![r]!)), 3);
  out.ratioAfterToRaw = ratio("after", "raw");
  if (size === BATCH) {
    Object.assign(out, {
      ratioAfterToRawPlusTokenizer: ratio("after", ["raw", "tokenizer"]),
      ratioAfterToRawPlusFastTokenizer: ratio("after", ["raw", "fastTokenizer"]),
      ratioBeforeToRaw: ratio("before", "raw"),
      speedupAfterOverBefore: ratio("after", "before"),
      // Where each route's time goes (medians, seconds): tokenizing, the model, everything else.
      breakdown: {
        before: { tokenizer: round(med.tokenizer!, 3), model: round(med.raw!, 3), rest: round(med.before! - med.tokenizer! - med.raw!, 3) },
        after: { tokenizer: round(med.fastTokenizer!, 3), model: round(med.raw!, 3), rest: round(med.after! - med.fastTokenizer! - med.raw!, 3) },
      },
    });
    // Same vectors? Compare the two routes bit for bit.
    const [a, b] = [await after.embed(texts), await before.embed(texts)];
    let differing = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++)
      for (let d = 0; d < a[i]!.length; d++) {
        if (!Object.is(a[i]![d], b[i]![d])) differing++;
        maxAbs = Math.max(maxAbs, Math.abs(a[i]![d]! - b[i]![d]!));
      }
    out.identicalVectors = { differingComponents: differing, maxAbsDifference: maxAbs };
  }
  log(
    `${label} (batch ${size}): raw ${out.throughput && (out.throughput as Record<string, number>).raw}/s, after ${(out.throughput as Record<string, number>).after}/s, ratio ${out.ratioAfterToRaw}`,
  );
  return out;
}

// The shipped corpus's sentences, replicated to N.
const shipped = (await loadCorpus(SHIPPED_CORPUS)).articles.flatMap(splitArticle).map((p) => p.text);
const shippedTexts = Array.from({ length: N }, (_, i) => shipped[i % shipped.length]!);
const results: Record<string, unknown> = { shippedSentences: shipped.length, threads: THREADS, batchSize: BATCH };
results.shipped = await measure(shippedTexts, `shipped corpus (${shipped.length} sentences) ×${Math.round(N / shipped.length)}`);

// A sample of a large corpus: whole random articles until N sentences.
if (LARGE) {
  const corpus = await loadCorpus(LARGE);
  const texts: string[] = [];
  for (const a of sample(corpus.articles, corpus.articles.length, 7)) {
    for (const p of splitArticle(a)) texts.push(p.text);
    if (texts.length >= N) break;
  }
  results.large = await measure(texts.slice(0, N), `large corpus sample (${LARGE.split("/").pop()})`);
}

// Batch size: the direct route and the raw session at the same batch sizes (fewer rounds).
results.batchSweep = [];
for (const size of [16, 32, 64, 128, 256, 512])
  (results.batchSweep as unknown[]).push(await measure(shippedTexts, `shipped ×${Math.round(N / shipped.length)}`, 3, size));

results.peakRssBytes = peakRss();
writeResult(results);
