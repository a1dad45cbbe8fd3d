// Index stage: build on disk, reload, staleness and incremental re-embedding, damage detection,
// atomic `current` swap and aborted builds. Everything lives in temp folders.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot, type OpenStatus } from "../src/citebot.js";
import { loadCorpus } from "../src/corpus/load.js";
import { splitArticle } from "../src/corpus/split.js";
import { type Embedder, LITE_MODEL, TransformersEmbedder } from "../src/embed/embedder.js";
import { IndexError, indexDirFor } from "../src/index/store.js";
import { currentSnapshotDir, MANIFEST, STORE_FORMAT, STORE_VERSION, type StoreManifest } from "../src/store/fs/format.js";
import { FileStore } from "../src/store/fs/store.js";
import { openStore, planChanges, staleReason } from "../src/store/open.js";
import type { Passage } from "../src/types.js";
import { cleanupTmp, copyRealCorpus, EXTRA_ARTICLE, makeCorpus, mkTmp } from "./helpers.js";

/** What the index folder holds, besides the corpus stamp Citebot.open keeps there (corpus-stamp.json). */
const indexEntries = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f !== "corpus-stamp.json")
    .sort();

let embedder: TransformersEmbedder;

beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ model: LITE_MODEL, cacheDir: mkTmp("citebot-cache-") });
});
afterAll(cleanupTmp);

/** Wraps the real embedder: counts texts embedded, can fail on the n-th call, can pose as another model. */
class SpyEmbedder implements Embedder {
  calls = 0;
  texts = 0;
  constructor(
    private readonly inner: Embedder,
    private readonly opts: { failOnCall?: number; modelId?: string; weights?: string } = {},
  ) {}
  get modelId() {
    return this.opts.modelId ?? this.inner.modelId;
  }
  get weights() {
    return this.opts.weights ?? (this.opts.modelId ? undefined : this.inner.weights);
  }
  get dimensions() {
    return this.inner.dimensions;
  }
  async embed(texts: string[]) {
    this.calls++;
    if (this.opts.failOnCall === this.calls) throw new Error("simulated embedder failure");
    this.texts += texts.length;
    return this.inner.embed(texts);
  }
  embedTokens(texts: string[]) {
    return this.inner.embedTokens(texts);
  }
}

async function openBot(corpusDir: string, dataDir: string, emb: Embedder = embedder): Promise<Citebot> {
  return Citebot.open({ corpusDir, dataDir, embedder: emb });
}

const currentLink = (indexDir: string) => fs.readlinkSync(path.join(indexDir, "current"));
const snapshots = (indexDir: string) => fs.readdirSync(path.join(indexDir, "snapshots")).sort();
const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as T;

