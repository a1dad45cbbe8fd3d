// Embed stage: the shipped models through transformers.js, offline (the GloVe-SIF model, and the
// committed int8 all-MiniLM-L6-v2 checked against PyTorch reference vectors); each model's
// citebot.json; and a hub-style model fetched from a local HTTP mirror (127.0.0.1 only) and cached.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { env } from "@huggingface/transformers";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL, EmbedderError, LITE_MODEL, LOCAL_MODELS_DIR, TransformersEmbedder } from "../src/embed/embedder.js";
import { ModelSettingsError, parseModelSettings } from "../src/embed/settings.js";
import type { Logger } from "../src/log.js";
import { cleanupTmp, cosine, FIXTURES, mkTmp, norm } from "./helpers.js";

/** A logger that keeps its records (to check what the embedder says at start-up). */
function recordingLogger(): { logger: Logger; records: Array<{ level: number; msg: string; [k: string]: unknown }> } {
  const records: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void records.push(JSON.parse(line)) }) as unknown as Logger;
  return { logger, records };
}

/** A model folder in a temp dir: the files of `from` linked, citebot.json replaced (or left out when null). */
function modelCopy(from: string, settings: Record<string, unknown> | null, name = "model-copy"): string {
  const dir = path.join(mkTmp("citebot-model-"), name);
  fs.mkdirSync(path.join(dir, "onnx"), { recursive: true });
  for (const f of fs.readdirSync(from, { recursive: true, withFileTypes: true })) {
    if (!f.isFile() || f.name === "citebot.json") continue;
    const rel = path.relative(from, path.join(f.parentPath, f.name));
    fs.symlinkSync(path.join(from, rel), path.join(dir, rel));
  }
  if (settings) fs.writeFileSync(path.join(dir, "citebot.json"), JSON.stringify(settings));
  return dir;
}

const MODEL_DIR = path.join(LOCAL_MODELS_DIR, LITE_MODEL);
const SAMPLES = [
  "The city council approved the budget on Tuesday.",
  "Councillors voted to pass the city's spending plan.",
  "The striker scored twice in the football match.",
  "Russia and the United States will hold talks on strategic stability in Geneva.",
  "Peace.",
  "A much longer sentence about the weather, which was cold and wet for most of the week, with snow expected in the hills by Friday evening.",
];

let embedder: TransformersEmbedder;
const fetchCalls: string[] = [];
const realFetch = env.fetch;

beforeAll(async () => {
  // Any network access during the offline load would go through env.fetch: record it.
  env.fetch = ((url: string | URL | Request, init?: RequestInit) => {
    fetchCalls.push(String(url));
    return realFetch(url as string, init);
  }) as typeof env.fetch;
  embedder = await TransformersEmbedder.load({ model: LITE_MODEL, cacheDir: mkTmp("citebot-cache-") });
});

afterAll(() => {
  env.fetch = realFetch;
  cleanupTmp();
});

