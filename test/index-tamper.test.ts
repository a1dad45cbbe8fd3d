// A tamper-evident index: every index file edited at the same size (so the size check of old can't
// see it), at several positions, the HNSW header's fields among them. Each edit must mean "rebuild,
// saying why", never a native crash or damaged text quoted as an article. Then the same edits with
// the manifest re-signed (checksums recomputed, as someone who knows the format could do): the
// structural checks must still refuse the file before hnswlib or the retriever touches it. Where a
// crash could happen, the CLI runs as a child and must exit 0 with an answer.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { TransformersEmbedder } from "../src/embed/embedder.js";
import { loadIndex } from "../src/index/build.js";
import { HNSW_HEADER_BYTES, readHnswHeader } from "../src/index/hnswcheck.js";
import { currentBuildDir, FILES, IndexError, indexDirFor, type Manifest, manifestIntegrity } from "../src/index/store.js";
import { type ChildRun, cleanupTmp, copyRealCorpus, ENVOY_ID, mkTmp, ROOT, runChild } from "./helpers.js";

const QUESTION = "What did Antonov say about the Geneva summit?";
let embedder: TransformersEmbedder;
let corpusDir: string;
let pristineData: string;
let pristineBuild: string;

beforeAll(async () => {
  embedder = await TransformersEmbedder.load({ cacheDir: mkTmp("citebot-cache-") });
  corpusDir = copyRealCorpus();
  pristineData = mkTmp("citebot-data-");
  const bot = await Citebot.open({ corpusDir, dataDir: pristineData, embedder });
  expect(bot.status.index).toBe("built");
  pristineBuild = currentBuildDir(bot.indexDir)!;
});
afterAll(cleanupTmp);

/** A fresh copy of the pristine index (symlinks kept as they are); returns its data dir and build folder. */
function copyIndex(): { dataDir: string; indexDir: string; buildDir: string } {
  const dataDir = mkTmp("citebot-data-");
  fs.cpSync(pristineData, dataDir, { recursive: true, verbatimSymlinks: true });
  const indexDir = indexDirFor(dataDir, corpusDir);
  return { dataDir, indexDir, buildDir: currentBuildDir(indexDir)! };
}

const readManifestJson = (buildDir: string) => JSON.parse(fs.readFileSync(path.join(buildDir, FILES.manifest), "utf8")) as Manifest;

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

