// One opened snapshot of the embedded store. Dense search: the base HNSW (hnswlib's graph, read
// into memory and searched off the event loop by our addon, ef = max(SEARCH_EF, k); passages
// removed since it was written are marked deleted in memory, the file is never changed) plus an
// exact scan of the small delta, merged. Vectors are held once: the base's in the graph, the
// delta's in its array. Texts stay UTF-8 bytes until a passage is asked for.
import { createHash } from "node:crypto";
import { closeSync, read as fsRead, fstatSync, openSync, readSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import hnswbuild from "@citebot/hnswbuild";
import hnswlib from "hnswlib-node";
import { INDEX_SETTINGS } from "../../index/settings.js";
import type { CorpusWords } from "../../search/corpus-words.js";
import type { Article, Passage } from "../../types.js";
import type { Filter, KeywordScored, PassageId, Scored, Snapshot, SnapshotInfo } from "../types.js";
import { bytesMatch, checksumFor, type FileEntry, IndexError, ROW, readStoreManifest, readVerified, type StoreManifest, WHERE } from "./format.js";
import { checkHnswHeader, checkStoreHnswStream, HNSW_HEADER_BYTES, type HnswContents, HnswFormatError, type HnswReader } from "./hnswfile.js";
import { loadState, type StoreState } from "./state.js";

const { HierarchicalNSW, BruteforceSearch } = hnswlib;
export type Hnsw = InstanceType<typeof HierarchicalNSW>;
/** The base graph as a snapshot searches it: read and searched by our addon (native/hnswbuild). */
export type Graph = hnswbuild.HnswGraph;

/**
 * The retriever's ef; a larger k raises it. 512, not 256: recall@10 at M 16 / efConstruction 200 on the
 * scale rows (scripts/bench/hnsw-build.ts) is 0.919 → 0.981 at 1M (0.985 → 0.994 at 200k), for a
 * dense search p50 of 0.48 → 0.82 ms at 1M.
 */
export const SEARCH_EF = 512;
/**
 * Level 0 of the graph search starts from the best SEARCH_SEEDS elements of a beam search on level 1
 * (our addon's HnswGraph) instead of hnswlib's single greedy entry point. On the 1M scale rows
 * (scripts/bench/recall-ef.ts, 100 questions) recall@10 at ef 512 went 0.959 → 0.989 for a dense
 * search p50 of 0.70 → 1.06 ms: questions far from every passage (the corpus has no answer) no
 * longer follow one greedy path into one region of the graph. hnswlib alone needed ef 1536 for
 * 0.981 (1.94 ms).
 */
export const SEARCH_SEEDS = 256;
/** Decoded article texts kept (a passage needs its article's text). */
const TEXT_CACHE = 2048;

/**
 * The base's vectors read straight from its file (exact float32, as hnswlib stores them): a pread
 * of one vector costs a few µs from the page cache, where hnswlib's getPoint builds a JS array
 * (~80 µs), and nothing is held twice. The descriptor keeps the verified file even after a later
 * write prunes its folder (files are never changed in place: a new base is a new file).
 */
export class BaseVectors {
  /** A snapshot nobody closed still gives its descriptor back when it is collected. */
  private static readonly unclosed = new FinalizationRegistry<number>((fd) => {
    try {
      closeSync(fd);
    } catch {}
  });
  private open = true;

  constructor(
    private readonly fd: number,
    private readonly elementOf: Int32Array,
    private readonly vectorAt: number,
    private readonly stride: number,
    private readonly dim: number,
  ) {
    BaseVectors.unclosed.register(this, fd, this);
  }

  /** The file's element holding passage `label` (-1: none). */
  elementAt(label: number): number {
    return this.elementOf[label] ?? -1;
  }

  read(label: number, out: Float32Array = new Float32Array(this.dim)): Float32Array {
    if (!this.open) throw new Error("this snapshot was closed");
    const e = this.elementOf[label]!;
    const bytes = new Uint8Array(out.buffer, out.byteOffset, this.dim * 4);
    if (e < 0 || readSync(this.fd, bytes, 0, bytes.length, this.vectorAt + e * this.stride) !== bytes.length)
      throw new IndexError(`the index is damaged (the vector of passage ${label} cannot be read)`);
    return out;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    BaseVectors.unclosed.unregister(this);
    closeSync(this.fd);
  }
}

/**
 * When the graph is loaded into hnswlib: at open (a server: the first question must not wait), or
 * on the first dense search ("on-demand": a writer, which needs the article hashes, passages and
 * stored vectors but never searches; the file is verified at open either way).
 */
export type GraphLoading = "eager" | "on-demand";

interface OpenedGraph {
  /** The loaded graph (eager), or undefined until `load()` (on-demand). */
  hnsw?: Graph;
  /** Loads the verified file (removed passages marked deleted). */
  load: () => Promise<Graph>;
  vectors?: BaseVectors;
}

/** One descriptor for the checksum, the check and the load: all see the same file. */
function openHnswFile(dir: string, file: string): number {
  try {
    return openSync(path.join(dir, file), "r");
  } catch {
    throw new IndexError(`the index file ${file} is missing`);
  }
}

/**
 * Reads, verifies and checks the base HNSW file and loads it into hnswlib-node with deleted slots
 * reusable (removed passages markDelete'd): the fold adds the delta's points to it.
 */
export async function openBaseHnsw(state: Pick<StoreState, "dir" | "manifest" | "table">): Promise<{ hnsw: Hnsw; deletedInFile: number } | undefined> {
  const { dir, manifest: m } = state;
  if (!m.hnsw) return undefined;
  const file = m.hnsw.file;
  const fd = openHnswFile(dir, file);
  try {
    return await loadBase(state, file, fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads, verifies and checks the base HNSW file into our addon's graph (searched off the event
 * loop); removed passages are marked deleted in memory. Eager with an XXH3 checksum (store format
 * 2): the addon reads the file into memory (on a libuv thread, beside the reading of the passage
 * table and texts), then its structure and checksum are checked on those very bytes, so what is
 * searched is what was checked. Otherwise (on-demand, or a format-1 SHA-256) the file is checked
 * as it is streamed (the SHA-256 on a worker thread), eager loading beside it, and a graph loaded
 * later is checksummed again once in memory. Nothing is handed out before every check passed.
 * The file's descriptor is kept (for the vectors of a snapshot whose graph is not loaded).
 */
export async function openBaseGraph(
  dir: string,
  m: StoreManifest,
  table: Promise<Int32Array>,
  opts: { graph?: GraphLoading } = {},
): Promise<OpenedGraph | undefined> {
  if (!m.hnsw) return undefined;
  const withHnsw = m as StoreManifest & Required<Pick<StoreManifest, "hnsw">>;
  const file = m.hnsw.file;
  const entry = m.files[file];
  const fd = openHnswFile(dir, file);
  const read = () => {
    const reading = hnswbuild.loadHnswGraph(fd, m.dimensions);
    reading.catch(() => undefined); // awaited below in every path
    return reading;
  };
  let reading: Promise<Graph> | undefined;
  const drop = async () => (await reading?.catch(() => undefined))?.close();
  const damaged = (err: unknown) => new IndexError(`the index is damaged (${file}: ${(err as Error).message})`);
  let kept = false;
  try {
    let verifying: Promise<HnswContents>;
    const inMemory = opts.graph !== "on-demand" && entry?.xxh3 !== undefined;
    if (inMemory) {
      reading = read();
      verifying = reading.then(
        (graph) => verifyHnswFile(withHnsw, file, { loaded: graph.bytes(), nonFinite: graph.firstNonFiniteElement() }),
        // The load failed: the streamed check says why (an edit is a checksum mismatch), as for any file.
        async (err) => {
          await verifyHnswFile(withHnsw, file, { fd });
          throw damaged(err);
        },
      );
    } else {
      verifying = verifyHnswFile(withHnsw, file, { fd }, () => {
        if (opts.graph !== "on-demand") reading = read();
      });
    }
    verifying.catch(() => undefined);
    let contents: HnswContents;
    let removed: Int32Array;
    try {
      const t = await table;
      contents = await verifying;
      removed = removedSinceBase({ manifest: m, table: t }, file, contents);
    } catch (err) {
      await verifying.catch(() => undefined);
      await drop();
      throw err;
    }
    const load = async (pending: Promise<Graph>, checked: boolean) => {
      let graph: Graph;
      try {
        graph = await pending;
      } catch (err) {
        throw damaged(err);
      }
      if (!checked && !(await loadedMatches(graph, entry!))) {
        graph.close();
        throw new IndexError(`the index file ${file} was changed while it was read (its checksum does not match the manifest)`);
      }
      for (const label of removed) graph.markDeleteElement(contents.elementOf[label]!);
      return graph;
    };
    const hnsw = reading ? await load(reading, inMemory) : undefined;
    const vectors = new BaseVectors(fd, contents.elementOf, contents.vectorAt, contents.stride, m.dimensions);
    kept = true;
    return { hnsw, load: () => load(read(), false), vectors };
  } finally {
    if (!kept) closeSync(fd);
  }
}

/** The table's base rows (live or removed since) are exactly the file's live elements: the removed ones, or IndexError. */
function removedSinceBase(state: Pick<StoreState, "table" | "manifest">, file: string, contents: HnswContents): Int32Array {
  const { table, manifest: m } = state;
  let placed = 0;
  for (let label = 0; label < m.labels; label++) if (table[label * ROW + 4] === WHERE.base) placed++;
  let mismatch: string | undefined;
  if (placed !== contents.live.length) mismatch = `${contents.live.length} vectors, the passage table places ${placed}`;
  else {
    const stray = contents.live.find((label) => table[label * ROW + 4] !== WHERE.base);
    if (stray !== undefined) mismatch = `vector ${stray} is not placed in the base`;
  }
  if (mismatch) throw new IndexError(`the index is damaged (${file}: ${mismatch})`);
  return contents.live.filter((label) => table[label * ROW] === -1);
}

async function loadBase(state: Pick<StoreState, "dir" | "manifest" | "table">, file: string, fd: number): Promise<{ hnsw: Hnsw; deletedInFile: number }> {
  const m = state.manifest as StoreManifest & Required<Pick<StoreManifest, "hnsw">>;
  // hnswlib loads the file (on a libuv thread) while this thread hashes and checks it; the graph is
  // handed out only after both passed. Loading only reads and allocates what the header says, and
  // the header matched the manifest before loading starts.
  let loading: Promise<Hnsw> | undefined;
  const settle = () => loading?.catch(() => undefined);
  const contents = await verifyHnswFile(m, file, { fd }, () => {
    const hnsw = new HierarchicalNSW(INDEX_SETTINGS.hnsw.space, m.dimensions);
    loading = hnsw.readIndex(path.join(state.dir, file), true).then(() => hnsw);
    loading.catch(() => undefined); // awaited below; a check that fails first must not leave it unhandled
  }).catch(async (err: unknown) => {
    await settle();
    throw err;
  });
  let removed: Int32Array;
  try {
    removed = removedSinceBase(state, file, contents);
  } catch (err) {
    await settle();
    throw err;
  }
  let hnsw: Hnsw;
  try {
    hnsw = await loading!;
  } catch (err) {
    throw new IndexError(`the index is damaged (${file}: ${(err as Error).message})`);
  }
  for (const label of removed) hnsw.markDelete(label);
  return { hnsw, deletedInFile: contents.deleted + removed.length };
}

/** Bytes read (and hashed) per step outside level 0's element-aligned chunks. */
const READ_CHUNK = 16 << 20;

const readAt = (fd: number, buf: Buffer, at: number) =>
  new Promise<number>((resolve, reject) => fsRead(fd, buf, 0, buf.length, at, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * SHA-256 of the first `size` bytes of an open file, computed on a worker thread (the other core)
 * while this one checks the file's structure; in this thread when no worker can be started.
 */
export function hashOnWorker(fd: number, size: number): Promise<string> {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { createHash } = require("node:crypto");
    const { readSync } = require("node:fs");
    const { fd, size, chunk } = workerData;
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(chunk);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, buf, 0, Math.min(chunk, size - at), at);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      at += n;
    }
    parentPort.postMessage({ sha256: h.digest("hex"), size: at });`;
  let worker: Worker;
  try {
    // No loader (tsx, vitest) in the worker: it runs plain CommonJS, and starts in a few tens of ms.
    worker = new Worker(source, { eval: true, execArgv: [], workerData: { fd, size, chunk: READ_CHUNK } });
  } catch {
    return hashRange(fd, size);
  }
  return new Promise<string>((resolve, reject) => {
    worker.once("message", (m: { sha256: string; size: number }) => (m.size === size ? resolve(m.sha256) : resolve(`short:${m.size}`)));
    worker.once("error", reject);
    worker.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the hashing thread exited with code ${code}`))));
  });
}