describe("the lite word-vector model, offline", () => {
  it("loads from models/ with remote models disabled and no fetch at all", async () => {
    expect(embedder.modelId).toBe(LITE_MODEL);
    expect(env.allowRemoteModels).toBe(false);
    expect(env.allowLocalModels).toBe(true);
    expect(fetchCalls).toEqual([]);
    // Embedding does not reach out either.
    await embedder.embed(["hello world"]);
    expect(fetchCalls).toEqual([]);
  });

  it("has 100 dimensions and unit-length vectors", async () => {
    expect(embedder.dimensions).toBe(100);
    const vectors = await embedder.embed(SAMPLES);
    expect(vectors).toHaveLength(SAMPLES.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(100);
      expect(norm(v)).toBeCloseTo(1, 4);
    }
  });

  it("puts similar sentences closer than unrelated ones", async () => {
    const [budget, spending, football, geneva] = await embedder.embed(SAMPLES.slice(0, 4));
    const similar = cosine(budget!, spending!);
    expect(similar).toBeGreaterThan(cosine(budget!, football!));
    expect(similar).toBeGreaterThan(cosine(budget!, geneva!));
    const [talks] = await embedder.embed(["Moscow and Washington plan arms control negotiations."]);
    expect(cosine(talks!, geneva!)).toBeGreaterThan(cosine(talks!, football!));
  });

  it("is deterministic, and case-insensitive (the tokenizer lower-cases)", async () => {
    const [a, b, c] = await embedder.embed(["Geneva summit talks", "Geneva summit talks", "GENEVA SUMMIT TALKS"]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    for (let i = 0; i < 100; i++) expect(c![i]).toBeCloseTo(a![i]!, 6);
  });

  it("gives the zero vector, not NaN, for text with no known word", async () => {
    const vectors = await embedder.embed(["", "!!!", "   ", "\n\t", "hello"]);
    for (const v of vectors.slice(0, 4)) {
      expect(v.length).toBe(100);
      expect(v.every((x) => x === 0)).toBe(true);
    }
    expect(vectors[4]!.some((x) => Number.isNaN(x))).toBe(false);
    expect(norm(vectors[4]!)).toBeCloseTo(1, 4);
  });

  it("preserves order: embedding a list equals embedding each text alone", async () => {
    const texts = [...SAMPLES, "!!!", "short", SAMPLES[0]!];
    const together = await embedder.embed(texts);
    for (let i = 0; i < texts.length; i++) {
      const [alone] = await embedder.embed([texts[i]!]);
      for (let d = 0; d < 100; d++) expect(together[i]![d]).toBeCloseTo(alone![d]!, 5);
    }
    // Also across several small batches (the embedder sorts by length inside).
    const small = await TransformersEmbedder.load({ model: LITE_MODEL, batchSize: 2, cacheDir: mkTmp("citebot-cache-") });
    const batched = await small.embed(texts);
    for (let i = 0; i < texts.length; i++) for (let d = 0; d < 100; d++) expect(batched[i]![d]).toBeCloseTo(together[i]![d]!, 5);
    expect(await small.embed([])).toEqual([]);
  });

  it("embedTokens gives one vector per word (padding removed)", async () => {
    const [one, three, none] = await embedder.embedTokens(["geneva", "talks in geneva", "!!!"]);
    expect(one!.length).toBeGreaterThanOrEqual(1);
    expect(three!.length).toBeGreaterThan(one!.length);
    for (const v of three!) expect(v.length).toBe(100);
    expect(none!.every((v) => v.every((x) => x === 0) || v.length === 100)).toBe(true);
    expect(await embedder.embedTokens([])).toEqual([]);
  });

  it("takes its settings from its citebot.json", () => {
    expect(embedder.settings).toMatchObject({ fromFile: true, pooling: "mean", normalize: true, maxTokens: 512, dtype: "fp32", file: "onnx/model.onnx" });
    expect(embedder.modelDir).toBe(MODEL_DIR);
  });

  it("tokenVectors: unit rows for known words only (unknown words are zero rows, left out)", async () => {
    const [known, withUnknown, none] = await embedder.tokenVectors(["talks in geneva", "zzqxv talks in geneva", "!!!"]);
    expect(known!.length).toBeGreaterThanOrEqual(2);
    expect(withUnknown!.length).toBe(known!.length);
    for (const v of known!) expect(norm(v)).toBeCloseTo(1, 5);
    expect(none).toEqual([]);
    expect(await embedder.tokenVectors([])).toEqual([]);
  });

  it("embeds large calls on worker threads, with the same vectors as in-process", async () => {
    const texts = Array.from({ length: 300 }, (_, i) => `${SAMPLES[i % SAMPLES.length]} (${i})`);
    const pooled = await TransformersEmbedder.load({ workers: 2, cacheDir: mkTmp("citebot-cache-") });
    const inProcess = await TransformersEmbedder.load({ workers: 0, cacheDir: mkTmp("citebot-cache-") });
    try {
      const [a, b] = [await pooled.embed(texts), await inProcess.embed(texts)];
      expect((pooled as unknown as { workers: { pool?: Promise<unknown> } }).workers.pool).toBeDefined();
      expect(await (pooled as unknown as { workers: { pool: Promise<{ size: number } | undefined> } }).workers.pool).toMatchObject({ size: 2 });
      for (let i = 0; i < texts.length; i++) expect(Array.from(a[i]!)).toEqual(Array.from(b[i]!));
    } finally {
      await pooled.close();
    }
  });

  it("loads the model by folder path too", async () => {
    const byPath = await TransformersEmbedder.load({ model: MODEL_DIR, cacheDir: mkTmp("citebot-cache-") });
    expect(byPath.dimensions).toBe(100);
    const [a] = await byPath.embed([SAMPLES[3]!]);
    const [b] = await embedder.embed([SAMPLES[3]!]);
    for (let d = 0; d < 100; d++) expect(a![d]).toBeCloseTo(b![d]!, 6);
  });
});

describe("a hub model from a local HTTP mirror", () => {
  const MODEL_ID = "test-org/glove-sif-100d";
  const requests: string[] = [];
  let server: http.Server;
  let remoteHost: string;

  beforeAll(async () => {
    // Serves models/glove-sif-100d as {remoteHost}{model}/resolve/{revision}/{file}.
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      requests.push(url.pathname);
      const m = /^\/test-org\/glove-sif-100d\/resolve\/main\/(.+)$/.exec(url.pathname);
      const file = m ? path.join(MODEL_DIR, decodeURIComponent(m[1]!)) : undefined;
      if (!file?.startsWith(MODEL_DIR + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
        return;
      }
      const body = fs.readFileSync(file);
      res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
      res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    remoteHost = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });

  it("downloads it, embeds like the local model, and caches it; a later load works from the cache alone", async () => {
    const cacheDir = mkTmp("citebot-hubcache-");
    const { logger, records } = recordingLogger();
    const remote = await TransformersEmbedder.load({ model: MODEL_ID, remoteHost, cacheDir, logger });
    expect(remote.modelId).toBe(MODEL_ID);
    // A hub model has no citebot.json: the defaults, said once at start-up.
    expect(remote.settings.fromFile).toBe(false);
    expect(remote.modelDir).toBeUndefined();
    expect(records.filter((r) => r.level === 40).map((r) => r.msg)).toEqual([
      expect.stringMatching(/^Embedding model "test-org\/glove-sif-100d" has no citebot\.json/),
    ]);
    expect(remote.dimensions).toBe(100);
    expect(env.allowRemoteModels).toBe(true);
    // The fetch spy installed for the offline test does see network loads (so its silence there means something).
    expect(fetchCalls.some((u) => u.startsWith(remoteHost))).toBe(true);

    // It really downloaded the three files the pipeline needs from our server.
    for (const file of ["config.json", "tokenizer.json", "onnx/model.onnx"]) {
      expect(requests).toContain(`/test-org/glove-sif-100d/resolve/main/${file}`);
    }

    // Same files, same vectors as the offline copy.
    const a = await remote.embed(SAMPLES);
    const b = await embedder.embed(SAMPLES);
    for (let i = 0; i < SAMPLES.length; i++) for (let d = 0; d < 100; d++) expect(a[i]![d]).toBeCloseTo(b[i]![d]!, 6);

    // The file cache holds byte-identical copies under <cacheDir>/<model id>/.
    for (const file of ["config.json", "tokenizer.json", "onnx/model.onnx"]) {
      const cached = path.join(cacheDir, "test-org", "glove-sif-100d", file);
      expect(fs.existsSync(cached), cached).toBe(true);
      expect(fs.readFileSync(cached).equals(fs.readFileSync(path.join(MODEL_DIR, file)))).toBe(true);
    }

    // Server gone: transformers.js's FileCache is checked before any download, so a second load
    // is served entirely from the cache (no request reaches the closed server).
    await new Promise((resolve) => server.close(resolve));
    const before = requests.length;
    const cachedLoad = await TransformersEmbedder.load({ model: MODEL_ID, remoteHost, cacheDir, logger });
    expect(requests.length).toBe(before);
    expect(records.filter((r) => r.level === 40)).toHaveLength(1);
    const [c] = await cachedLoad.embed([SAMPLES[0]!]);
    for (let d = 0; d < 100; d++) expect(c![d]).toBeCloseTo(b[0]![d]!, 6);

    // And that load really used the disk cache (not something kept in memory): without the
    // cache and without the server, loading fails with an EmbedderError that says why.
    fs.rmSync(cacheDir, { recursive: true, force: true });
    await expect(TransformersEmbedder.load({ model: MODEL_ID, remoteHost, cacheDir })).rejects.toThrow(EmbedderError);
  });

  it("a model the mirror does not have fails with an EmbedderError", async () => {
    const other = http.createServer((req, res) => {
      requests.push(`other:${req.url}`);
      res.writeHead(404).end("Entry not found");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const host = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const err = await TransformersEmbedder.load({ model: "test-org/missing-model", remoteHost: host, cacheDir: mkTmp("citebot-cache-") }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EmbedderError);
      expect((err as Error).message).toMatch(/test-org\/missing-model/);
      // The trailing slash was added to the host: requests use the hub layout.
      expect(requests).toContain("other:/test-org/missing-model/resolve/main/config.json");
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

// The committed default transformer model: int8 ONNX exported by scripts/export-model.py, and
// reference vectors that script computed with PyTorch (test/fixtures/all-MiniLM-L6-v2-reference.json).
describe("all-MiniLM-L6-v2 (the committed int8 ONNX), offline", () => {
  const MINILM = "all-MiniLM-L6-v2";
  const MINILM_DIR = path.join(LOCAL_MODELS_DIR, MINILM);
  const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, "all-MiniLM-L6-v2-reference.json"), "utf8")) as {
    maxTokens: number;
    sentences: Array<{ text: string; vector: number[] }>;
    tokens: Array<{ text: string; vectors: number[][] }>;
  };
  let minilm: TransformersEmbedder;
  const fetches: string[] = [];
  const { logger, records } = recordingLogger();

  beforeAll(async () => {
    const before = env.fetch;
    env.fetch = ((url: string | URL | Request, init?: RequestInit) => {
      fetches.push(String(url));
      return before(url as string, init);
    }) as typeof env.fetch;
    try {
      // No model named: the default is this one.
      minilm = await TransformersEmbedder.load({ cacheDir: mkTmp("citebot-cache-"), logger });
    } finally {
      env.fetch = before;
    }
  });

  it("is the default, and loads the int8 file offline, with the settings of its citebot.json and no warning", () => {
    expect(DEFAULT_MODEL).toBe(MINILM);
    expect(minilm.modelId).toBe(MINILM);
    expect(fetches).toEqual([]);
    expect(env.allowRemoteModels).toBe(false);
    expect(minilm.dimensions).toBe(384);
    expect(minilm.modelDir).toBe(MINILM_DIR);
    expect(minilm.settings).toMatchObject({ fromFile: true, pooling: "mean", normalize: true, maxTokens: 256, dtype: "q8", file: "onnx/model_quantized.onnx" });
    expect(fs.existsSync(path.join(MINILM_DIR, minilm.settings.file))).toBe(true);
    expect(records.filter((r) => r.level >= 40)).toEqual([]);
  });

  it("takes the direct route (BERT's [CLS] … [SEP] added by the fast tokenizer)", () => {
    expect(minilm.usesDirectRoute).toBe(true);
  });

  it("matches the PyTorch reference vectors (cosine ≥ 0.98 for every text of two words or more, median ≥ 0.99)", async () => {
    expect(reference.sentences.length).toBeGreaterThanOrEqual(20);
    const vectors = await minilm.embed(reference.sentences.map((s) => s.text));
    const cos = vectors.map((v, i) => cosine(v, Float32Array.from(reference.sentences[i]!.vector)));
    // int8 activations are quantized per batch tensor: a text of one word or only punctuation
    // ("Peace.", "!!!") drifts most (measured 0.97), so it gets the looser bound.
    for (const [i, c] of cos.entries()) {
      const text = reference.sentences[i]!.text;
      const words = text.match(/\p{L}+/gu)?.length ?? 0;
      expect(c, text.slice(0, 40)).toBeGreaterThanOrEqual(words >= 2 ? 0.98 : 0.96);
    }
    expect([...cos].sort((a, b) => a - b)[Math.floor(cos.length / 2)]!).toBeGreaterThanOrEqual(0.99);
    for (const v of vectors) expect(norm(v)).toBeCloseTo(1, 5);
    // Unrelated reference vectors are much further apart than a text and its own reference.
    expect(cosine(vectors[0]!, Float32Array.from(reference.sentences[2]!.vector))).toBeLessThan(0.5);
  });

  it("cuts long text at citebot.json's maxTokens, keeping [SEP] (as sentence-transformers does)", async () => {
    const long = reference.sentences.at(-1)!.text;
    const [rows] = await minilm.tokenVectors([long]);
    expect(rows!.length).toBe(reference.maxTokens - 2);
    const [v] = await minilm.embed([long]);
    expect(cosine(v!, Float32Array.from(reference.sentences.at(-1)!.vector))).toBeGreaterThanOrEqual(0.98);
  });

  it("gives the pipeline's vectors exactly", async () => {
    const viaPipeline = await TransformersEmbedder.load({ model: MINILM, fast: false, cacheDir: mkTmp("citebot-cache-") });
    expect(viaPipeline.usesDirectRoute).toBe(false);
    const texts = SAMPLES.slice(0, 5);
    const [a, b] = [await minilm.embed(texts), await viaPipeline.embed(texts)];
    for (let i = 0; i < texts.length; i++) expect(Array.from(a[i]!)).toEqual(Array.from(b[i]!));
  });

  it("ranks a paraphrase above an unrelated sentence", async () => {
    const [budget, spending, football] = await minilm.embed(SAMPLES.slice(0, 3));
    expect(cosine(budget!, spending!)).toBeGreaterThan(cosine(budget!, football!) + 0.3);
  });

  it("tokenVectors: one unit row per real token ([CLS]/[SEP]/padding left out), matching PyTorch's", async () => {
    const texts = reference.tokens.map((t) => t.text);
    // Batched together with a longer text, so the shorter ones are padded.
    const got = await minilm.tokenVectors([...texts, reference.sentences.at(-1)!.text]);
    for (const [i, want] of reference.tokens.entries()) {
      expect(got[i]!.length, want.text).toBe(want.vectors.length);
      got[i]!.forEach((v, j) => {
        expect(norm(v)).toBeCloseTo(1, 5);
        expect(cosine(v, Float32Array.from(want.vectors[j]!))).toBeGreaterThanOrEqual(0.97);
      });
    }
    // "Peace." is [CLS] peace . [SEP]: two real tokens.
    const [peace] = await minilm.tokenVectors(["Peace."]);
    expect(peace!.length).toBe(2);
    expect(await minilm.tokenVectors([])).toEqual([]);
  });

  it("puts the query and passage prefixes of citebot.json before the text, and leaves them out of token vectors", async () => {
    const settings = JSON.parse(fs.readFileSync(path.join(MINILM_DIR, "citebot.json"), "utf8")) as Record<string, unknown>;
    const dir = modelCopy(MINILM_DIR, { ...settings, queryPrefix: "query: ", passagePrefix: "passage: " }, "minilm-e5-style");
    const prefixed = await TransformersEmbedder.load({ model: dir, cacheDir: mkTmp("citebot-cache-") });
    expect(prefixed.settings).toMatchObject({ queryPrefix: "query: ", passagePrefix: "passage: " });
    const text = "talks in geneva";
    const [asQuery] = await prefixed.embed([text], { kind: "query" });
    const [asPassage] = await prefixed.embed([text], { kind: "passage" });
    // One text per call: with int8 activations quantized per batch, batch-mates shift the last digits.
    const [plain] = await prefixed.embed([text]);
    const [byHand] = await prefixed.embed([`query: ${text}`]);
    expect(Array.from(asQuery!)).toEqual(Array.from(byHand!));
    expect(cosine(asQuery!, plain!)).toBeLessThan(0.9999);
    expect(cosine(asQuery!, asPassage!)).toBeLessThan(0.9999);
    const [queryRows] = await prefixed.tokenVectors([text], { kind: "query" });
    const [plainRows] = await prefixed.tokenVectors([text]);
    expect(queryRows!.length).toBe(plainRows!.length);
  });
});

describe("citebot.json", () => {
  it("parses the settings and keeps other stages' fields in extra", () => {
    const s = parseModelSettings(JSON.stringify({ maxTokens: 128, dtype: "q8", fusion: { dense: 0.6 }, abstain: { threshold: 0.4 } }));
    expect(s).toMatchObject({
      pooling: "mean",
      normalize: true,
      maxTokens: 128,
      queryPrefix: "",
      passagePrefix: "",
      dtype: "q8",
      file: "onnx/model_quantized.onnx",
      fromFile: true,
    });
    expect(s.extra).toEqual({ fusion: { dense: 0.6 }, abstain: { threshold: 0.4 } });
  });

  it("rejects bad files with a message that says what is wrong", () => {
    expect(() => parseModelSettings("{ not json")).toThrow(/not valid JSON/);
    expect(() => parseModelSettings(JSON.stringify({ pooling: "mean" }))).toThrow(/maxTokens/);
    expect(() => parseModelSettings(JSON.stringify({ maxTokens: 256, pooling: "max" }))).toThrow(/pooling/);
    expect(() => parseModelSettings(JSON.stringify({ maxTokens: 256, dtype: "fp32", file: "onnx/model_quantized.onnx" }))).toThrow(
      /does not match dtype "fp32"/,
    );
    expect(() => parseModelSettings("[]")).toThrow(ModelSettingsError);
  });

  it("a model folder with a broken citebot.json fails to load with an EmbedderError naming the file", async () => {
    const dir = modelCopy(MODEL_DIR, null, "broken-settings");
    fs.writeFileSync(path.join(dir, "citebot.json"), JSON.stringify({ maxTokens: "lots" }));
    const err = await TransformersEmbedder.load({ model: dir, cacheDir: mkTmp("citebot-cache-") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbedderError);
    expect((err as Error).message).toMatch(/broken-settings.*citebot\.json.*maxTokens/);
  });

  it("a model folder without one gets the conservative defaults, and the embedder says so once", async () => {
    const dir = modelCopy(MODEL_DIR, null, "no-settings");
    const { logger, records } = recordingLogger();
    const a = await TransformersEmbedder.load({ model: dir, cacheDir: mkTmp("citebot-cache-"), logger });
    const b = await TransformersEmbedder.load({ model: dir, cacheDir: mkTmp("citebot-cache-"), logger });
    // The GloVe tokenizer allows 512 tokens; the defaults cut at 256.
    expect(a.settings).toMatchObject({ fromFile: false, pooling: "mean", normalize: true, maxTokens: 256, queryPrefix: "", passagePrefix: "", dtype: "fp32" });
    const warnings = records.filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/no citebot\.json: using conservative defaults/);
    expect(warnings[0]!.model).toBe(dir);
    // Same vectors as the model with its own settings (they agree for GloVe on short text).
    const [x] = await b.embed([SAMPLES[3]!]);
    const [y] = await embedder.embed([SAMPLES[3]!]);
    for (let d = 0; d < 100; d++) expect(x![d]).toBeCloseTo(y![d]!, 6);
  });
});
