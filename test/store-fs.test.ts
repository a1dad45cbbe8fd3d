import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Embedder } from "../src/embed/embedder.js";
import { IndexError } from "../src/index/store.js";
import { planChanges } from "../src/store/build.js";
import { manifestIntegrity } from "../src/store/fs/format.js";
import { type FileSnapshot, FileStore } from "../src/store/fs/store.js";
import { MemorySnapshot } from "../src/store/memory.js";
import type { Snapshot } from "../src/store/types.js";
import { cleanupTmp, forgedEntry, mkTmp, ROOT } from "./helpers.js";
import { changes, corpus, DIM, META, makeArticle, rowsOf, vectorOf } from "./store/synthetic.js";

afterAll(cleanupTmp);

const QUESTIONS = [
  "missile treaty talks in geneva",
  "football striker goal",
  "vaccine trial patients hospital",
  "cyber security envoy",
  "housing tower planning vote",
];

/** Dense and keyword answers of a snapshot, by passage string id (labels differ between engines). */
async function answers(snap: Snapshot, probes: Float32Array[], k = 10, filter?: { articleId: string }) {
  const name = async (ids: number[]) => (await snap.passages(ids)).map((p) => p.id);
  const dense = [];
  for (const q of probes) {
    const hits = await snap.dense(q, k, filter);
    dense.push({ ids: await name(hits.map((h) => h.id)), scores: hits.map((h) => h.score) });
  }
  const keyword = [];
  for (const q of QUESTIONS) {
    const { hits, queryTerms } = await snap.keyword(q, k, filter);
    keyword.push({ ids: await name(hits.map((h) => h.id)), scores: hits.map((h) => h.score), matched: hits.map((h) => h.matched), queryTerms });
  }
  return { dense, keyword };
}

function expectSameAnswers(a: Awaited<ReturnType<typeof answers>>, b: Awaited<ReturnType<typeof answers>>) {
  expect(a.dense.map((d) => d.ids)).toEqual(b.dense.map((d) => d.ids));
  a.dense.forEach((d, i) => d.scores.forEach((s, j) => expect(s).toBeCloseTo(b.dense[i]!.scores[j]!, 5)));
  expect(a.keyword.map((d) => [d.ids, d.matched, d.queryTerms])).toEqual(b.keyword.map((d) => [d.ids, d.matched, d.queryTerms]));
  a.keyword.forEach((d, i) => d.scores.forEach((s, j) => expect(s).toBeCloseTo(b.keyword[i]!.scores[j]!, 9)));
}

const probes = Array.from({ length: 6 }, (_, i) => vectorOf(`probe ${i}`));
const memoryOf = (articles: ReturnType<typeof corpus>) => new MemorySnapshot(rowsOf(articles), META);