describe("build and reload", () => {
  let corpusDir: string;
  let indexDir: string;
  let passages: Passage[];
  let stats: { embedded: number; reused: number };
  const progress: Array<[number, number, string]> = [];

  beforeAll(async () => {
    corpusDir = copyRealCorpus([EXTRA_ARTICLE]);
    indexDir = indexDirFor(mkTmp("citebot-data-"), corpusDir);
    const { articles } = await loadCorpus(corpusDir);
    const onProgress = (d: number, t: number, s: string) => progress.push([d, t, s]);
    const store = await openStore(indexDir, { onProgress });
    const changes = await planChanges(articles, undefined, embedder, { onProgress });
    stats = changes.stats;
    const { snapshot } = await store.write(changes);
    passages = [];
    for (const a of articles) passages.push(...(await snapshot.passages(await snapshot.passageIds(a.id))));
    await store.close();
  });

  it("indexes every sentence of every article, embedding each once", async () => {
    const { articles } = await loadCorpus(corpusDir);
    const expected = articles.flatMap(splitArticle);
    expect(articles).toHaveLength(3);
    expect(passages).toEqual(expected);
    expect(stats).toMatchObject({ embedded: expected.length, reused: 0 });
    // Each passage's stored vector is its sentence's.
    const snap = (await new FileStore(indexDir).current())!;
    const sample = [0, 7, expected.length - 1];
    const fresh = await embedder.embed(sample.map((i) => expected[i]!.text));
    for (const [k, i] of sample.entries()) {
      const p = expected[i]!;
      const [v] = await snap.vectors([(await snap.passageIds(p.articleId))[p.n]!]);
      for (let d = 0; d < 100; d++) expect(v![d]).toBeCloseTo(fresh[k]![d]!, 6);
    }
    await snap.close();
  });

  it("reports progress for both stages, ending at the totals", () => {
    const embed = progress.filter((p) => p[2] === "embed");
    const index = progress.filter((p) => p[2] === "index");
    expect(embed.at(-1)).toEqual([passages.length, passages.length, "embed"]);
    expect(index).toEqual([
      [0, 1, "index"],
      [1, 1, "index"],
    ]);
    for (const [done, total] of progress) expect(done).toBeLessThanOrEqual(total);
  });

  it("writes a manifest that records model, dimensions, counts, settings and every file's size", async () => {
    const snapDir = currentSnapshotDir(indexDir)!;
    const manifest = readJson<StoreManifest>(path.join(snapDir, MANIFEST));
    const { articles } = await loadCorpus(corpusDir);
    expect(manifest).toMatchObject({
      format: STORE_FORMAT,
      version: STORE_VERSION,
      model: expect.stringMatching(/^glove-sif-100d@[0-9a-f]{12}$/),
      dimensions: 100,
      articles: 3,
      passages: passages.length,
    });
    expect(Object.keys(manifest.files).sort()).toEqual(
      fs
        .readdirSync(snapDir)
        .filter((f) => f !== MANIFEST)
        .sort(),
    );
    for (const [file, { size }] of Object.entries(manifest.files)) expect(fs.statSync(path.join(snapDir, file)).size).toBe(size);
    // The base HNSW holds every passage: vectors of 100 float32 and a label each, beyond its links.
    expect(manifest.hnsw?.summary.elements).toBe(passages.length);
    const snap = (await new FileStore(indexDir).current())!;
    expect(await staleReason(snap, articles, embedder)).toBeUndefined();
    await snap.close();
  });

  it("loading from disk gives the same articles and passages, and a working HNSW and keyword index", async () => {
    const { articles } = await loadCorpus(corpusDir);
    const snap = (await new FileStore(indexDir).current())!;
    expect(await snap.articles()).toEqual(articles);
    const loaded: Passage[] = [];
    for (const a of articles) loaded.push(...(await snap.passages(await snap.passageIds(a.id))));
    expect(loaded).toEqual(passages);
    for (const p of [passages[0]!, passages[12]!, passages.at(-1)!]) {
      const id = (await snap.passageIds(p.articleId))[p.n]!;
      const [v] = await snap.vectors([id]);
      expect((await snap.dense(v!, 1))[0]!.id).toBe(id);
    }
    const q = "road repairs budget council";
    const { hits } = await snap.keyword(q, 5);
    expect(hits.length).toBeGreaterThan(0);
    expect((await snap.passages([hits[0]!.id]))[0]!.articleId).toBe("council-budget");
    await snap.close();
  });

  it("keeps one index folder per corpus path, under the data folder", () => {
    const dataDir = path.dirname(indexDir);
    expect(indexDirFor(dataDir, corpusDir)).toBe(indexDir);
    expect(indexDirFor(dataDir, corpusDir + path.sep)).toBe(indexDir);
    expect(indexDirFor(dataDir, mkTmp())).not.toBe(indexDir);
    expect(path.basename(indexDir).startsWith(`${path.basename(corpusDir)}-`)).toBe(true);
  });
});