/** Recomputes the manifest's checksums and self-checksum after an edit: the forger's move. */
function resign(buildDir: string, edit: (m: Manifest) => void = () => undefined): void {
  const m = readManifestJson(buildDir);
  for (const f of Object.keys(m.checksums))
    m.checksums[f] = createHash("sha256")
      .update(fs.readFileSync(path.join(buildDir, f)))
      .digest("hex");
  edit(m);
  m.integrity = manifestIntegrity(m);
  fs.writeFileSync(path.join(buildDir, FILES.manifest), JSON.stringify(m, null, 2));
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

/** loadIndex refuses it (IndexError matching `why`); Citebot.open rebuilds saying so, answers, and the next open just loads. */
async function expectRebuild(dataDir: string, indexDir: string, why: RegExp): Promise<void> {
  const err = await loadIndex(indexDir).then(
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

describe("every index file edited at the same size is detected (checksums), and rebuilt", () => {
  const data = [FILES.passages, FILES.vectors, FILES.hnsw, FILES.keyword] as const;
  for (const file of data) {
    for (const [where, at] of [
      ["first byte", 0],
      ["middle", 0.5],
      ["last byte", -1],
    ] as const) {
      it(`${file}: ${where}`, async () => {
        const { dataDir, indexDir, buildDir } = copyIndex();
        const target = path.join(buildDir, file);
        const size = fs.statSync(target).size;
        flipByte(target, at === 0.5 ? Math.floor(size / 2) : at);
        expect(fs.statSync(target).size).toBe(size);
        await expectRebuild(dataDir, indexDir, new RegExp(`${file.replace(".", "\\.")} was changed or damaged \\(its checksum does not match the manifest\\)`));
      });
    }
  }

  // Each HNSW header field hnswlib trusts (these crashed `ask` with a segfault or abort before).
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
    it(`hnsw.bin header: ${field}`, async () => {
      const { dataDir, indexDir, buildDir } = copyIndex();
      const target = path.join(buildDir, FILES.hnsw);
      const size = fs.statSync(target).size;
      patch(target, at, bytes);
      expect(fs.statSync(target).size).toBe(size);
      await expectRebuild(dataDir, indexDir, /hnsw\.bin was changed or damaged/);
    });
  }

  it("vectors.f32: a NaN vector", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    patch(path.join(buildDir, FILES.vectors), 40, Buffer.from(new Float32Array([Number.NaN]).buffer));
    await expectRebuild(dataDir, indexDir, /vectors\.f32 was changed or damaged/);
  });

  it("passages.json: an offset changed (would quote the wrong text as the article's)", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const target = path.join(buildDir, FILES.passages);
    const text = fs.readFileSync(target, "utf8");
    const m = /"passages":\[\[0,0,(\d)/.exec(text)!;
    fs.writeFileSync(target, text.slice(0, m.index) + m[0].slice(0, -1) + (m[1] === "9" ? "8" : String(Number(m[1]) + 1)) + text.slice(m.index + m[0].length));
    await expectRebuild(dataDir, indexDir, /passages\.json was changed or damaged/);
  });

  for (const [field, edit] of [
    ["passage count", (s: string) => s.replace(/"passages": (\d)/, (_, d: string) => `"passages": ${d === "9" ? "8" : Number(d) + 1}`)],
    ["dimensions", (s: string) => s.replace('"dimensions": 100', '"dimensions": 101')],
    ["a checksum", (s: string) => s.replace(/"hnsw\.bin": "(.)/, (_, c: string) => `"hnsw.bin": "${c === "0" ? "1" : "0"}`)],
    ["the HNSW entry point it records", (s: string) => s.replace(/"entryPoint": (\d)/, (_, d: string) => `"entryPoint": ${d === "9" ? "8" : Number(d) + 1}`)],
    ["its creation time", (s: string) => s.replace(/"createdAt": "(\d)/, (_, d: string) => `"createdAt": "${d === "9" ? "8" : Number(d) + 1}`)],
  ] as const) {
    it(`manifest.json: ${field}`, async () => {
      const { dataDir, indexDir, buildDir } = copyIndex();
      const target = path.join(buildDir, FILES.manifest);
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
  const header = () => readHnswHeader(fs.readFileSync(path.join(pristineBuild, FILES.hnsw)));

  it("hnsw.bin: an entry point that is not an element (the manifest still records the true one)", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    patch(path.join(buildDir, FILES.hnsw), 52, u32(header().count + 1000));
    resign(buildDir);
    await expectRebuild(dataDir, indexDir, /hnsw\.bin: its entry point is \d+, the manifest says \d+/);
  });

  it("hnsw.bin: entry point and manifest both forged to an element below the top level", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const h = header();
    // An element whose upper-level link list is empty (level 0): the HNSW top level is above it.
    const buf = fs.readFileSync(path.join(buildDir, FILES.hnsw));
    let at = HNSW_HEADER_BYTES + h.count * h.sizeDataPerElement;
    let low = -1;
    for (let i = 0; i < h.count; i++) {
      const size = buf.readUInt32LE(at);
      if (size === 0 && low < 0) low = i;
      at += 4 + size;
    }
    expect(h.maxLevel).toBeGreaterThan(0);
    expect(low).toBeGreaterThanOrEqual(0);
    patch(path.join(buildDir, FILES.hnsw), 52, u32(low));
    resign(buildDir, (m) => (m.hnsw!.entryPoint = low));
    await expectRebuild(dataDir, indexDir, /hnsw\.bin: its entry point is on level 0, not on the top level/);
  });

  it("hnsw.bin: max level raised in the header and the manifest", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const level = header().maxLevel + 3;
    patch(path.join(buildDir, FILES.hnsw), 48, u32(level));
    resign(buildDir, (m) => (m.hnsw!.maxLevel = level));
    await expectRebuild(dataDir, indexDir, /hnsw\.bin: its entry point is on level \d+, not on the top level/);
  });

  it("hnsw.bin: element count lowered in the header and the manifest", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const count = header().count - 1;
    patch(path.join(buildDir, FILES.hnsw), 16, u64(count));
    resign(buildDir, (m) => (m.hnsw!.elements = count));
    await expectRebuild(dataDir, indexDir, /hnsw\.bin/);
  });

  it("hnsw.bin: a neighbour id beyond the elements", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const h = header();
    patch(path.join(buildDir, FILES.hnsw), HNSW_HEADER_BYTES + 4, u32(h.count + 77));
    resign(buildDir);
    await expectRebuild(dataDir, indexDir, /hnsw\.bin: element 0 links to \d+, beyond its \d+ elements/);
  });

  it("vectors.f32: a NaN", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    patch(path.join(buildDir, FILES.vectors), 4 * 100 * 3 + 8, Buffer.from(new Float32Array([Number.NaN]).buffer));
    resign(buildDir);
    await expectRebuild(dataDir, indexDir, /vectors\.f32: vector 3 holds a value that is not a number/);
  });

  it("passages.json: an offset beyond its article", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const target = path.join(buildDir, FILES.passages);
    const text = fs.readFileSync(target, "utf8");
    const m = /\[(\d+),(\d+),(\d+)\]\]\}$/.exec(text)!;
    fs.writeFileSync(target, `${text.slice(0, m.index)}[${m[1]},${m[2]},${"9".repeat(m[3]!.length)}]]}`);
    resign(buildDir);
    await expectRebuild(dataDir, indexDir, /passages\.json: passage \d+ lies outside its article/);
  });

  it("keyword.json: a document id beyond the passages", async () => {
    const { dataDir, indexDir, buildDir } = copyIndex();
    const target = path.join(buildDir, FILES.keyword);
    const text = fs.readFileSync(target, "utf8");
    const forged = text.replace(/"documentIds":\{"0":0,/, '"documentIds":{"0":9,');
    expect(forged).not.toBe(text);
    fs.writeFileSync(target, forged);
    resign(buildDir);
    await expectRebuild(dataDir, indexDir, /keyword\.json: document id \d+ is not one of the passages/);
  });
});