async function hashRange(fd: number, size: number): Promise<string> {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let at = 0; at < size; ) {
    const n = await readAt(fd, buf.subarray(0, Math.min(READ_CHUNK, size - at)), at);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    at += n;
  }
  return h.digest("hex");
}

/**
 * The base HNSW file checked and checksummed as it is streamed: never held whole in memory (at 1M
 * rows it is ~1.7 GB, as large as the loaded graph). `onHeader` runs once the header matched the
 * manifest. An XXH3 checksum (store format 2) is computed on the bytes as the check reads them;
 * a SHA-256 (format 1, ~1 s per GB) on a worker thread beside it. A file that fails a structural
 * check is reported as a checksum mismatch when its bytes differ from the manifest's (an edit, as
 * for every other file), and by what is wrong in it when they match (a forged file with a
 * re-signed manifest).
 */
async function verifyHnswFile(
  m: StoreManifest & Required<Pick<StoreManifest, "hnsw">>,
  file: string,
  source: { fd: number } | { loaded: Buffer; nonFinite: number },
  onHeader: () => void = () => undefined,
) {
  const entry = m.files[file];
  if (!entry) throw new IndexError(`the index file ${file} is not in the manifest`);
  const size = "fd" in source ? fstatSync(source.fd).size : source.loaded.length;
  if (size !== entry.size) throw new IndexError(`the index file ${file} is truncated or damaged (${size} bytes, expected ${entry.size})`);
  const inline = entry.xxh3 !== undefined || "loaded" in source ? checksumFor(entry) : undefined;
  const hashing = inline || !("fd" in source) ? undefined : hashOnWorker(source.fd, size);
  hashing?.catch(() => undefined); // awaited below in every path
  let done = 0;
  let pool = Buffer.allocUnsafeSlow(0);
  const read: HnswReader = async (at, length) => {
    if (at !== done) throw new Error(`the HNSW file was read out of order (${at}, after ${done})`);
    let buf: Buffer;
    if ("loaded" in source) {
      buf = source.loaded.subarray(at, at + length);
      if (buf.length < length) throw new IndexError(`the index file ${file} is truncated or damaged (it ended at ${size} bytes)`);
      // A few MB at a time with the event loop free in between, as every other checksum.
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else {
      if (pool.length < length) pool = Buffer.allocUnsafeSlow(length);
      buf = pool.subarray(0, length);
      for (let got = 0; got < length; ) {
        const n = await readAt(source.fd, buf.subarray(got), at + got);
        if (n === 0) throw new IndexError(`the index file ${file} is truncated or damaged (it ended at ${at + got} bytes)`);
        got += n;
      }
    }
    done += length;
    inline?.update(buf);
    return buf;
  };
  const matchesManifest = async () => {
    if (!inline) return (await hashing) === entry.sha256;
    // A check that stopped early leaves the rest of the file to checksum.
    while (done < size) await read(done, Math.min(READ_CHUNK, size - done)).catch(() => (done = size + 1));
    return done === size && inline.digest() === (entry.xxh3 ?? entry.sha256);
  };
  const changed = () => new IndexError(`the index file ${file} was changed or damaged (its checksum does not match the manifest)`);
  const expected = { dimensions: m.dimensions, summary: m.hnsw.summary, labelLimit: m.labels };
  let contents: HnswContents;
  try {
    const header = checkHnswHeader(await read(0, HNSW_HEADER_BYTES), size, expected);
    onHeader();
    contents = await checkStoreHnswStream(read, size, expected, header, "loaded" in source ? source.nonFinite : undefined);
  } catch (err) {
    if (!(await matchesManifest())) throw changed();
    if (!(err instanceof HnswFormatError)) throw err;
    throw new IndexError(`the index is damaged (${file}: ${err.message})`);
  }
  if (!(await matchesManifest())) throw changed();
  return contents;
}

/**
 * Whether the graph loaded into memory holds the very bytes the manifest records (XXH3 entries: a
 * few hundredths of a second at 1M rows). The file was checked as it was streamed, beside the
 * loading; this closes the gap of a file changed on disk between the two reads.
 */
async function loadedMatches(graph: Graph, entry: FileEntry): Promise<boolean> {
  if (entry.xxh3 === undefined) return true; // format 1: checked as streamed only (a SHA-256 of the copy would add a second at 1M)
  return bytesMatch(entry, graph.bytes());
}

function infoOf(m: StoreManifest): SnapshotInfo {
  return {
    version: m.id,
    model: m.model,
    dimensions: m.dimensions,
    articles: m.articles,
    passages: m.passages,
    settingsHash: m.settingsHash,
    createdAt: m.createdAt,
  };
}

/**
 * The snapshot a write returns: its info at once, everything else opened (and verified) on first
 * use. A writer process (`npm run index`) that only needs the stats never reads the HNSW back.
 */
export class DeferredSnapshot implements Snapshot {
  readonly info: SnapshotInfo;
  private opening: Promise<FileSnapshot> | undefined;

  constructor(
    readonly dir: string,
    private readonly manifest: StoreManifest,
    private readonly opts: { graph?: GraphLoading } = {},
  ) {
    this.info = infoOf(manifest);
  }

  private snap(): Promise<FileSnapshot> {
    return (this.opening ??= FileSnapshot.openWith(this.dir, this.manifest, this.opts));
  }

  articles() {
    return this.snap().then((s) => s.articles());
  }
  articleHashes() {
    return this.snap().then((s) => s.articleHashes());
  }
  corpusWords() {
    return this.snap().then((s) => s.corpusWords());
  }
  passages(ids: readonly PassageId[]) {
    return this.snap().then((s) => s.passages(ids));
  }
  passageIds(articleId: string) {
    return this.snap().then((s) => s.passageIds(articleId));
  }
  dense(query: Float32Array, k: number, filter?: Filter) {
    return this.snap().then((s) => s.dense(query, k, filter));
  }
  keyword(question: string, k: number, filter?: Filter) {
    return this.snap().then((s) => s.keyword(question, k, filter));
  }
  vectors(ids: readonly PassageId[]) {
    return this.snap().then((s) => s.vectors(ids));
  }
  documentFrequency(stems: readonly string[]) {
    return this.snap().then((s) => s.documentFrequency(stems));
  }
  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    if (opening) await opening.then((s) => s.close()).catch(() => undefined);
  }
}