describe("staleness and incremental re-embedding", () => {
  let corpusDir: string;
  let dataDir: string;
  let total: number;

  const status = async (emb: Embedder = embedder): Promise<OpenStatus> => (await openBot(corpusDir, dataDir, emb)).status;

  beforeAll(async () => {
    corpusDir = copyRealCorpus([EXTRA_ARTICLE]);
    dataDir = mkTmp("citebot-data-");
    const first = await status();
    expect(first).toMatchObject({ index: "built", reason: "there is no index yet", skipped: [] });
    total = first.stats!.passages;
    expect(first.stats).toMatchObject({ embedded: total, reused: 0 });
    // The fixture article has 10 sentences (the counts below rely on it).
    const fixture = (await loadCorpus(corpusDir)).articles.find((a) => a.id === "council-budget")!;
    expect(splitArticle(fixture)).toHaveLength(10);
  });

  it("an unchanged corpus loads the index without rebuilding", async () => {
    const spy = new SpyEmbedder(embedder);
    const s = await status(spy);
    expect(s.index).toBe("loaded");
    expect(s.reason).toBeUndefined();
    expect(s.stats).toBeUndefined();
    expect(spy.texts).toBe(0);
  });

  it("a rewritten article: 'the articles changed', only its sentences are embedded", async () => {
    const file = path.join(corpusDir, "council-budget.txt");
    fs.writeFileSync(
      file,
      "---\ntitle: Riverton council delays budget vote\ndate: 2024-03-19\n---\n" +
        "The Riverton council postponed its budget vote by one week on Tuesday.\n\n" +
        "Members asked the finance office for a second revenue forecast.\n\n" +
        "A public hearing on the swimming pool will take place on Thursday evening.\n\n" +
        "The mayor called the delay disappointing but understandable.\n",
    );
    const { articles } = await loadCorpus(corpusDir);
    const changed = splitArticle(articles.find((a) => a.id === "council-budget")!).length;
    expect(changed).toBe(4);
    const spy = new SpyEmbedder(embedder);
    const s = await status(spy);
    expect(s).toMatchObject({ index: "built", reason: "the articles changed" });
    expect(s.stats).toMatchObject({ passages: total - 10 + changed, embedded: changed, reused: total - 10 });
    expect(spy.texts).toBe(changed);
    total = s.stats!.passages;
    expect(await status()).toMatchObject({ index: "loaded" });
  });

  it("editing one sentence re-embeds that sentence only; a metadata-only change re-embeds nothing", async () => {
    const file = path.join(corpusDir, "council-budget.txt");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("by one week", "by two weeks"));
    let s = await status();
    expect(s).toMatchObject({ index: "built", reason: "the articles changed", stats: { passages: total, embedded: 1, reused: total - 1 } });

    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("date: 2024-03-19", "date: 2024-03-20"));
    const bot = await openBot(corpusDir, dataDir);
    s = bot.status;
    expect(s).toMatchObject({ index: "built", reason: "the articles changed", stats: { embedded: 0, reused: total } });
    expect(bot.article("council-budget")?.date).toBe("2024-03-20");
  });

  it("removing an article reuses everything else; adding it back embeds only it", async () => {
    const file = path.join(corpusDir, "council-budget.txt");
    const saved = fs.readFileSync(file);
    fs.rmSync(file);
    let s = await status();
    expect(s).toMatchObject({ index: "built", reason: "the articles changed", stats: { passages: total - 4, embedded: 0, reused: total - 4 } });
    fs.writeFileSync(file, saved);
    s = await status();
    // The previous build (without the article) is what vectors are reused from.
    expect(s).toMatchObject({ index: "built", stats: { passages: total, embedded: 4, reused: total - 4 } });
  });

  it("the same model name with other weights (a re-exported model) is a reason to rebuild, and its vectors are not reused", async () => {
    const reexported = new SpyEmbedder(embedder, { weights: "0123456789ab" });
    const s = await status(reexported);
    expect(s.index).toBe("built");
    expect(s.reason).toMatch(/embedding model changed \(glove-sif-100d@[0-9a-f]{12} → glove-sif-100d@0123456789ab\)/);
    expect(s.stats).toMatchObject({ embedded: total, reused: 0 });
    expect((await status()).reason).toMatch(/embedding model changed/);
  });

  it("another embedding model is a reason to rebuild, and its vectors are not reused", async () => {
    const other = new SpyEmbedder(embedder, { modelId: "some-other-model" });
    const s = await status(other);
    expect(s.index).toBe("built");
    expect(s.reason).toMatch(/embedding model changed \(glove-sif-100d@[0-9a-f]{12} → some-other-model\)/);
    expect(s.stats).toMatchObject({ embedded: total, reused: 0 });
    const snap = (await new FileStore(indexDirFor(dataDir, corpusDir)).current())!;
    expect(snap.info.model).toBe("some-other-model");
    await snap.close();
    // Back to the default model: rebuilt again, for the same reason.
    expect((await status()).reason).toMatch(/embedding model changed/);
  });

  it("Citebot.reload swaps in a new index when the corpus changed", async () => {
    const bot = await openBot(corpusDir, dataDir);
    expect(bot.status.index).toBe("loaded");
    const before = bot.passageCount;
    fs.writeFileSync(path.join(corpusDir, "zz-new.txt"), "A short note\n\nThe ferry timetable changes on Monday. Tickets cost four dollars.\n");
    const s = await bot.reload();
    expect(s).toMatchObject({ index: "built", reason: "the articles changed", stats: { embedded: 2 } });
    expect(bot.passageCount).toBe(before + 2);
    expect(bot.article("zz-new")?.title).toBe("A short note");
    expect((await bot.reload()).index).toBe("loaded");
  });
});

