// A tamper-evident index: every file of a snapshot edited at the same size (so a size check can't
// see it), at several positions, the HNSW header's fields among them. Each edit must mean "rebuild,
// saying why", never a native crash or damaged text quoted as an article. Then the same kind of
// edits with the manifest re-signed (checksums and self-checksum recomputed, as someone who knows
// the format could do): the structural checks must still refuse the file before hnswlib or the
// retriever touches it. Where a crash could happen, the CLI runs as a child and must exit 0 with
// an answer. The pristine index is an update of a first build, so it holds every kind of file: a
// base HNSW, a delta, two keyword segments and deletion marks.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { LITE_MODEL, TransformersEmbedder } from "../src/embed/embedder.js";
import { IndexError, indexDirFor } from "../src/index/store.js";
import { currentSnapshotDir, DELTA, MANIFEST, manifestIntegrity, PASSAGES, ROW, type StoreManifest, WHERE } from "../src/store/fs/format.js";
import { HNSW_HEADER_BYTES, readHnswHeader } from "../src/store/fs/hnswfile.js";
import { FileStore } from "../src/store/fs/store.js";
import { type ChildRun, cleanupTmp, copyRealCorpus, ENVOY_ID, EXTRA_ARTICLE, forgedEntry, mkTmp, ROOT, runChild } from "./helpers.js";

/** What the index folder holds, besides the corpus stamp Citebot.open keeps there (corpus-stamp.json). */
const indexEntries = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f !== "corpus-stamp.json")
    .sort();

const QUESTION = "What did Antonov say about the Geneva summit?";
let embedder: TransformersEmbedder;
let corpusDir: string;
let pristineData: string;
let pristine: StoreManifest;

beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ model: LITE_MODEL, cacheDir: mkTmp("citebot-cache-") });
  corpusDir = copyRealCorpus([EXTRA_ARTICLE]);
  pristineData = mkTmp("citebot-data-");
  const file = path.join(corpusDir, "ferry.txt");
  fs.writeFileSync(file, "Ferry news\n\nThe harbour ferry resumed service on Saturday. It carried 212 passengers.\n");
  expect((await Citebot.open({ corpusDir, dataDir: pristineData, embedder })).status.index).toBe("built");
  // Change one small article: an update removes its passages (deletion marks, too few to merge the
  // keyword segments) and adds the new ones (delta).
  fs.writeFileSync(file, "Ferry news\n\nThe harbour ferry resumed service on Sunday. It carried 215 passengers.\n");
  const bot = await Citebot.open({ corpusDir, dataDir: pristineData, embedder });
  expect(bot.status).toMatchObject({ index: "built", reason: "the articles changed" });
  pristine = manifestOf(currentSnapshotDir(bot.indexDir)!);
  expect(pristine.hnsw).toBeDefined();
  expect(pristine.segments.length).toBe(2);
  expect(pristine.segments.some((s) => s.deletions)).toBe(true);
  expect(pristine.files[DELTA]!.size).toBeGreaterThan(4);
});
afterAll(cleanupTmp);

const manifestOf = (snapDir: string) => JSON.parse(fs.readFileSync(path.join(snapDir, MANIFEST), "utf8")) as StoreManifest;

/** A fresh copy of the pristine index (symlinks kept as they are); returns its data dir, index dir and snapshot folder. */
function copyIndex(): { dataDir: string; indexDir: string; snapDir: string } {
  const dataDir = mkTmp("citebot-data-");
  fs.cpSync(pristineData, dataDir, { recursive: true, verbatimSymlinks: true });
  const indexDir = indexDirFor(dataDir, corpusDir);
  return { dataDir, indexDir, snapDir: currentSnapshotDir(indexDir)! };
}

/** Edits one byte in place (the file keeps its size). */
function flipByte(file: string, at: number): void {
  const buf = fs.readFileSync(file);
  const pos = at < 0 ? buf.length + at : at;
  // Another printable character for text, another bit pattern for binary: never the same byte.
  buf[pos] = buf[pos] === 0x30 ? 0x31 : buf[pos]! >= 0x20 && buf[pos]! < 0x7f ? (buf[pos]! === 0x7e ? 0x21 : buf[pos]! + 1) : buf[pos]! ^ 0x01;
  fs.writeFileSync(file, buf);
}