export class FileSnapshot implements Snapshot {
  readonly info: SnapshotInfo;
  private readonly texts: Buffer[];
  private readonly textCache = new Map<number, string>();
  private readonly articleIndex: Map<string, number>;
  private closed = false;

  private constructor(
    readonly state: StoreState,
    texts: Buffer[],
    private hnsw: Graph | undefined,
    private readonly baseVectors: BaseVectors | undefined,
    /** Loads the graph on the first dense search (opened with graph "on-demand"). */
    private readonly loadGraph?: () => Promise<Graph>,
  ) {
    const m = state.manifest;
    this.texts = texts;
    this.articleIndex = new Map(state.records.map((r, i) => [r.id, i]));
    this.info = infoOf(m);
    this.hnsw?.setEf(SEARCH_EF);
    this.hnsw?.setSeeds(SEARCH_SEEDS);
    this.deltaIndex(); // built now, not in the first question's time
  }

  /** Opens the snapshot in `dir`. IndexError when anything in it is missing, damaged or edited. */
  static async open(dir: string, opts: { graph?: GraphLoading } = {}): Promise<FileSnapshot> {
    const m = readStoreManifest(dir);
    return FileSnapshot.openWith(dir, m, opts);
  }

  static async openWith(dir: string, m: StoreManifest, opts: { graph?: GraphLoading } = {}): Promise<FileSnapshot> {
    // The graph's check (its hash on a worker thread) runs beside the small files' reading.
    const stateP = loadState(dir, m);
    const baseP = openBaseGraph(
      dir,
      m,
      stateP.then((s) => s.table),
      { graph: opts.graph },
    );
    baseP.catch(() => undefined); // awaited below in every path
    let state: StoreState;
    const texts: Buffer[] = [];
    try {
      state = await stateP;
      for (const f of m.textFiles) texts.push(await readVerified(dir, m, f));
    } catch (err) {
      await baseP.then(
        (b) => {
          b?.hnsw?.close();
          b?.vectors?.close();
        },
        () => undefined,
      );
      throw err;
    }
    const base = await baseP;
    return new FileSnapshot(state, texts, base?.hnsw, base?.vectors, base && !base.hnsw ? base.load : undefined);
  }