describe("a damaged or foreign index is detected, and Citebot.open rebuilds it saying why", () => {
  let corpusDir: string;

  beforeAll(() => {
    corpusDir = makeCorpus({
      "a.txt": "Harbour news\n\nThe harbour ferry resumed service on Saturday. It carried 212 passengers.\n",
      "b.txt": "Library news\n\nThe central library will open on Sundays. Demand for study space has grown.\n",
    });
  });

  async function fresh(): Promise<{ dataDir: string; indexDir: string; snapDir: string }> {
    const dataDir = mkTmp("citebot-data-");
    const bot = await openBot(corpusDir, dataDir);
    expect(bot.status.index).toBe("built");
    return { dataDir, indexDir: bot.indexDir, snapDir: currentSnapshotDir(bot.indexDir)! };
  }

  /** What the store serves now: an IndexError, or the passage count of an intact snapshot. */
  const served = (indexDir: string) =>
    new FileStore(indexDir).current().then(
      async (snap) => {
        const passages = snap?.info.passages;
        await snap?.close();
        return passages;
      },
      (e: unknown) => e,
    );

  async function expectRebuilt(dataDir: string, indexDir: string, why: RegExp) {
    const err = await served(indexDir);
    if (!/there is no index yet/.test(why.source)) {
      expect(err).toBeInstanceOf(IndexError);
      expect((err as Error).message).toMatch(why);
    }
    const bot = await openBot(corpusDir, dataDir);
    expect(bot.status.index).toBe("built");
    expect(bot.status.reason).toMatch(why);
    expect(bot.status.stats?.embedded).toBe(4);
    expect((await bot.answer("When did the ferry resume service?")).hits[0]?.article.id).toBe("a");
    // Repaired: the next open just loads it.
    expect(await served(indexDir)).toBe(4);
    expect((await openBot(corpusDir, dataDir)).status.index).toBe("loaded");
  }

  it("a truncated passage table", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    const file = path.join(snapDir, "passages.bin");
    fs.truncateSync(file, fs.statSync(file).size - 4);
    await expectRebuilt(dataDir, indexDir, /passages\.bin is truncated or damaged/);
  });

  it("a missing HNSW file", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    const hnsw = fs.readdirSync(snapDir).find((f) => f.startsWith("hnsw-"))!;
    fs.rmSync(path.join(snapDir, hnsw));
    await expectRebuilt(dataDir, indexDir, new RegExp(`${hnsw.replace(".", "\\.")} is missing`));
  });

  it("an articles file overwritten with garbage of the same size", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    const file = path.join(snapDir, "articles.json");
    fs.writeFileSync(file, "#".repeat(fs.statSync(file).size));
    await expectRebuilt(dataDir, indexDir, /articles\.json was changed or damaged/);
  });

  it("a garbage manifest", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    fs.writeFileSync(path.join(snapDir, MANIFEST), "{ this is not json");
    await expectRebuilt(dataDir, indexDir, /manifest is missing or unreadable/);
  });

  it("a manifest from another version", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    const file = path.join(snapDir, MANIFEST);
    fs.writeFileSync(file, JSON.stringify({ ...readJson<StoreManifest>(file), version: STORE_VERSION + 1 }));
    await expectRebuilt(dataDir, indexDir, new RegExp(`another version of citebot \\(store format ${STORE_VERSION + 1}, this one reads ${STORE_VERSION}\\)`));
  });

  it("a foreign folder: `current` points at something that is not a citebot index", async () => {
    const { dataDir, indexDir } = await fresh();
    const foreign = path.join(indexDir, "snapshots", "someone-elses");
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, MANIFEST), JSON.stringify({ format: "other-tool", version: STORE_VERSION }));
    fs.writeFileSync(path.join(foreign, "data.bin"), "xyz");
    fs.rmSync(path.join(indexDir, "current"));
    fs.symlinkSync(path.join("snapshots", "someone-elses"), path.join(indexDir, "current"));
    await expectRebuilt(dataDir, indexDir, /not a citebot index/);
  });

  it("a foreign folder without any index in it", async () => {
    const dataDir = mkTmp("citebot-data-");
    const indexDir = indexDirFor(dataDir, corpusDir);
    fs.mkdirSync(indexDir, { recursive: true });
    makeCorpus({ "README.txt": "not an index", "stuff/blob.bin": "123" }, indexDir);
    expect(await served(indexDir)).toBeUndefined();
    await expectRebuilt(dataDir, indexDir, /there is no index yet/);
    expect(fs.readFileSync(path.join(indexDir, "README.txt"), "utf8")).toBe("not an index");
  });

  it("`current` pointing at a snapshot that was deleted", async () => {
    const { dataDir, indexDir, snapDir } = await fresh();
    fs.rmSync(snapDir, { recursive: true });
    await expectRebuilt(dataDir, indexDir, /the index snapshot `current` points at is missing/);
  });

  it("an index in the earlier on-disk format: named as such, rebuilt, and its builds/ folder removed", async () => {
    const dataDir = mkTmp("citebot-data-");
    const indexDir = indexDirFor(dataDir, corpusDir);
    const old = path.join(indexDir, "builds", "m1abc-123-xyz");
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(path.join(old, MANIFEST), JSON.stringify({ format: "citebot-index", version: 4, passages: 4 }));
    fs.writeFileSync(path.join(old, "hnsw.bin"), "old");
    fs.symlinkSync(path.join("builds", "m1abc-123-xyz"), path.join(indexDir, "current"));
    await expectRebuilt(dataDir, indexDir, /earlier on-disk format .*needs a full rebuild/);
    expect(indexEntries(indexDir)).toEqual(["current", "snapshots"]);
  });
});