describe("FileStore", () => {
  it("writes a whole index, reopens it from disk, and answers like the exact reference", async () => {
    const dir = mkTmp("citebot-fs-");
    const articles = corpus(40);
    const store = new FileStore(dir);
    expect(await store.current()).toBeUndefined();
    const { stats } = await store.write(changes("replace", articles));
    expect(stats.passagesWritten).toBe(320);
    await store.close();

    const reopened = new FileStore(dir);
    const snap = (await reopened.current())!;
    const memory = memoryOf(articles);
    expect(snap.info).toMatchObject({ model: META.model, dimensions: DIM, articles: 40, passages: 320, settingsHash: META.settingsHash });
    expectSameAnswers(await answers(snap, probes), await answers(memory, probes));
    expectSameAnswers(await answers(snap, probes, 5, { articleId: "a007" }), await answers(memory, probes, 5, { articleId: "a007" }));
    expect(await snap.articles()).toEqual(articles);
    expect(await snap.articleHashes()).toEqual(await memory.articleHashes());
    const ids = await snap.passageIds("a003");
    expect((await snap.passages(ids)).map((p) => p.id)).toEqual((await memory.passages(await memory.passageIds("a003"))).map((p) => p.id));
    const [v] = await snap.vectors([ids[2]!]);
    const [w] = await memory.vectors([(await memory.passageIds("a003"))[2]!]);
    v!.forEach((x, d) => expect(x).toBeCloseTo(w![d]!, 6));
    expect(await snap.documentFrequency(["missil", "geneva", "nothing"])).toEqual(await memory.documentFrequency(["missil", "geneva", "nothing"]));
    await expect(snap.passages([9999])).rejects.toThrow(/no passage 9999/);
    expect(await snap.passageIds("nope")).toEqual([]);
    await reopened.close();
  });

  it("updates only the changed articles: untouched ids and results stay, removals vanish, results equal a rebuild's", async () => {
    for (const foldAt of [4096, 10]) {
      const dir = mkTmp("citebot-fs-");
      const store = new FileStore(dir, { foldAt });
      const articles = corpus(30);
      const first = (await store.write(changes("replace", articles))).snapshot;
      const keptIds = await first.passageIds("a010");
      const keptPassages = await first.passages(keptIds);
      const filtered = await answers(first, probes, 5, { articleId: "a010" });

      // Change two articles, add one, remove one; then again, so the delta grows and (foldAt 10) folds.
      const edited = [makeArticle("a002", 8, 9001), makeArticle("a020", 6, 9002), makeArticle("new1", 5, 9003)];
      const { snapshot: second, stats } = await store.write(changes("update", edited, ["a005"]));
      expect(stats).toMatchObject({ articlesWritten: 3, articlesRemoved: 1, passagesWritten: 19, passagesRemoved: 24 });
      const edited2 = [makeArticle("a002", 7, 9004), makeArticle("new2", 4, 9005)];
      const { snapshot: third } = await store.write(changes("update", edited2, ["new1", "a029"]));

      const final = corpus(30)
        .filter((a) => !["a002", "a005", "a020", "a029"].includes(a.id))
        .concat([edited[1]!, edited2[0]!, edited2[1]!]);
      // Untouched article: same ids, same passages, same filtered results.
      expect(await third.passageIds("a010")).toEqual(keptIds);
      expect(await third.passages(keptIds)).toEqual(keptPassages);
      // (Keyword scores move with the collection's statistics; which passages match does not.)
      const now = await answers(third, probes, 5, { articleId: "a010" });
      expect(now.dense).toEqual(filtered.dense);
      expect(now.keyword.map((k) => [...k.ids].sort())).toEqual(filtered.keyword.map((k) => [...k.ids].sort()));
      // Removed articles are gone everywhere.
      for (const gone of ["a005", "new1", "a029"]) {
        expect(await third.passageIds(gone)).toEqual([]);
        expect((await third.keyword(gone.replace(/\W/g, ""), 10)).hits).toEqual([]);
      }
      expect((await third.articles()).map((a) => a.id).sort()).toEqual(final.map((a) => a.id).sort());
      expect(third.info.passages).toBe(final.reduce((n, a) => n + rowsOf([a])[0]!.passages.length, 0));
      // Results equal the exact reference over the final articles (= what a full rebuild gives).
      expectSameAnswers(await answers(third, probes), await answers(memoryOf(final), probes));
      // And reopening from disk gives the same.
      const again = (await new FileStore(dir).current())!;
      expectSameAnswers(await answers(again, probes), await answers(third, probes));
      expect(second.info.version).not.toBe(third.info.version);
      const snapDir = fs.realpathSync(path.join(dir, "current"));
      const files = fs.readdirSync(snapDir);
      if (foldAt === 10) expect(files.filter((f) => f.startsWith("hnsw-"))).not.toContain("hnsw-1.bin");
      else expect(files).toContain("hnsw-1.bin"); // the base stays as written: carried, not rewritten
      await store.close();
    }
  });

  it("holds an empty index, grows it by updates, and skips a write that changes nothing", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir);
    const { snapshot: empty } = await store.write(changes("replace", []));
    expect(empty.info).toMatchObject({ articles: 0, passages: 0 });
    expect(await empty.dense(probes[0]!, 5)).toEqual([]);
    expect((await empty.keyword("missile", 5)).hits).toEqual([]);
    const { snapshot: one } = await store.write(changes("update", [makeArticle("solo", 3, 8)]));
    expect(await one.passageIds("solo")).toEqual([0, 1, 2]);
    expect((await one.dense(vectorOf((await one.passages([1]))[0]!.text), 1))[0]!.id).toBe(1);
    const { snapshot: same, stats } = await store.write(changes("update", []));
    expect(same.info.version).toBe(one.info.version);
    expect(stats.passagesWritten).toBe(0);
    const reopened = (await new FileStore(dir).current())!;
    expect((await reopened.keyword("solox1", 5)).hits.map((h) => h.id)).toEqual([1]);
    await store.close();
  });

  it("compacts article texts spread over too many files into one, texts intact", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir, { maxTextFiles: 2 });
    const articles = corpus(4, 3);
    await store.write(changes("replace", articles));
    const edits = [makeArticle("a001", 3, 41), makeArticle("b1", 2, 42), makeArticle("a003", 4, 43)];
    for (const e of edits) await store.write(changes("update", [e], e.id === "a003" ? ["a000"] : []));
    const snap = (await new FileStore(dir).current())!;
    const files = fs.readdirSync(fs.realpathSync(path.join(dir, "current")));
    expect(files.filter((f) => f.startsWith("texts-")).length).toBeLessThanOrEqual(2);
    const want = [articles[2]!, ...edits].sort((a, b) => a.id.localeCompare(b.id));
    expect((await snap.articles()).sort((a, b) => a.id.localeCompare(b.id))).toEqual(want);
    for (const a of want) expect((await snap.passages(await snap.passageIds(a.id))).map((p) => p.text)).toEqual(rowsOf([a])[0]!.passages.map((p) => p.text));
    await store.close();
  });

  it("carries unchanged big files into the new snapshot as hard links, not copies", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir);
    await store.write(changes("replace", corpus(10)));
    const before = fs.realpathSync(path.join(dir, "current"));
    await store.write(changes("update", [makeArticle("a001", 3, 77)]));
    const after = fs.realpathSync(path.join(dir, "current"));
    expect(after).not.toBe(before);
    expect(fs.statSync(path.join(after, "hnsw-1.bin")).ino).toBe(fs.statSync(path.join(before, "hnsw-1.bin")).ino);
    expect(fs.statSync(path.join(after, "texts-1.bin")).ino).toBe(fs.statSync(path.join(before, "texts-1.bin")).ino);
    await store.close();
  });

  it("refuses an update that changes the model, and bad rows, without touching the index", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir);
    const { snapshot } = await store.write(changes("replace", corpus(3)));
    await expect(store.write({ ...changes("update", [makeArticle("x", 2, 1)]), model: "other@2" })).rejects.toThrow(/replace/);
    const bad = changes("update", [makeArticle("x", 2, 1)]);
    bad.upsert[0]!.vectors = new Float32Array(3);
    await expect(store.write(bad)).rejects.toThrow(/do not match/);
    expect((await store.current())!.info.version).toBe(snapshot.info.version);
    await store.close();
  });

  it("detects a flipped byte in every file of a snapshot (IndexError, never a crash)", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir);
    await store.write(changes("replace", corpus(12)));
    // An update leaves a delta, a second keyword segment and deletion marks: every kind of file.
    await store.write(changes("update", [makeArticle("a001", 4, 31)], ["a002"]));
    await store.close();
    const snapDir = fs.realpathSync(path.join(dir, "current"));
    const files = fs.readdirSync(snapDir).sort();
    expect(files.some((f) => f.endsWith(".del"))).toBe(true);
    expect(files.filter((f) => f.endsWith(".seg")).length).toBe(2);
    for (const file of files) {
      const copy = mkTmp("citebot-fs-tamper-");
      const target = path.join(copy, "snapshots", "s");
      fs.mkdirSync(target, { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(snapDir, f), path.join(target, f));
      fs.symlinkSync(path.join("snapshots", "s"), path.join(copy, "current"));
      const bytes = fs.readFileSync(path.join(target, file));
      const at = file === "manifest.json" ? bytes.indexOf("passages") + 2 : Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0x20;
      fs.writeFileSync(path.join(target, file), bytes);
      const err = await new FileStore(copy).current().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, file).toBeInstanceOf(IndexError);
      expect((err as Error).message, file).toMatch(/index/);
    }
    // A truncated file and a missing file too.
    fs.truncateSync(path.join(snapDir, "passages.bin"), 8);
    await expect(new FileStore(dir).current()).rejects.toThrow(/truncated/);
  });

  it("graph on-demand (a writer): the graph is verified at open but loaded only by a dense search; answers equal an eager open's", async () => {
    const dir = mkTmp("citebot-fs-");
    const writer = new FileStore(dir);
    await writer.write(changes("replace", corpus(20)));
    await writer.write(changes("update", [makeArticle("a003", 5, 77)], ["a004"]));
    await writer.close();
    const opened = (snap: Snapshot) => (snap as unknown as { shared: { snap: FileSnapshot } }).shared.snap;
    const eagerStore = new FileStore(dir);
    const eager = (await eagerStore.current())!;
    expect(opened(eager).graphLoaded).toBe(true);
    const lazyStore = new FileStore(dir, { graph: "on-demand" });
    const lazy = (await lazyStore.current())!;
    expect(opened(lazy).graphLoaded).toBe(false);
    // What a planner reads works without the graph: hashes, passages, stored vectors of the base.
    const ids = await lazy.passageIds("a010");
    expect(await lazy.vectors(ids)).toEqual(await eager.vectors(ids));
    expect(await lazy.articleHashes()).toEqual(await eager.articleHashes());
    expect(opened(lazy).graphLoaded).toBe(false);
    expectSameAnswers(await answers(lazy, probes), await answers(eager, probes));
    expect(opened(lazy).graphLoaded).toBe(true);
    await eagerStore.close();
    await lazyStore.close();

    // Verified at open all the same: a byte changed in the graph's file is refused before any search.
    const snapDir = fs.realpathSync(path.join(dir, "current"));
    const hnsw = fs.readdirSync(snapDir).find((f) => f.startsWith("hnsw-"))!;
    const bytes = fs.readFileSync(path.join(snapDir, hnsw));
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
    fs.writeFileSync(path.join(snapDir, hnsw), bytes);
    await expect(new FileStore(dir, { graph: "on-demand" }).current()).rejects.toThrow(new RegExp(`${hnsw} was changed or damaged \\(its checksum`));
  });

  it("a write after current() reuses the opened state: the reader's snapshot is unchanged, the new one equals a rebuild", async () => {
    const dir = mkTmp("citebot-fs-");
    const first = new FileStore(dir);
    await first.write(changes("replace", corpus(16)));
    await first.close();
    // maxTextFiles 1: the update compacts the texts, moving every record's text offset.
    const store = new FileStore(dir, { maxTextFiles: 1 });
    const reader = (await store.current())!;
    const before = await answers(reader, probes);
    const textsBefore = (await reader.articles()).map((a) => a.text);
    const edited = [makeArticle("a002", 6, 501), makeArticle("n001", 4, 502)];
    const { snapshot: after } = await store.write(changes("update", edited, ["a007"]));
    expectSameAnswers(await answers(reader, probes), before);
    expect((await reader.articles()).map((a) => a.text)).toEqual(textsBefore);
    const final = corpus(16)
      .filter((a) => !["a002", "a007"].includes(a.id))
      .concat(edited);
    expectSameAnswers(await answers(after, probes), await answers(memoryOf(final), probes));
    const reopened = (await new FileStore(dir).current())!;
    expectSameAnswers(await answers(reopened, probes), await answers(memoryOf(final), probes));
    expect(fs.readdirSync(fs.realpathSync(path.join(dir, "current"))).filter((f) => f.startsWith("texts-"))).toHaveLength(1);
    await reader.close();
    await reopened.close();
    await store.close();
  });

  it("articles' texts are decoded when read: equal to what was written, kept by spread and JSON, and replaceable", async () => {
    const dir = mkTmp("citebot-fs-");
    const articles = corpus(12);
    const store = new FileStore(dir);
    await store.write(changes("replace", articles));
    const snap = (await new FileStore(dir).current())!;
    const read = await snap.articles();
    const byId = new Map(read.map((a) => [a.id, a]));
    for (const a of articles) expect(byId.get(a.id)!.text).toBe(a.text);
    const one = read[3]!;
    expect(Object.keys(one).slice(0, 4)).toEqual(["id", "title", "file", "text"]);
    expect({ ...one }.text).toBe(one.text);
    expect(JSON.parse(JSON.stringify(one)).text).toBe(one.text);
    const changed = { ...one, text: `${one.text} And one more sentence.` };
    expect(changed.text.endsWith("one more sentence.")).toBe(true);
    one.text = "replaced";
    expect(one.text).toBe("replaced");
    expect((await snap.articles())[3]!.text).toBe(articles.find((a) => a.id === one.id)!.text);
    await snap.close();
    await store.close();
  });

  it("names the earlier on-disk format instead of calling it foreign", async () => {
    const dir = mkTmp("citebot-fs-");
    fs.mkdirSync(path.join(dir, "builds", "x"), { recursive: true });
    fs.writeFileSync(path.join(dir, "builds", "x", "manifest.json"), JSON.stringify({ format: "citebot-index", version: 4 }));
    fs.symlinkSync(path.join("builds", "x"), path.join(dir, "current"));
    await expect(new FileStore(dir).current()).rejects.toThrow(/earlier on-disk format/);
    fs.writeFileSync(path.join(dir, "builds", "x", "manifest.json"), "{not json");
    await expect(new FileStore(dir).current()).rejects.toThrow(IndexError);
  });

  for (const kind of ["xxh3", "sha256"] as const)
    it(`catches a forged file even when the manifest was re-signed to match it (${kind}: structure checks, never a native crash)`, async () => {
      const dir = mkTmp("citebot-fs-");
      const store = new FileStore(dir);
      await store.write(changes("replace", corpus(12)));
      await store.close();
      const snapDir = fs.realpathSync(path.join(dir, "current"));
      const forge = (file: string, edit: (b: Buffer) => Buffer | undefined) => {
        const copy = mkTmp("citebot-fs-forged-");
        fs.cpSync(snapDir, path.join(copy, "snapshots", "s"), { recursive: true });
        fs.symlinkSync(path.join("snapshots", "s"), path.join(copy, "current"));
        const target = path.join(copy, "snapshots", "s");
        let bytes: Buffer = fs.readFileSync(path.join(target, file));
        bytes = edit(bytes) ?? bytes;
        fs.writeFileSync(path.join(target, file), bytes);
        const m = JSON.parse(fs.readFileSync(path.join(target, "manifest.json"), "utf8"));
        m.files[file] = forgedEntry(bytes, kind);
        m.integrity = manifestIntegrity(m);
        fs.writeFileSync(path.join(target, "manifest.json"), JSON.stringify(m));
        return new FileStore(copy).current();
      };
      // A neighbour id far outside the graph (hnswlib would read out of bounds).
      await expect(forge("hnsw-1.bin", (b) => void b.writeUInt32LE(0xfffffff0, 96 + 4))).rejects.toThrow(/hnsw-1\.bin: element 0 links to/);
      // A label beyond the passage table.
      const labelAt = (b: Buffer) => 96 + Number(b.readBigUInt64LE(32));
      await expect(forge("hnsw-1.bin", (b) => void b.writeUInt32LE(1_000_000, labelAt(b)))).rejects.toThrow(/damaged label/);
      // A passage that ends past its article's text.
      await expect(forge("passages.bin", (b) => void b.writeInt32LE(1e9, 3 * 4))).rejects.toThrow(/passages\.bin: passage 0/);
      // A keyword doc that names no live passage.
      await expect(forge("kw-1-0.seg", (b) => void b.writeUInt32LE(5000, 32 + 4 * 95))).rejects.toThrow(IndexError);
      // An article record pointing past its text file.
      await expect(forge("articles.json", (b) => Buffer.from(b.toString("utf8").replace('"o":0', '"o":9999999')))).rejects.toThrow(
        /articles\.json: an article record is malformed/,
      );
    });

  it("reads a store-format-1 snapshot (SHA-256 checksums), catches a changed byte in its graph, and carries its files into the next write", async () => {
    const dir = mkTmp("citebot-fs-");
    const articles = corpus(12);
    const store = new FileStore(dir);
    await store.write(changes("replace", articles));
    await store.close();
    const snapDir = fs.realpathSync(path.join(dir, "current"));
    const manifestFile = path.join(snapDir, "manifest.json");
    const m = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
    for (const f of Object.keys(m.files)) m.files[f] = forgedEntry(fs.readFileSync(path.join(snapDir, f)), "sha256");
    m.version = 1;
    m.integrity = manifestIntegrity(m);
    fs.writeFileSync(manifestFile, JSON.stringify(m));
    // A byte of a copy's format-1 graph changed at the same size: a checksum mismatch, not a crash.
    const copy = mkTmp("citebot-fs-v1-");
    fs.cpSync(snapDir, path.join(copy, "snapshots", "s"), { recursive: true });
    fs.symlinkSync(path.join("snapshots", "s"), path.join(copy, "current"));
    const graph = path.join(copy, "snapshots", "s", "hnsw-1.bin");
    const bytes = fs.readFileSync(graph);
    bytes[200] = bytes[200]! ^ 0xff;
    fs.writeFileSync(graph, bytes);
    await expect(new FileStore(copy).current()).rejects.toThrow(/hnsw-1\.bin was changed or damaged/);

    const old = new FileStore(dir);
    expectSameAnswers(await answers((await old.current())!, probes), await answers(memoryOf(articles), probes));
    // An incremental write keeps the carried files' SHA-256 entries; new files get XXH3.
    const edited = { ...articles[0]!, text: `${articles[0]!.text} One more sentence about trains.` };
    await old.write(changes("update", [edited]));
    const next = JSON.parse(fs.readFileSync(path.join(fs.realpathSync(path.join(dir, "current")), "manifest.json"), "utf8"));
    expect(next.version).toBe(2);
    expect(next.files["hnsw-1.bin"].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(next.files["passages.bin"].xxh3).toMatch(/^[0-9a-f]{16}$/);
    expectSameAnswers(await answers((await old.current())!, probes), await answers(memoryOf([edited, ...articles.slice(1)]), probes));
    await old.close();
  });

  it("a write killed with SIGKILL at any point leaves the old or the new snapshot, whole", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir);
    await store.write(changes("replace", corpus(20)));
    await store.close();
    const versions = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const child = spawnWriter(dir, 200, "pipe");
      // Once it has written at least once (start-up under load varies), kill it at a random later moment.
      await new Promise<void>((resolve) => {
        child.stdout!.on("data", () => resolve());
        child.once("close", () => resolve());
      });
      await new Promise((r) => setTimeout(r, Math.random() * 250));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("close", r));
      const s = new FileStore(dir);
      const snap = (await s.current())!;
      versions.add(snap.info.version);
      // Consistent: every live passage is readable, the keyword side and the table agree, a03 is one of its two versions.
      const all = (await snap.articles()).flatMap((a) => a.id);
      let passages = 0;
      for (const id of all) passages += (await snap.passages(await snap.passageIds(id))).length;
      expect(passages).toBe(snap.info.passages);
      const a001 = (await snap.articles()).find((a) => a.id === "a001")!;
      expect([makeArticle("a001", 8, 5000).text, makeArticle("a001", 8, 5001).text, corpus(20)[1]!.text]).toContain(a001.text);
      expect((await snap.dense(probes[0]!, 5)).length).toBe(5);
      await s.close();
    }
    // The kills landed after some writes completed (the index moved on), not all before the first.
    expect(versions.size).toBeGreaterThan(1);
    // And a writer after the crashes finds the lock of the dead process and takes it over.
    const s = new FileStore(dir);
    await s.write(changes("update", [makeArticle("late", 2, 3)]));
    expect(await (await s.current())!.passageIds("late")).toHaveLength(2);
    await s.close();
  }, 120_000);

  it("watch fires once when another process writes", async () => {
    const dir = mkTmp("citebot-fs-");
    const store = new FileStore(dir, { pollMs: 50 });
    await store.write(changes("replace", corpus(5)));
    let calls = 0;
    const stop = store.watch(() => calls++);
    const child = spawnWriter(dir, 1);
    const code = await new Promise((r) => child.once("close", r));
    expect(code).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    expect(calls).toBe(1);
    expect(await (await store.current())!.passageIds("a001")).toHaveLength(8);
    // Its own writes are not reported back to it.
    await store.write(changes("update", [makeArticle("own", 2, 4)]));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
    stop();
    await store.close();
  }, 60_000);
});