  private graphLoading: Promise<Graph> | undefined;

  /** Whether the base graph is in memory (a snapshot opened with graph "on-demand" loads it on its first dense search). */
  get graphLoaded(): boolean {
    return this.hnsw !== undefined || this.state.manifest.hnsw === undefined;
  }

  /** The base graph: loaded at open, or now on the first search (on-demand). */
  private async graph(): Promise<Graph | undefined> {
    if (this.hnsw || !this.loadGraph) return this.hnsw;
    this.graphLoading ??= this.loadGraph().then(
      (hnsw) => {
        if (this.closed) {
          hnsw.close();
          throw new Error("this snapshot was closed");
        }
        hnsw.setEf(SEARCH_EF);
        hnsw.setSeeds(SEARCH_SEEDS);
        this.hnsw = hnsw;
        return hnsw;
      },
      (err: unknown) => {
        this.graphLoading = undefined;
        throw err;
      },
    );
    return this.graphLoading;
  }

  get dir(): string {
    return this.state.dir;
  }

  private deltaSearch: InstanceType<typeof BruteforceSearch> | undefined;

  /** The delta's exact index (a few ms to build for a few thousand rows). */
  private deltaIndex(): InstanceType<typeof BruteforceSearch> | undefined {
    const { labels, vectors } = this.state.delta;
    if (labels.length === 0) return undefined;
    if (!this.deltaSearch) {
      const dim = this.state.manifest.dimensions;
      const index = new BruteforceSearch(INDEX_SETTINGS.hnsw.space, dim);
      index.initIndex(labels.length);
      for (let r = 0; r < labels.length; r++) index.addPoint(Array.from(vectors.subarray(r * dim, (r + 1) * dim)), labels[r]!);
      this.deltaSearch = index;
    }
    return this.deltaSearch;
  }