/** Overwrites bytes at `at` (same size). */
function patch(file: string, at: number, bytes: Buffer): void {
  const buf = fs.readFileSync(file);
  bytes.copy(buf, at);
  fs.writeFileSync(file, buf);
}

/** Recomputes the manifest's sizes, checksums and self-checksum after an edit: the forger's move. */
function resign(snapDir: string, edit: (m: StoreManifest) => void = () => undefined): void {
  const m = manifestOf(snapDir);
  for (const f of Object.keys(m.files)) {
    const bytes = fs.readFileSync(path.join(snapDir, f));
    m.files[f] = forgedEntry(bytes, m.files[f]!.sha256 ? "sha256" : "xxh3");
  }
  edit(m);
  m.integrity = manifestIntegrity(m);
  fs.writeFileSync(path.join(snapDir, MANIFEST), JSON.stringify(m, null, 1));
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const nan = () => Buffer.from(new Float32Array([Number.NaN]).buffer);
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The store refuses it (IndexError matching `why`); Citebot.open rebuilds saying so, answers, and the next open just loads. */
async function expectRebuild(dataDir: string, indexDir: string, why: RegExp): Promise<void> {
  const err = await new FileStore(indexDir).current().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IndexError);
  expect((err as Error).message).toMatch(why);
  const bot = await Citebot.open({ corpusDir, dataDir, embedder });
  expect(bot.status.index).toBe("built");
  expect(bot.status.reason).toMatch(why);
  const answer = await bot.answer(QUESTION);
  expect(answer.answered).toBe(true);
  expect(answer.hits[0]!.article.id).toBe(ENVOY_ID);
  expect((await Citebot.open({ corpusDir, dataDir, embedder })).status.index).toBe("loaded");
}

const hnswFile = () => pristine.hnsw!.file;
const deltaCount = () => fs.readFileSync(path.join(currentSnapshotDir(indexDirFor(pristineData, corpusDir))!, DELTA)).readInt32LE(0);

describe("every file of a snapshot edited at the same size is detected (checksums), and rebuilt", () => {
  it("the pristine snapshot holds every kind of file", () => {
    const names = Object.keys(pristine.files);
    for (const kind of [
      /^articles\.json$/,
      /^words\.txt$/,
      /^passages\.bin$/,
      /^delta\.bin$/,
      /^texts-\d+\.bin$/,
      /^hnsw-\d+\.bin$/,
      /^kw-[\d-]+\.seg$/,
      /^kw-[\w-]+\.del$/,
    ])
      expect(
        names.some((n) => kind.test(n)),
        String(kind),
      ).toBe(true);
    expect(deltaCount()).toBeGreaterThan(0);
  });

  for (const [where, at] of [
    ["first byte", 0],
    ["middle", 0.5],
    ["last byte", -1],
  ] as const) {
    it(`each data file: ${where}`, async () => {
      for (const file of Object.keys(pristine.files)) {
        const { dataDir, indexDir, snapDir } = copyIndex();
        const target = path.join(snapDir, file);
        const size = fs.statSync(target).size;
        flipByte(target, at === 0.5 ? Math.floor(size / 2) : at);
        expect(fs.statSync(target).size).toBe(size);
        await expectRebuild(dataDir, indexDir, new RegExp(`${literal(file)} was changed or damaged \\(its checksum does not match the manifest\\)`));
      }
    }, 60_000);
  }

  // Each HNSW header field hnswlib trusts (these crashed `ask` with a segfault or abort in the old format).
  const header: Array<[string, number, Buffer]> = [
    ["max elements", 8, u64(1 << 20)],
    ["element count", 16, u64(5)],
    ["bytes per element", 24, u64(16)],
    ["max level", 48, u32(7)],
    ["entry point", 52, u32(3)],
    ["maxM0", 64, u64(400)],
    ["M", 72, u64(2)],
  ];
  for (const [field, at, bytes] of header) {
    it(`base HNSW header: ${field}`, async () => {
      const { dataDir, indexDir, snapDir } = copyIndex();
      const target = path.join(snapDir, hnswFile());
      const size = fs.statSync(target).size;
      patch(target, at, bytes);
      expect(fs.statSync(target).size).toBe(size);
      await expectRebuild(dataDir, indexDir, new RegExp(`${literal(hnswFile())} was changed or damaged`));
    });
  }

  it("delta.bin: a NaN vector", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, DELTA), 4 + deltaCount() * 4 + 8, nan());
    await expectRebuild(dataDir, indexDir, /delta\.bin was changed or damaged/);
  });

  it("passages.bin: an offset changed (would quote the wrong text as the article's)", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const target = path.join(snapDir, PASSAGES);
    const row = fs.readFileSync(target).readInt32LE(3 * 4);
    patch(target, 3 * 4, u32(row + 1)); // passage 0's end
    await expectRebuild(dataDir, indexDir, /passages\.bin was changed or damaged/);
  });

  for (const [field, edit] of [
    ["passage count", (s: string) => s.replace(/"passages": (\d)/, (_, d: string) => `"passages": ${d === "9" ? "8" : Number(d) + 1}`)],
    ["dimensions", (s: string) => s.replace(/"dimensions": (\d)/, (_, d: string) => `"dimensions": ${d === "9" ? "8" : Number(d) + 1}`)],
    ["a checksum", (s: string) => s.replace(/"xxh3": "(.)/, (_, c: string) => `"xxh3": "${c === "0" ? "1" : "0"}`)],
    ["the HNSW entry point it records", (s: string) => s.replace(/"entryPoint": (\d)/, (_, d: string) => `"entryPoint": ${d === "9" ? "8" : Number(d) + 1}`)],
    ["its creation time", (s: string) => s.replace(/"createdAt": "(\d)/, (_, d: string) => `"createdAt": "${d === "9" ? "8" : Number(d) + 1}`)],
  ] as const) {
    it(`manifest.json: ${field}`, async () => {
      const { dataDir, indexDir, snapDir } = copyIndex();
      const target = path.join(snapDir, MANIFEST);
      const before = fs.readFileSync(target, "utf8");
      const after = edit(before);
      expect(after).not.toBe(before);
      expect(after.length).toBe(before.length);
      fs.writeFileSync(target, after);
      await expectRebuild(dataDir, indexDir, /manifest was changed or damaged/);
    });
  }
});