function spawnWriter(dir: string, times: number, stdout: "ignore" | "pipe" = "ignore"): ChildProcess {
  // One process (no tsx wrapper in between), so SIGKILL hits the writer itself.
  return spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test", "store", "write-child.ts"), dir, String(times)], {
    cwd: ROOT,
    stdio: ["ignore", stdout, "ignore"],
  });
}

describe("planChanges", () => {
  /** A fake embedder: each text's synthetic vector, counting what it is asked to embed. */
  const fakeEmbedder = (modelId: string) => {
    const seen: string[] = [];
    const embedder: Embedder = {
      modelId,
      dimensions: DIM,
      embed: async (texts: string[]) => {
        seen.push(...texts);
        return texts.map((t) => vectorOf(t));
      },
      embedTokens: async () => [],
    };
    return { embedder, seen };
  };

  it("replaces when there is no index or the model changed, else updates only new and changed articles", async () => {
    const store = new FileStore(mkTmp("citebot-fs-"));
    const articles = corpus(6, 4);
    const a = fakeEmbedder("fake-a");
    const first = await planChanges(articles, undefined, a.embedder);
    expect(first.mode).toBe("replace");
    expect(a.seen).toHaveLength(24);
    const { snapshot } = await store.write(first);

    a.seen.length = 0;
    const edited = [...articles.slice(0, 5), { ...articles[5]!, text: `${articles[5]!.text} A brand new closing sentence.` }, makeArticle("z9", 2, 99)];
    const second = await planChanges(edited.slice(1), snapshot, a.embedder);
    expect(second.mode).toBe("update");
    expect(second.upsert.map((r) => r.article.id)).toEqual(["a005", "z9"]);
    expect(second.remove).toEqual(["a000"]);
    expect(a.seen).toEqual(["A brand new closing sentence.", ...rowsOf([edited[6]!])[0]!.passages.map((p) => p.text)]);
    expect(second.stats).toEqual({ embedded: 3, reused: 4 });
    const { snapshot: after } = await store.write(second);
    expect(await after.passageIds("a000")).toEqual([]);
    expect(await after.passageIds("a001")).toEqual(await snapshot.passageIds("a001"));

    const b = fakeEmbedder("fake-b");
    const third = await planChanges(edited, after, b.embedder);
    expect(third.mode).toBe("replace");
    expect(b.seen).toHaveLength(third.upsert.reduce((n, r) => n + r.passages.length, 0));
    await store.close();
  });
});