  private text(a: number): string {
    let s = this.textCache.get(a);
    if (s !== undefined) return s;
    const r = this.state.records[a]!;
    s = this.texts[r.t]!.toString("utf8", r.o, r.o + r.b);
    if (s.length !== r.l)
      throw new IndexError(`the index is damaged (${this.state.manifest.textFiles[r.t]}: the text of ${r.id} does not decode to its length)`);
    if (this.textCache.size >= TEXT_CACHE) this.textCache.delete(this.textCache.keys().next().value!);
    this.textCache.set(a, s);
    return s;
  }

  /**
   * The article, its text decoded from the UTF-8 bytes whenever it is read (a bounded cache keeps
   * the recent ones): 40k articles' texts as JS strings would hold ~100-200 MB more at 1M rows.
   */
  private article(a: number): Article {
    const r = this.state.records[a]!;
    const out: Article = { id: r.id, title: r.title, file: r.file, text: "" };
    Object.defineProperty(out, "text", {
      get: () => this.text(a),
      set: (value: string) => Object.defineProperty(out, "text", { value, writable: true, enumerable: true, configurable: true }),
      enumerable: true,
      configurable: true,
    });
    if (r.date !== undefined) out.date = r.date;
    if (r.source !== undefined) out.source = r.source;
    if (r.url !== undefined) out.url = r.url;
    if (r.byline !== undefined) out.byline = r.byline;
    return out;
  }

