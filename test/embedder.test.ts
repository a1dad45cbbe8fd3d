// Embed stage: the shipped GloVe-SIF model through transformers.js, offline; and a hub-style
// model fetched from a local HTTP mirror (127.0.0.1 only) and cached.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { env } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL, EmbedderError, LOCAL_MODELS_DIR, TransformersEmbedder } from "../src/embed/embedder.js";
import { cleanupTmp, cosine, mkTmp, norm } from "./helpers.js";

const MODEL_DIR = path.join(LOCAL_MODELS_DIR, DEFAULT_MODEL);
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
  embedder = await TransformersEmbedder.load({ cacheDir: mkTmp("citebot-cache-") });
});

afterAll(() => {
  env.fetch = realFetch;
  cleanupTmp();
});

describe("the shipped model, offline", () => {
  it("loads from models/ with remote models disabled and no fetch at all", async () => {
    expect(embedder.modelId).toBe(DEFAULT_MODEL);
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
    const small = await TransformersEmbedder.load({ batchSize: 2, cacheDir: mkTmp("citebot-cache-") });
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
      if (!file || !file.startsWith(MODEL_DIR + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
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
    const remote = await TransformersEmbedder.load({ model: MODEL_ID, remoteHost, cacheDir });
    expect(remote.modelId).toBe(MODEL_ID);
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
    const cachedLoad = await TransformersEmbedder.load({ model: MODEL_ID, remoteHost, cacheDir });
    expect(requests.length).toBe(before);
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
      const err = await TransformersEmbedder.load({ model: "test-org/missing-model", remoteHost: host, cacheDir: mkTmp("citebot-cache-") }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbedderError);
      expect((err as Error).message).toMatch(/test-org\/missing-model/);
      // The trailing slash was added to the host: requests use the hub layout.
      expect(requests).toContain("other:/test-org/missing-model/resolve/main/config.json");
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
