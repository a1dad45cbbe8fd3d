// Writing a snapshot of the embedded store: a new folder, then the atomic `current` switch.
// - replace: everything new (texts, table, one HNSW base over every passage, one keyword segment).
//   The base is built on every core by our native addon (hnswbuild.ts), straight into its file.
// - update (Lucene-like): only the changed articles' passages are touched. Their old labels are
//   marked removed in the table (hnswlib markDelete at open) and in the keyword segments' deletion
//   marks; their new passages get new labels, a new keyword segment and a place in the delta (an
//   exact scan at query time). Unchanged big files (texts, base HNSW, segments) are hard-linked
//   into the new folder, never copied or modified. When the delta passes FOLD_AT passages it is
//   folded into a new base: the old base is loaded, its removed passages marked deleted and their
//   slots reused for the delta's vectors (addPoint with replaceDeleted), and the result written.
// A crash at any point leaves an unreferenced folder (pruned by the next write) and `current` on
// the old snapshot; the switch is one rename of a symlink.
import { closeSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import hnswlib from "hnswlib-node";
import { CorpusWords } from "../../search/corpus-words.js";
import { PostingsIndex } from "../../search/postings/engine.js";
import { hashArticle } from "../hash.js";
import type { ArticleRows, Changes, WriteStats } from "../types.js";
import {
  ARTICLES,
  type ArticleRecord,
  bytesOf,
  CORPUS_WORDS,
  CURRENT,
  checksumFor,
  checksumMatches,
  DELTA,
  type FileEntry,
  fileEntryOf,
  fsyncPath,
  hashFile,
  IndexError,
  MANIFEST,
  manifestIntegrity,
  PASSAGES,
  ROW,
  readVerified,
  type SegmentEntry,
  SNAPSHOTS,
  STORE_FORMAT,
  STORE_VERSION,
  type StoreManifest,
  WHERE,
  writeDurable,
} from "./format.js";
import { buildHnswFile } from "./hnswbuild.js";
import { HNSW_HEADER_BYTES, readHnswHeader, summarizeHnsw } from "./hnswfile.js";
import { openBaseHnsw } from "./snapshot.js";
import type { StoreState } from "./state.js";

const { HierarchicalNSW } = hnswlib;

export interface WriteOptions {
  /** Fold the delta into a new HNSW base when it holds more passages than this. Default FOLD_AT (2048). */
  foldAt?: number;
  /** Rewrite the texts into one file when there are more text files than this. Default 16. */
  maxTextFiles?: number;
  /** Merge keyword segments when more than this many (or over 20% of stored docs deleted). Default 8. */
  maxSegments?: number;
  /** Called between stages (for a kill -9 test to aim at, and for progress). */
  onStage?: (stage: string) => void;
  /** Called while a whole new HNSW base is built: points added so far, of `total`. */
  onHnswProgress?: (done: number, total: number) => void;
}

/** 2,048 × 384-d: the delta's exact scan stays near 1 ms; a fold then costs ~2,048 HNSW inserts (~10-20 s here, under load). */
export const FOLD_AT = 2048;

/** Checks what a write carries before anything is written: a bad row is a clear error, not a damaged index. */
function checkChanges(c: Changes): void {
  const seen = new Set<string>();
  for (const r of c.upsert) {
    const id = r.article.id;
    if (typeof id !== "string" || seen.has(id)) throw new Error(`article ${id} appears twice in one write`);
    seen.add(id);
    if (r.vectors.length !== r.passages.length * c.dimensions) throw new Error(`vectors of ${id} do not match its passages`);
    for (let i = 0; i < r.vectors.length; i++) if (!Number.isFinite(r.vectors[i]!)) throw new Error(`a vector of ${id} holds a value that is not a number`);
    r.passages.forEach((p, n) => {
      if (p.articleId !== id || p.n !== n || p.start < 0 || p.end < p.start || p.end > r.article.text.length)
        throw new Error(`passage ${n} of ${id} is out of order or lies outside its article`);
    });
  }
}

interface Output {
  /** New bytes to write. */
  data: Map<string, Uint8Array>;
  /** Files of the previous snapshot to hard-link, with their manifest entries. */
  carry: Map<string, FileEntry>;
  /** A base HNSW to write under this name: a folded index (hnswlib-node writes it), or points to build on every core. */
  hnsw?: { file: string } & ({ index: InstanceType<typeof HierarchicalNSW> } | { labels: Int32Array; vectors: Float32Array });
  /** The previous base, carried. */
  hnswCarried?: StoreManifest["hnsw"];
}

function textFile(articles: ArticleRows["article"][], fileIndex: number, records: ArticleRecord[], hashes: string[]): Uint8Array {
  const parts: Buffer[] = [];
  let at = 0;
  articles.forEach((a, i) => {
    const bytes = Buffer.from(a.text, "utf8");
    const r: ArticleRecord = { id: a.id, title: a.title, file: a.file, hash: hashes[i]!, t: fileIndex, o: at, b: bytes.length, l: a.text.length };
    if (a.date !== undefined) r.date = a.date;
    if (a.source !== undefined) r.source = a.source;
    if (a.url !== undefined) r.url = a.url;
    if (a.byline !== undefined) r.byline = a.byline;
    records.push(r);
    parts.push(bytes);
    at += bytes.length;
  });
  return Buffer.concat(parts);
}

function deltaFile(labels: Int32Array, vectors: Float32Array): Uint8Array {
  const out = new Uint8Array(4 + labels.byteLength + vectors.byteLength);
  new DataView(out.buffer).setInt32(0, labels.length, true);
  out.set(bytesOf(labels), 4);
  out.set(bytesOf(vectors), 4 + labels.byteLength);
  return out;
}

function keywordFiles(keywords: PostingsIndex, generation: number, prev: StoreState | undefined, out: Output): SegmentEntry[] {
  const { segments, deletions } = keywords.toBuffers();
  const carried = prev?.manifest.segments ?? [];
  return segments.map((seg, i) => {
    // Segments are immutable: one the previous snapshot holds at the same position is carried.
    const old = i < carried.length && i < (prev?.keywords.segmentCount ?? 0) ? carried[i] : undefined;
    let file: string;
    if (old && sameBytes(prev!, old.file, seg)) {
      file = old.file;
      out.carry.set(file, prev!.manifest.files[file]!);
    } else {
      file = `kw-${generation}-${i}.seg`;
      out.data.set(file, seg);
    }
    const entry: SegmentEntry = { file };
    const del = deletions[i];
    if (del) {
      entry.deletions = `${file.replace(/\.seg$/, "")}-g${generation}.del`;
      out.data.set(entry.deletions, del);
    }
    return entry;
  });
}

/** Whether segment bytes equal the stored file (same size, then same hash; segments are small next to the HNSW). */
function sameBytes(prev: StoreState, file: string, bytes: Uint8Array): boolean {
  const entry = prev.manifest.files[file];
  if (entry === undefined || entry.size !== bytes.length) return false;
  const h = checksumFor(entry);
  h.update(bytes);
  return checksumMatches(entry, h);
}

/**
 * The previous snapshot's corpus words less those of the dropped articles (their texts read back
 * from its text files and checked against their content hashes); for a snapshot written before
 * words were kept, counted once from the kept articles' texts.
 */
async function wordsAfterDrop(base: StoreState, dropped: ArticleRecord[], kept: ArticleRecord[]): Promise<CorpusWords> {
  if (!base.corpusWords) {
    const files = await Promise.all(base.manifest.textFiles.map((f) => readVerified(base.dir, base.manifest, f)));
    return CorpusWords.fromTexts(kept.map((r) => files[r.t]!.toString("utf8", r.o, r.o + r.b)));
  }
  const words = base.corpusWords.fork();
  for (const r of dropped) words.remove(storedText(base, r));
  return words;
}

/** One article's text as the snapshot stores it, read at its place; IndexError when it is not what its hash says. */
function storedText(base: StoreState, r: ArticleRecord): string {
  const file = base.manifest.textFiles[r.t]!;
  const buf = Buffer.alloc(r.b);
  const fd = openSync(path.join(base.dir, file), "r");
  try {
    for (let got = 0; got < r.b; ) {
      const n = readSync(fd, buf, got, r.b - got, r.o + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const text = buf.toString("utf8");
  const { hash: _h, t: _t, o: _o, b: _b, l: _l, ...meta } = r;
  if (text.length !== r.l || hashArticle({ ...meta, text }) !== r.hash)
    throw new IndexError(`the index is damaged (${file}: the text of ${r.id} does not match its hash)`);
  return text;
}

export async function writeSnapshot(
  indexDir: string,
  changes: Changes,
  /** The current snapshot's small part (an update applies to it), or just its folder and generation (a replace). */
  prev: StoreState | { dir: string; manifest: Pick<StoreManifest, "generation"> } | undefined,
  opts: WriteOptions = {},
): Promise<{ dir: string; stats: WriteStats }> {
  const t0 = performance.now();
  const stage = opts.onStage ?? (() => {});
  checkChanges(changes);
  const dim = changes.dimensions;
  const update = changes.mode === "update";
  const base = update && prev && "table" in prev ? prev : undefined;
  if (base) {
    const pm = base.manifest;
    if (pm.model !== changes.model || pm.dimensions !== dim || pm.settingsHash !== changes.settingsHash)
      throw new Error("an update must keep the index's model, dimensions and settings; write a replace instead");
  }
  const generation = (prev?.manifest.generation ?? 0) + 1;
  const out: Output = { data: new Map(), carry: new Map() };
  const stats: WriteStats = { articlesWritten: changes.upsert.length, articlesRemoved: 0, passagesWritten: 0, passagesRemoved: 0, seconds: 0 };

  // 1. The passage table and article records, without the dropped articles.
  const records: ArticleRecord[] = [];
  const textFiles: string[] = [];
  let labelCount = base?.manifest.labels ?? 0;
  const newPassages = changes.upsert.reduce((n, r) => n + r.passages.length, 0);
  const table = new Int32Array((labelCount + newPassages) * ROW);
  let keywords: PostingsIndex;
  let corpusWords = CorpusWords.empty();
  const deltaLabels: number[] = [];
  const deltaVectors: Float32Array[] = [];
  if (base) {
    table.set(base.table);
    const dropped = new Set([...changes.remove, ...changes.upsert.map((r) => r.article.id)]);
    const newIndex = new Int32Array(base.records.length).fill(-1);
    const droppedRecords: ArticleRecord[] = [];
    base.records.forEach((r, i) => {
      if (dropped.has(r.id)) {
        if (!changes.upsert.some((u) => u.article.id === r.id)) stats.articlesRemoved++;
        droppedRecords.push(r);
        return;
      }
      newIndex[i] = records.length;
      records.push({ ...r }); // a copy: compaction below moves texts, and `prev` may be a reader's
    });
    // Changed on a fork: `prev` may be the state a reader opened (FileStore.write reuses it).
    keywords = base.keywords.fork();
    for (let label = 0; label < labelCount; label++) {
      const o = label * ROW;
      const a = table[o]!;
      if (a === -1) continue;
      const na = newIndex[a]!;
      if (na >= 0) {
        table[o] = na;
        if (table[o + 4] === WHERE.delta) {
          const r = base.deltaRow.get(label)!;
          deltaLabels.push(label);
          deltaVectors.push(base.delta.vectors.subarray(r * dim, (r + 1) * dim));
        }
        continue;
      }
      table[o] = -1;
      // A delta passage simply leaves the delta; a base one stays placed until the next fold (markDelete at open).
      if (table[o + 4] === WHERE.delta) table[o + 4] = WHERE.none;
      keywords.delete(label);
      stats.passagesRemoved++;
    }
    textFiles.push(...base.manifest.textFiles);
    for (const f of textFiles) out.carry.set(f, base.manifest.files[f]!);
    corpusWords = await wordsAfterDrop(base, droppedRecords, records);
  } else keywords = new PostingsIndex([], []);
  // The new articles' words are counted later, beside the HNSW build (5.7 s of text scanning at 1M rows).
  const wordsFile = () => {
    for (const r of changes.upsert) corpusWords.add(r.article.text);
    return corpusWords.toBytes();
  };
  stage("table");

  // 2. New articles: their texts in a new file, new labels, delta vectors, a keyword segment.
  if (changes.upsert.length > 0) {
    const name = `texts-${generation}.bin`;
    out.data.set(
      name,
      textFile(
        changes.upsert.map((r) => r.article),
        textFiles.length,
        records,
        changes.upsert.map((r) => r.hash),
      ),
    );
    textFiles.push(name);
  }
  const newTexts: string[] = [];
  const newLabels: number[] = [];
  const firstNew = records.length - changes.upsert.length;
  changes.upsert.forEach((r, i) => {
    r.passages.forEach((p, n) => {
      const label = labelCount++;
      table.set([firstNew + i, n, p.start, p.end, WHERE.delta], label * ROW);
      newTexts.push(p.text);
      newLabels.push(label);
      deltaLabels.push(label);
    });
    // One block per article, not a view per passage (1M views took 2.5 s to make and copy at 1M rows).
    if (r.vectors.length !== r.passages.length * dim)
      throw new Error(`article ${r.article.id}: ${r.vectors.length} vector values for ${r.passages.length} passages of ${dim} dimensions`);
    deltaVectors.push(r.vectors);
  });
  stats.passagesWritten = newLabels.length;
  if (newLabels.length > 0) keywords.add(newTexts, newLabels);
  if (keywords.mergeDue(opts.maxSegments ?? 8)) keywords = keywords.merged();
  stage("keywords");

  // 3. Texts compacted when they are spread over too many files (removed articles' texts go too).
  if (textFiles.length > (opts.maxTextFiles ?? 16) && base) {
    const olds: Buffer[] = [];
    for (const f of base.manifest.textFiles) olds.push(await readVerified(base.dir, base.manifest, f));
    const fresh = out.data.get(textFiles[textFiles.length - 1]!);
    const name = `texts-${generation}-all.bin`;
    const parts: Buffer[] = [];
    let at = 0;
    for (const r of records) {
      const src = r.t < base.manifest.textFiles.length ? olds[r.t]! : Buffer.from(fresh!);
      const bytes = src.subarray(r.o, r.o + r.b);
      r.t = 0;
      r.o = at;
      at += bytes.length;
      parts.push(bytes);
    }
    for (const f of textFiles) {
      out.carry.delete(f);
      out.data.delete(f);
    }
    textFiles.length = 0;
    textFiles.push(name);
    out.data.set(name, Buffer.concat(parts));
  }

  // 4. Dense: a whole new base (replace), the delta folded into the base, or the base carried.
  let delta = { labels: Int32Array.from(deltaLabels), vectors: concat(deltaVectors, dim) };
  const hnswFile = `hnsw-${generation}.bin`;
  if (!base) {
    if (delta.labels.length > 0) out.hnsw = { labels: delta.labels, vectors: delta.vectors, file: hnswFile };
    for (const label of delta.labels) table[label * ROW + 4] = WHERE.base;
    delta = { labels: new Int32Array(0), vectors: new Float32Array(0) };
  } else if (delta.labels.length > (opts.foldAt ?? FOLD_AT)) {
    stage("fold");
    const loaded = await openBaseHnsw({ dir: base.dir, manifest: base.manifest, table });
    const index = loaded?.hnsw;
    if (!index) {
      out.hnsw = { labels: delta.labels, vectors: delta.vectors, file: hnswFile };
    } else {
      const free = loaded!.deletedInFile;
      const need = index.getCurrentCount() + Math.max(0, delta.labels.length - free);
      if (need > index.getMaxElements()) index.resizeIndex(need);
      for (let i = 0; i < delta.labels.length; i++) index.addPoint(Array.from(delta.vectors.subarray(i * dim, (i + 1) * dim)), delta.labels[i]!, true);
      out.hnsw = { index, file: hnswFile };
    }
    // Removed passages are now marked deleted inside the file: no longer "placed" in the table.
    for (let label = 0; label < labelCount; label++) if (table[label * ROW] === -1) table[label * ROW + 4] = WHERE.none;
    for (const label of delta.labels) table[label * ROW + 4] = WHERE.base;
    delta = { labels: new Int32Array(0), vectors: new Float32Array(0) };
  } else if (base.manifest.hnsw) {
    out.hnswCarried = base.manifest.hnsw;
    out.carry.set(base.manifest.hnsw.file, base.manifest.files[base.manifest.hnsw.file]!);
  }
  stage("dense");

  out.data.set(ARTICLES, Buffer.from(JSON.stringify(records)));
  out.data.set(PASSAGES, bytesOf(table));
  out.data.set(DELTA, deltaFile(delta.labels, delta.vectors));
  const segments = keywordFiles(keywords, generation, base, out);

  // 5. The folder: links, new files, the HNSW, the manifest; then the switch.
  const dir = path.join(indexDir, SNAPSHOTS, `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  try {
    const files: Record<string, FileEntry> = {};
    for (const [name, entry] of out.carry) {
      try {
        linkSync(path.join(base!.dir, name), path.join(dir, name));
      } catch {
        copyFileSync(path.join(base!.dir, name), path.join(dir, name));
      }
      files[name] = entry;
    }
    stage("linked");
    for (const [name, bytes] of out.data) {
      writeDurable(path.join(dir, name), bytes);
      files[name] = await fileEntryOf(bytes);
    }
    // A whole new base is built by the addon on its own threads; the words are counted meanwhile.
    let building: Promise<void> | undefined;
    if (out.hnsw && !("index" in out.hnsw)) {
      const total = out.hnsw.labels.length;
      building = buildHnswFile(
        path.join(dir, out.hnsw.file),
        out.hnsw.vectors,
        out.hnsw.labels,
        dim,
        opts.onHnswProgress && ((done) => opts.onHnswProgress!(done, total)),
      );
      building.catch(() => undefined); // awaited below
    }
    const words = wordsFile();
    writeDurable(path.join(dir, CORPUS_WORDS), words);
    files[CORPUS_WORDS] = await fileEntryOf(words);
    stage("written");
    let hnsw = out.hnswCarried;
    if (out.hnsw) {
      const file = path.join(dir, out.hnsw.file);
      if ("index" in out.hnsw) out.hnsw.index.writeIndexSync(file);
      else await building;
      fsyncPath(file);
      files[out.hnsw.file] = await hashFile(file);
      const head = Buffer.alloc(HNSW_HEADER_BYTES);
      const fd = openSync(file, "r");
      try {
        readSync(fd, head, 0, HNSW_HEADER_BYTES, 0);
      } finally {
        closeSync(fd);
      }
      hnsw = { file: out.hnsw.file, summary: summarizeHnsw(readHnswHeader(head)) };
    }
    stage("hnsw");
    const live = records.length === 0 ? 0 : countLive(table, labelCount);
    const body: Omit<StoreManifest, "integrity"> = {
      format: STORE_FORMAT,
      version: STORE_VERSION,
      id: `${generation}-${path.basename(dir)}`,
      model: changes.model,
      dimensions: dim,
      settingsHash: changes.settingsHash,
      articles: records.length,
      passages: live,
      labels: labelCount,
      generation,
      textFiles,
      ...(hnsw && { hnsw }),
      segments,
      files,
      createdAt: new Date().toISOString(),
    };
    writeDurable(path.join(dir, MANIFEST), JSON.stringify({ ...body, integrity: manifestIntegrity(body) }, null, 1));
    fsyncPath(dir);
    stage("manifest");
    switchCurrent(indexDir, dir);
    stage("switched");
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  pruneSnapshots(indexDir, [dir, prev?.dir]);
  stats.seconds = (performance.now() - t0) / 1000;
  return { dir, stats };
}

function countLive(table: Int32Array, labels: number): number {
  let n = 0;
  for (let l = 0; l < labels; l++) if (table[l * ROW] !== -1) n++;
  return n;
}

/** Blocks of whole rows (one row, or an article's), back to back. */
function concat(blocks: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    if (b.length % dim !== 0) throw new Error(`a vector block of ${b.length} values is not whole ${dim}-d rows`);
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Points `current` at `dir` with one rename (atomic on POSIX), then flushes the folder entry. */
export function switchCurrent(indexDir: string, dir: string): void {
  const current = path.join(indexDir, CURRENT);
  const tmp = path.join(indexDir, `${CURRENT}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  symlinkSync(path.relative(indexDir, dir), tmp);
  // A real folder where the link belongs (an index copied without symlinks) cannot be renamed over.
  if (existsSync(current) && !lstatSync(current).isSymbolicLink()) rmSync(current, { recursive: true, force: true });
  renameSync(tmp, current);
  fsyncPath(indexDir);
}

/** Where citebot's earlier on-disk format kept its builds (builds/<id>/, passages.json, hnsw.bin, …). */
const LEGACY_BUILDS = "builds";

/**
 * Removes snapshot folders other than the new one and the one it replaced (a reader may still be
 * opening it), and the earlier format's builds. An unfinished folder (no manifest) of another live
 * process is being written: kept.
 */
export function pruneSnapshots(indexDir: string, keep: Array<string | undefined>): void {
  const root = path.join(indexDir, SNAPSHOTS);
  for (const name of readdirSync(root)) {
    const dir = path.join(root, name);
    if (keep.includes(dir)) continue;
    const owner = Number(name.split("-")[1]);
    if (!existsSync(path.join(dir, MANIFEST)) && owner !== process.pid && isAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
  // The earlier on-disk format's build folders: `current` no longer points into them.
  rmSync(path.join(indexDir, LEGACY_BUILDS), { recursive: true, force: true });
  for (const name of readdirSync(indexDir)) {
    if (!name.startsWith(`${CURRENT}.tmp-`)) continue;
    const owner = Number(name.split("-")[1]);
    if (owner !== process.pid && !isAlive(owner)) rmSync(path.join(indexDir, name), { force: true });
  }
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