  async articles(): Promise<Article[]> {
    return this.state.records.map((_, a) => this.article(a));
  }

  async articleHashes(): Promise<Map<string, string>> {
    return new Map(this.state.records.map((r) => [r.id, r.hash]));
  }

  async corpusWords(): Promise<CorpusWords | undefined> {
    return this.state.corpusWords;
  }

  private row(id: PassageId): number {
    const { table, manifest } = this.state;
    if (!Number.isInteger(id) || id < 0 || id >= manifest.labels || table[id * ROW] === -1) throw new Error(`no passage ${id} in this snapshot`);
    return id * ROW;
  }

  async passages(ids: readonly PassageId[]): Promise<Passage[]> {
    const { table, records } = this.state;
    return ids.map((id) => {
      const o = this.row(id);
      const a = table[o]!;
      const [n, start, end] = [table[o + 1]!, table[o + 2]!, table[o + 3]!];
      const articleId = records[a]!.id;
      return { id: `${articleId}#${n}`, articleId, n, text: this.text(a).slice(start, end), start, end };
    });
  }

  async passageIds(articleId: string): Promise<PassageId[]> {
    const a = this.articleIndex.get(articleId);
    return a === undefined ? [] : Array.from(this.state.byArticle[a]!);
  }

  /** One stored vector (the base's from its file, as hnswlib normalised it at insertion). */
  private vectorOf(id: PassageId, out?: Float32Array): Float32Array {
    const o = this.row(id);
    const dim = this.state.manifest.dimensions;
    if (this.state.table[o + 4] === WHERE.delta) {
      const r = this.state.deltaRow.get(id)!;
      const v = this.state.delta.vectors.subarray(r * dim, (r + 1) * dim);
      if (!out) return v.slice();
      out.set(v);
      return out;
    }
    return this.baseVectors!.read(id, out);
  }