describe("atomic builds", () => {
  it("`current` is a relative symlink to a complete snapshot; old snapshots are pruned to one", async () => {
    const corpusDir = makeCorpus({ "a.txt": "Title A\n\nFirst sentence here. Second sentence here.\n" });
    const dataDir = mkTmp("citebot-data-");
    const bot = await openBot(corpusDir, dataDir);
    const indexDir = bot.indexDir;
    const linkPath = path.join(indexDir, "current");
    expect(fs.lstatSync(linkPath).isSymbolicLink()).toBe(true);
    expect(path.isAbsolute(fs.readlinkSync(linkPath))).toBe(false);
    expect(path.dirname(fs.readlinkSync(linkPath))).toBe("snapshots");
    const manifest = readJson<StoreManifest>(path.join(indexDir, "current", MANIFEST));
    for (const [file, { size }] of Object.entries(manifest.files)) expect(fs.statSync(path.join(indexDir, "current", file)).size).toBe(size);
    expect(indexEntries(indexDir)).toEqual(["current", "snapshots"]); // no current.tmp-* or lock left behind

    const seen = [currentLink(indexDir)];
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(corpusDir, `n${i}.txt`), `Note ${i}\n\nThis is note number ${i} about the harbour.\n`);
      expect((await openBot(corpusDir, dataDir)).status.index).toBe("built");
      seen.push(currentLink(indexDir));
      const kept = snapshots(indexDir);
      expect(kept.length).toBeLessThanOrEqual(2);
      expect(kept).toContain(path.basename(seen.at(-1)!));
      expect(kept).toContain(path.basename(seen.at(-2)!)); // the one before stays for readers still loading it
    }
    expect(new Set(seen).size).toBe(4);
  });

  it("an embedder failing mid-build leaves the previous index current and loadable, with no partial snapshot", async () => {
    const corpusDir = copyRealCorpus();
    const dataDir = mkTmp("citebot-data-");
    const good = await openBot(corpusDir, dataDir);
    const indexDir = good.indexDir;
    const link = currentLink(indexDir);
    const snapshotsBefore = snapshots(indexDir);
    const before = (await new FileStore(indexDir).current())!;
    const infoBefore = before.info;
    await before.close();

    // A long article: more than one 512-sentence chunk, so the failure comes after real progress.
    const long = Array.from({ length: 600 }, (_, i) => `Report line ${i} says the harbour ferry carried ${i * 3 + 7} passengers.`).join(" ");
    fs.writeFileSync(path.join(corpusDir, "long.txt"), `Ferry statistics\n\n${long}\n`);
    const failing = new SpyEmbedder(embedder, { failOnCall: 2 });
    const progress: number[] = [];
    await expect(
      Citebot.open({ corpusDir, dataDir, embedder: failing, onProgress: (done, _t, stage) => stage === "embed" && progress.push(done) }),
    ).rejects.toThrow("simulated embedder failure");
    expect(failing.calls).toBe(2);
    expect(progress).toContain(512); // the first chunk was embedded before the failure

    expect(currentLink(indexDir)).toBe(link);
    expect(snapshots(indexDir)).toEqual(snapshotsBefore);
    expect(indexEntries(indexDir)).toEqual(["current", "snapshots"]);
    const after = (await new FileStore(indexDir).current())!;
    expect(after.info).toEqual(infoBefore);
    expect((await after.articles()).map((a) => a.id)).not.toContain("long");
    await after.close();

    // The next open with a working embedder builds it, reusing the old vectors.
    const bot = await openBot(corpusDir, dataDir);
    expect(bot.status).toMatchObject({ index: "built", reason: "the articles changed", stats: { reused: infoBefore.passages } });
    expect(bot.status.stats!.embedded).toBe(bot.passageCount - infoBefore.passages);
    expect(bot.article("long")).toBeDefined();
  });

  it("an index copied without symlinks (`current` a real folder) loads, and a rebuild replaces it", async () => {
    const corpusDir = makeCorpus({ "a.txt": "Title A\n\nFirst sentence here. Second sentence here.\n" });
    const dataDir = mkTmp("citebot-data-");
    const indexDir = (await openBot(corpusDir, dataDir)).indexDir;
    const target = path.join(indexDir, currentLink(indexDir));
    fs.rmSync(path.join(indexDir, "current"));
    fs.cpSync(target, path.join(indexDir, "current"), { recursive: true });
    fs.rmSync(target, { recursive: true });
    expect(fs.lstatSync(path.join(indexDir, "current")).isDirectory()).toBe(true);
    expect((await openBot(corpusDir, dataDir)).status.index).toBe("loaded");
    fs.writeFileSync(path.join(corpusDir, "b.txt"), "Title B\n\nA new sentence about the harbour.\n");
    const rebuilt = await openBot(corpusDir, dataDir);
    expect(rebuilt.status).toMatchObject({ index: "built", stats: { reused: 2 } });
    expect(fs.lstatSync(path.join(indexDir, "current")).isSymbolicLink()).toBe(true);
    expect((await openBot(corpusDir, dataDir)).status.index).toBe("loaded");
  });

  it("a write that dies while writing files (never switched) does not disturb the current index, and its leftover is pruned", async () => {
    const corpusDir = makeCorpus({ "a.txt": "Title A\n\nOne sentence. Another sentence.\n" });
    const dataDir = mkTmp("citebot-data-");
    const bot = await openBot(corpusDir, dataDir);
    const indexDir = bot.indexDir;
    const link = currentLink(indexDir);

    // A writer that wrote half its files and then "crashed" (no manifest; its pid is this process's, so not a live other writer).
    const crashed = path.join(indexDir, "snapshots", `zzz-${process.pid}-crashed`);
    fs.mkdirSync(crashed);
    fs.writeFileSync(path.join(crashed, "articles.json"), '[{"id": ');
    expect(currentLink(indexDir)).toBe(link);
    expect(await new FileStore(indexDir).current().then((s) => s?.info.passages)).toBe(2);
    expect((await openBot(corpusDir, dataDir)).status.index).toBe("loaded");

    // A refused write (rows that do not match their vectors) leaves no folder behind and `current` as it was.
    const store = new FileStore(indexDir);
    const changes = await planChanges([{ ...bot.article("a")!, text: "Changed text. Two sentences." }], await store.current(), embedder);
    changes.upsert[0]!.vectors = new Float32Array(3);
    const listed = snapshots(indexDir);
    await expect(store.write(changes)).rejects.toThrow();
    expect(snapshots(indexDir)).toEqual(listed);
    expect(currentLink(indexDir)).toBe(link);
    await store.close();

    // The crashed leftover is pruned by later builds.
    for (let i = 0; i < 2; i++) {
      fs.writeFileSync(path.join(corpusDir, `n${i}.txt`), `Note ${i}\n\nNote number ${i} is here.\n`);
      await openBot(corpusDir, dataDir);
    }
    expect(fs.existsSync(crashed)).toBe(false);
    expect(snapshots(indexDir).length).toBeLessThanOrEqual(2);
  });
});