describe("forged files with a re-signed manifest are still refused before any parser trusts them", () => {
  const header = () => readHnswHeader(fs.readFileSync(path.join(currentSnapshotDir(indexDirFor(pristineData, corpusDir))!, hnswFile())));
  const hnswWhy = (why: string) => new RegExp(`${literal(hnswFile())}: ${why}`);

  it("base HNSW: an entry point that is not an element (the manifest still records the true one)", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, hnswFile()), 52, u32(header().count + 1000));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, hnswWhy("its entry point is \\d+, the manifest says \\d+"));
  });

  it("base HNSW: entry point and manifest both forged to an element below the top level", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const h = header();
    // An element whose upper-level link list is empty (level 0): the HNSW top level is above it.
    const buf = fs.readFileSync(path.join(snapDir, hnswFile()));
    let at = HNSW_HEADER_BYTES + h.count * h.sizeDataPerElement;
    let low = -1;
    for (let i = 0; i < h.count; i++) {
      const size = buf.readUInt32LE(at);
      if (size === 0 && low < 0) low = i;
      at += 4 + size;
    }
    expect(h.maxLevel).toBeGreaterThan(0);
    expect(low).toBeGreaterThanOrEqual(0);
    patch(path.join(snapDir, hnswFile()), 52, u32(low));
    resign(snapDir, (m) => (m.hnsw!.summary.entryPoint = low));
    await expectRebuild(dataDir, indexDir, hnswWhy("its entry point is on level 0, not on the top level"));
  });

  it("base HNSW: max level raised in the header and the manifest", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const level = header().maxLevel + 3;
    patch(path.join(snapDir, hnswFile()), 48, u32(level));
    resign(snapDir, (m) => (m.hnsw!.summary.maxLevel = level));
    await expectRebuild(dataDir, indexDir, hnswWhy("its entry point is on level \\d+, not on the top level"));
  });

  it("base HNSW: element count lowered in the header and the manifest", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const count = header().count - 1;
    patch(path.join(snapDir, hnswFile()), 16, u64(count));
    resign(snapDir, (m) => (m.hnsw!.summary.elements = count));
    await expectRebuild(dataDir, indexDir, new RegExp(literal(hnswFile())));
  });

  it("base HNSW: a neighbour id beyond the elements", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, hnswFile()), HNSW_HEADER_BYTES + 4, u32(header().count + 77));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, hnswWhy("element 0 links to \\d+, beyond its \\d+ elements"));
  });

  it("base HNSW: a NaN in an element's vector", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const h = header();
    patch(path.join(snapDir, hnswFile()), HNSW_HEADER_BYTES + 3 * h.sizeDataPerElement + h.offsetData + 8, nan());
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, hnswWhy("element 3 holds a vector that is not a number"));
  });

  it("base HNSW: a label beyond the passage table", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const h = header();
    patch(path.join(snapDir, hnswFile()), HNSW_HEADER_BYTES + h.labelOffset, u64(1_000_000));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, hnswWhy("element 0 has a damaged label"));
  });

  it("delta.bin: a NaN", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, DELTA), 4 + deltaCount() * 4 + 8, nan());
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, /delta\.bin: a vector holds a value that is not a number/);
  });

  it("delta.bin: a vector labelled with a passage that is not in the delta", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, DELTA), 4, u32(1_000_000));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, /delta\.bin: vector 0 belongs to no passage of the delta/);
  });

  it("passages.bin: an offset beyond its article", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const target = path.join(snapDir, PASSAGES);
    const table = fs.readFileSync(target);
    let live = -1;
    for (let label = 0; label < pristine.labels && live < 0; label++) if (table.readInt32LE((label * ROW + 4) * 4) === WHERE.base) live = label;
    patch(target, (live * ROW + 3) * 4, u32(999_999));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, new RegExp(`passages\\.bin: passage ${live} is malformed or lies outside its article`));
  });

  it("passages.bin: a passage of an article that does not exist", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    patch(path.join(snapDir, PASSAGES), 0, u32(pristine.articles + 3));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, /passages\.bin: passage 0 is malformed or lies outside its article/);
  });

  it("articles.json: an article's text placed beyond its text file", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const target = path.join(snapDir, "articles.json");
    const records = JSON.parse(fs.readFileSync(target, "utf8")) as Array<{ o: number }>;
    records[0]!.o = 10_000_000;
    fs.writeFileSync(target, JSON.stringify(records));
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, /articles\.json: an article record is malformed/);
  });

  it("keyword segment: a doc label that is not a live passage", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const seg = pristine.segments.at(-1)!.file;
    const n = fs.readFileSync(path.join(snapDir, seg)).readUInt32LE(8);
    patch(path.join(snapDir, seg), 32 + 4 * (n - 1), u32(1_000_000)); // the last label: still ascending
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, new RegExp(`${literal(seg)}: doc 1000000 is not a live passage`));
  });

  it("keyword segment: a posting that names a doc beyond the segment", async () => {
    const { dataDir, indexDir, snapDir } = copyIndex();
    const seg = pristine.segments[0]!.file;
    const buf = fs.readFileSync(path.join(snapDir, seg));
    const [n, terms] = [buf.readUInt32LE(8), buf.readUInt32LE(12)];
    const align = (x: number) => Math.ceil(x / 4) * 4;
    patch(path.join(snapDir, seg), 32 + align(4 * n) + align(4 * (terms + 1)), u32(n + 5)); // postDocs[0]
    resign(snapDir);
    await expectRebuild(dataDir, indexDir, new RegExp(`${literal(seg)}: the keyword segment is damaged`));
  });
});