  async vectors(ids: readonly PassageId[]): Promise<Float32Array[]> {
    // One allocation for all of them (a question reads a hundred or more).
    const dim = this.state.manifest.dimensions;
    const all = new Float32Array(ids.length * dim);
    const graph = this.hnsw;
    if (!graph || !this.baseVectors) return ids.map((id, i) => this.vectorOf(id, all.subarray(i * dim, (i + 1) * dim)));
    // The base's rows straight from the graph in one call; the delta's from its array.
    const elements = new Int32Array(ids.length).fill(-1);
    const { table, deltaRow, delta } = this.state;
    ids.forEach((id, i) => {
      const o = this.row(id);
      if (table[o + 4] === WHERE.delta) {
        const r = deltaRow.get(id)!;
        all.set(delta.vectors.subarray(r * dim, (r + 1) * dim), i * dim);
      } else {
        const e = this.baseVectors!.elementAt(id);
        if (e < 0) throw new IndexError(`the index is damaged (the vector of passage ${id} cannot be read)`);
        elements[i] = e;
      }
    });
    graph.readVectors(elements, all);
    return ids.map((_, i) => all.subarray(i * dim, (i + 1) * dim));
  }

  async dense(query: Float32Array, k: number, filter?: Filter): Promise<Scored[]> {
    if (this.closed) throw new Error("this snapshot was closed");
    const limit = Math.max(0, Math.floor(k));
    if (limit === 0 || this.state.manifest.passages === 0) return [];
    const dim = this.state.manifest.dimensions;
    if (query.length !== dim) throw new Error(`the query vector has ${query.length} dimensions, the index ${dim}`);
    // Cosine, as hnswlib computes it for the base: the query normalised, stored vectors are unit.
    const norm = Math.hypot(...query) || 1;
    const q = query.map((x) => x / norm);
    const dot = (v: Float32Array, at: number) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[d]! * v[at + d]!;
      return s;
    };
    if (filter?.articleId !== undefined) {
      // One article's few passages: exact, and faster than a filtered graph walk.
      const ids = await this.passageIds(filter.articleId);
      return ids
        .map((id) => ({ id, score: dot(this.vectorOf(id), 0) }))
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, limit);
    }
    const out: Scored[] = [];
    const hnsw = this.hnsw ?? (await this.graph());
    if (hnsw) {
      const n = Math.min(limit, hnsw.getCurrentCount());
      if (n > 0) {
        if (hnsw.getEf() !== Math.max(SEARCH_EF, n)) hnsw.setEf(Math.max(SEARCH_EF, n));
        const { neighbors, distances } = await hnsw.search(q, n);
        for (let i = 0; i < neighbors.length; i++) out.push({ id: neighbors[i]!, score: 1 - distances[i]! });
      }
    }
    // The delta, exactly (hnswlib's native brute force: ~20× a JS loop over 4,000 × 384).
    const delta = this.deltaIndex();
    if (delta) {
      const { neighbors, distances } = delta.searchKnn(Array.from(q), Math.min(limit, this.state.delta.labels.length));
      for (let i = 0; i < neighbors.length; i++) out.push({ id: neighbors[i]!, score: 1 - distances[i]! });
    }
    return out.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, limit);
  }

  async keyword(question: string, k: number, filter?: Filter): Promise<{ hits: KeywordScored[]; queryTerms: number }> {
    let allow: Set<number> | undefined;
    if (filter?.articleId !== undefined) allow = new Set(await this.passageIds(filter.articleId));
    // Unfiltered, the postings are walked off the event loop, beside the dense search.
    const { hits, queryTerms } = allow ? this.state.keywords.query(question, k, { allow }) : await this.state.keywords.queryAsync(question, k);
    return { hits: hits.map((h) => ({ id: h.index, score: h.score, matched: h.matched })), queryTerms };
  }

  async documentFrequency(stems: readonly string[]): Promise<number[]> {
    return stems.map((s) => this.state.keywords.documentFrequency(s));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.textCache.clear();
    this.baseVectors?.close();
    // The mapping goes once the searches in flight are done (each holds it).
    this.hnsw?.close();
    this.hnsw = undefined;
  }
}