// The same damage, seen by the command line as a user runs it: it must never crash (exit 139/134).
describe("the CLI in a child process: a damaged index is rebuilt, never a crash", () => {
  function cli(args: string[], dataDir: string): Promise<ChildRun> {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, CORPUS_DIR: corpusDir, LOG_LEVEL: "warn" };
    for (const k of ["EMBED_MODEL", "EMBED_REMOTE_HOST", "DEBUG"]) delete env[k];
    return runChild(path.join(ROOT, "node_modules", ".bin", "tsx"), ["src/cli.ts", ...args], { env, timeoutMs: 45_000 });
  }

  const cases: Array<[string, (buildDir: string) => void, RegExp]> = [
    ["hnsw.bin header: entry point", (b) => patch(path.join(b, FILES.hnsw), 52, u32(1_000_000)), /hnsw\.bin was changed or damaged/],
    ["hnsw.bin header: max level", (b) => patch(path.join(b, FILES.hnsw), 48, u32(9)), /hnsw\.bin was changed or damaged/],
    [
      "hnsw.bin header: entry point, re-signed",
      (b) => {
        patch(path.join(b, FILES.hnsw), 52, u32(1_000_000));
        resign(b, (m) => (m.hnsw!.entryPoint = 1_000_000));
      },
      /hnsw\.bin: its entry point 1000000 is not one of its \d+ elements/,
    ],
    [
      "hnsw.bin: a neighbour id, re-signed",
      (b) => {
        patch(path.join(b, FILES.hnsw), HNSW_HEADER_BYTES + 4, u32(1_000_000));
        resign(b);
      },
      /hnsw\.bin: element 0 links to 1000000/,
    ],
    [
      "vectors.f32: NaN, re-signed",
      (b) => {
        patch(path.join(b, FILES.vectors), 0, Buffer.from(new Float32Array([Number.NaN]).buffer));
        resign(b);
      },
      /vectors\.f32: vector 0 holds a value that is not a number/,
    ],
  ];

  for (const [name, damage, why] of cases) {
    it(`${name}: \`index\` rebuilds saying why (not "up to date"), then \`ask\` answers`, async () => {
      const { dataDir, buildDir } = copyIndex();
      damage(buildDir);
      const index = await cli(["index"], dataDir);
      expect(index.signal, index.stderr).toBeNull();
      expect(index.code, index.stderr).toBe(0);
      expect(index.stderr).not.toMatch(/up to date/);
      expect(index.stderr).toMatch(/Built the index \(/);
      expect(index.stderr).toMatch(why);
      const ask = await cli(["ask", "--json", QUESTION], dataDir);
      expect(ask.signal, ask.stderr).toBeNull();
      expect(ask.code, ask.stderr).toBe(0);
      const answer = JSON.parse(ask.stdout) as { answered: boolean; hits: Array<{ article: { id: string } }> };
      expect(answer.answered).toBe(true);
      expect(answer.hits[0]!.article.id).toBe(ENVOY_ID);
    }, 100_000);
  }

  it("`ask` straight after the damage (no `index` first) rebuilds and answers", async () => {
    const { dataDir, buildDir } = copyIndex();
    patch(path.join(buildDir, FILES.hnsw), 52, u32(1_000_000));
    const ask = await cli(["ask", "--json", QUESTION], dataDir);
    expect(ask.signal, ask.stderr).toBeNull();
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stderr).toMatch(/Built the index \(the index file hnsw\.bin was changed or damaged/);
    expect((JSON.parse(ask.stdout) as { hits: Array<{ article: { id: string } }> }).hits[0]!.article.id).toBe(ENVOY_ID);
  }, 60_000);
});