// The same damage, seen by the command line as a user runs it: it must never crash (exit 139/134).
describe("the CLI in a child process: a damaged index is rebuilt, never a crash", () => {
  function cli(args: string[], dataDir: string): Promise<ChildRun> {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, CORPUS_DIR: corpusDir, LOG_LEVEL: "warn" };
    for (const k of ["EMBED_MODEL", "EMBED_REMOTE_HOST", "DEBUG"]) delete env[k];
    return runChild(path.join(ROOT, "node_modules", ".bin", "tsx"), ["src/cli.ts", ...args], { env, timeoutMs: 45_000 });
  }
  const hnsw = (s: string) => path.join(s, hnswFile());

  const cases: Array<[string, (snapDir: string) => void, () => RegExp]> = [
    ["base HNSW header: entry point", (s) => patch(hnsw(s), 52, u32(1_000_000)), () => new RegExp(`${literal(hnswFile())} was changed or damaged`)],
    ["base HNSW header: max level", (s) => patch(hnsw(s), 48, u32(9)), () => new RegExp(`${literal(hnswFile())} was changed or damaged`)],
    [
      "base HNSW header: entry point, re-signed",
      (s) => {
        patch(hnsw(s), 52, u32(1_000_000));
        resign(s, (m) => (m.hnsw!.summary.entryPoint = 1_000_000));
      },
      () => new RegExp(`${literal(hnswFile())}: its entry point 1000000 is not one of its \\d+ elements`),
    ],
    [
      "base HNSW: a neighbour id, re-signed",
      (s) => {
        patch(hnsw(s), HNSW_HEADER_BYTES + 4, u32(1_000_000));
        resign(s);
      },
      () => new RegExp(`${literal(hnswFile())}: element 0 links to 1000000`),
    ],
    [
      "delta.bin: NaN, re-signed",
      (s) => {
        patch(path.join(s, DELTA), 4 + deltaCount() * 4, nan());
        resign(s);
      },
      () => /delta\.bin: a vector holds a value that is not a number/,
    ],
  ];

  for (const [name, damage, why] of cases) {
    it(`${name}: \`index\` rebuilds saying why (not "up to date"), then \`ask\` answers`, async () => {
      const { dataDir, snapDir } = copyIndex();
      damage(snapDir);
      const index = await cli(["index"], dataDir);
      expect(index.signal, index.stderr).toBeNull();
      expect(index.code, index.stderr).toBe(0);
      expect(index.stderr).not.toMatch(/up to date/);
      expect(index.stderr).toMatch(/Built the index \(/);
      expect(index.stderr).toMatch(why());
      const ask = await cli(["ask", "--json", QUESTION], dataDir);
      expect(ask.signal, ask.stderr).toBeNull();
      expect(ask.code, ask.stderr).toBe(0);
      const answer = JSON.parse(ask.stdout) as { answered: boolean; hits: Array<{ article: { id: string } }> };
      expect(answer.answered).toBe(true);
      expect(answer.hits[0]!.article.id).toBe(ENVOY_ID);
    }, 100_000);
  }

  it("`ask` straight after the damage (no `index` first) rebuilds and answers", async () => {
    const { dataDir, snapDir } = copyIndex();
    patch(hnsw(snapDir), 52, u32(1_000_000));
    const ask = await cli(["ask", "--json", QUESTION], dataDir);
    expect(ask.signal, ask.stderr).toBeNull();
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stderr).toMatch(new RegExp(`Built the index \\(the index file ${literal(hnswFile())} was changed or damaged`));
    expect((JSON.parse(ask.stdout) as { hits: Array<{ article: { id: string } }> }).hits[0]!.article.id).toBe(ENVOY_ID);
  }, 60_000);

  it("an index in the earlier on-disk format: `ask` says it needs a full rebuild, rebuilds, answers, and the old builds/ folder is gone", async () => {
    const dataDir = mkTmp("citebot-data-");
    const indexDir = indexDirFor(dataDir, corpusDir);
    // What the earlier version left: builds/<id>/ with its files and `current` pointing there.
    const old = path.join(indexDir, "builds", "m1abc-123-xyz");
    fs.mkdirSync(old, { recursive: true });
    const manifest = { format: "citebot-index", version: 4, model: "glove-sif-100d", dimensions: 100, articles: 3, passages: 10 };
    fs.writeFileSync(path.join(old, "manifest.json"), JSON.stringify(manifest));
    for (const f of ["passages.json", "vectors.f32", "hnsw.bin", "keyword.json"]) fs.writeFileSync(path.join(old, f), "old");
    fs.symlinkSync(path.join("builds", "m1abc-123-xyz"), path.join(indexDir, "current"));
    const ask = await cli(["ask", "--json", QUESTION], dataDir);
    expect(ask.signal, ask.stderr).toBeNull();
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stderr).toMatch(/Built the index \(the index is in citebot's earlier on-disk format .*it needs a full rebuild\)/);
    expect((JSON.parse(ask.stdout) as { hits: Array<{ article: { id: string } }> }).hits[0]!.article.id).toBe(ENVOY_ID);
    expect(indexEntries(indexDir)).toEqual(["current", "snapshots"]);
    const index = await cli(["index"], dataDir);
    expect(index.code, index.stderr).toBe(0);
    expect(index.stderr).toMatch(/up to date/);
  }, 100_000);
});
