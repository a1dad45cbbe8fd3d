// The embedded store's on-disk format. One folder per snapshot under <index>/snapshots/, and a
// `current` symlink swapped atomically (rename) once a snapshot is complete. A snapshot folder:
//   manifest.json   every file's size and XXH3-64 checksum, the HNSW header as written, a self-checksum
//   articles.json   article metadata (small): id, title, …, content hash, where its text lies
//   texts-<g>.bin   article texts, UTF-8, back to back (immutable: hard-linked into later snapshots)
//   passages.bin    the passage table: per label (passage id) 5 × int32
//                   [article index or -1 (removed), n, start, end, where: 0 none, 1 base HNSW, 2 delta]
//   hnsw-<g>.bin    the base HNSW (hnswlib's file; labels = passage ids; immutable, hard-linked)
//   delta.bin       passages added since the base was written: int32 count, int32 labels, float32 vectors
//   kw-<g>.seg      keyword segments (src/search/postings; immutable, hard-linked)
//   kw-<g>.del      a segment's deletion marks (rewritten when they change)
//   words.txt       the articles' words and names with article counts (rewritten by every write)
// Nothing is parsed before its bytes matched the manifest's checksum (the base HNSW: nothing is
// searched before its structure and the very bytes loaded into memory matched, see snapshot.ts).
// Files are checked with XXH3-64 (@node-rs/xxhash: ~23 GB/s here against SHA-256's ~1.7 GB/s, which
// took a second of every open per GB of graph). The checksums guard against damage, not an attacker:
// whoever can rewrite a file can rewrite the manifest's checksum of it too, whatever the hash; a
// forged graph is caught by its structural check. Snapshots of store format 1 carry SHA-256 and are
// still read (an incremental write keeps the entries of the files it carries over).
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readlinkSync, statSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { xxh3 } from "@node-rs/xxhash";
import { IndexError } from "../../index/store.js";
import type { Article } from "../../types.js";
import type { HnswSummary } from "./hnswfile.js";

export { IndexError };

export const STORE_FORMAT = "citebot-store";
export const STORE_VERSION = 2;
/** Store formats this version reads: 1 differs only by SHA-256 file checksums. */
const READS_VERSIONS = [1, STORE_VERSION];
export const MANIFEST = "manifest.json";
export const ARTICLES = "articles.json";
export const PASSAGES = "passages.bin";
/** The corpus's words and names with article counts (src/search/corpus-words.ts); absent in snapshots written before it existed. */
export const CORPUS_WORDS = "words.txt";
export const DELTA = "delta.bin";
export const SNAPSHOTS = "snapshots";
export const CURRENT = "current";
/** int32 columns of the passage table. */
export const ROW = 5;
export const WHERE = { none: 0, base: 1, delta: 2 } as const;

/** A file's size and checksum: `xxh3` (16 hex digits) as written now, or `sha256` (store format 1). */
export interface FileEntry {
  size: number;
  xxh3?: string;
  sha256?: string;
}

export interface SegmentEntry {
  file: string;
  /** Its deletion marks, when it has any. */
  deletions?: string;
}

export interface StoreManifest {
  format: typeof STORE_FORMAT;
  version: number;
  /** This snapshot's version id (SnapshotInfo.version). */
  id: string;
  model: string;
  dimensions: number;
  settingsHash: string;
  articles: number;
  /** Live passages. */
  passages: number;
  /** Length of the passage table: every label ever given out in this line of snapshots is below it. */
  labels: number;
  /** Counter for new immutable file names (texts-<g>, hnsw-<g>, kw-<g>). */
  generation: number;
  textFiles: string[];
  /** The base HNSW file and its header as written (absent while no passage was folded into a base). */
  hnsw?: { file: string; summary: HnswSummary };
  segments: SegmentEntry[];
  files: Record<string, FileEntry>;
  createdAt: string;
  /** SHA-256 of every other field, in their written order. */
  integrity: string;
}

/** The metadata of one article as articles.json stores it: the article without its text, which lives in a texts file. */
export interface ArticleRecord extends Omit<Article, "text"> {
  hash: string;
  /** Index into manifest.textFiles, byte offset and byte length of the UTF-8 text, and its length in UTF-16 units. */
  t: number;
  o: number;
  b: number;
  l: number;
}

export function manifestIntegrity(m: Omit<StoreManifest, "integrity"> & { integrity?: string }): string {
  const { integrity: _ignored, ...rest } = m;
  return createHash("sha256").update(JSON.stringify(rest)).digest("hex");
}

/** The snapshot folder `current` points at, or undefined. */
export function currentSnapshotDir(indexDir: string): string | undefined {
  const link = path.join(indexDir, CURRENT);
  try {
    return path.resolve(indexDir, readlinkSync(link));
  } catch {
    // An index copied without symlinks (cp -rL) holds the snapshot itself; its manifest is checked as any.
    return existsSync(path.join(link, MANIFEST)) ? link : undefined;
  }
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const isName = (s: unknown): s is string => typeof s === "string" && /^[\w.-]+$/.test(s) && s !== MANIFEST;
/** Exactly one checksum, of its form. */
const isChecksum = (e: FileEntry) =>
  e.xxh3 === undefined ? /^[0-9a-f]{64}$/.test(String(e.sha256)) : e.sha256 === undefined && /^[0-9a-f]{16}$/.test(String(e.xxh3));

/**
 * Reads and checks a snapshot's manifest: format, version, self-checksum, shape, and every file at
 * its recorded size. Cheap (no file is hashed). IndexError when anything is off.
 */
export function readStoreManifest(dir: string): StoreManifest {
  let m: StoreManifest;
  try {
    m = JSON.parse(readFileSync(path.join(dir, MANIFEST), "utf8")) as StoreManifest;
  } catch (err) {
    throw new IndexError(`the index manifest is missing or unreadable (${(err as Error).message.split("\n")[0]})`);
  }
  if (m !== null && typeof m === "object" && (m as { format?: unknown }).format === "citebot-index")
    throw new IndexError("the index is in citebot's earlier on-disk format (one build folder read whole); it needs a full rebuild");
  if (m === null || typeof m !== "object" || m.format !== STORE_FORMAT) throw new IndexError("the index folder holds something that is not a citebot index");
  if (!READS_VERSIONS.includes(m.version))
    throw new IndexError(`the index is from another version of citebot (store format ${m.version}, this one reads ${STORE_VERSION})`);
  if (typeof m.integrity !== "string" || manifestIntegrity(m) !== m.integrity)
    throw new IndexError("the index manifest was changed or damaged (its checksum does not match)");
  const files = m.files && typeof m.files === "object" ? m.files : undefined;
  const named = (f: unknown) => isName(f) && files !== undefined && Object.hasOwn(files, f as string);
  const ok =
    typeof m.id === "string" &&
    typeof m.model === "string" &&
    typeof m.settingsHash === "string" &&
    Number.isSafeInteger(m.dimensions) &&
    m.dimensions > 0 &&
    m.dimensions <= 65536 &&
    isCount(m.articles) &&
    isCount(m.passages) &&
    isCount(m.labels) &&
    m.passages <= m.labels &&
    m.labels < 2 ** 31 &&
    isCount(m.generation) &&
    files !== undefined &&
    Object.entries(files).every(([f, e]) => isName(f) && e && isCount(e.size) && isChecksum(e)) &&
    [ARTICLES, PASSAGES, DELTA].every(named) &&
    Array.isArray(m.textFiles) &&
    m.textFiles.every(named) &&
    Array.isArray(m.segments) &&
    m.segments.every((s) => s && named(s.file) && (s.deletions === undefined || named(s.deletions))) &&
    (m.hnsw === undefined ||
      (m.hnsw !== null && typeof m.hnsw === "object" && named(m.hnsw.file) && typeof m.hnsw.summary === "object" && m.hnsw.summary !== null));
  if (!ok) throw new IndexError("the index manifest is damaged (fields missing or out of range)");
  for (const [file, entry] of Object.entries(m.files)) {
    let actual: number;
    try {
      actual = statSync(path.join(dir, file)).size;
    } catch {
      throw new IndexError(`the index file ${file} is missing`);
    }
    if (actual !== entry.size) throw new IndexError(`the index file ${file} is truncated or damaged (${actual} bytes, expected ${entry.size})`);
  }
  return m;
}

const HASH_CHUNK = 4 << 20;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A running checksum of the kind a manifest entry holds (hex digest). */
export interface Checksum {
  update(bytes: Uint8Array): void;
  digest(): string;
}

/** XXH3-64, the checksum new files get. */
function newChecksum(kind: "xxh3" | "sha256" = "xxh3"): Checksum {
  if (kind === "sha256") {
    const h = createHash("sha256");
    return { update: (b) => void h.update(b), digest: () => h.digest("hex") };
  }
  const h = xxh3.Xxh3.withSeed(0n);
  return { update: (b) => void h.update(b), digest: () => h.digest().toString(16).padStart(16, "0") };
}

/** Whether a finished checksum of a file's bytes is the one its entry records. */
export const checksumMatches = (entry: FileEntry, h: Checksum) => h.digest() === (entry.xxh3 ?? entry.sha256);
/** A running checksum of the entry's kind. */
export const checksumFor = (entry: FileEntry) => newChecksum(entry.xxh3 === undefined ? "sha256" : "xxh3");

/** Size and checksum of bytes about to be written, a few MB at a time with the event loop free in between. */
export async function fileEntryOf(buf: Uint8Array): Promise<FileEntry> {
  return { size: buf.length, xxh3: await checksumOf(buf) };
}

/** The checksum of a buffer (the entry's kind), a few MB at a time with the event loop free in between. */
async function checksumOf(buf: Uint8Array, h: Checksum = newChecksum()): Promise<string> {
  for (let at = 0; at < buf.length; at += HASH_CHUNK) {
    if (at > 0) await yieldToLoop();
    h.update(buf.subarray(at, at + HASH_CHUNK));
  }
  return h.digest();
}

/** Whether a file's bytes match its entry (size and checksum). */
export async function bytesMatch(entry: FileEntry, buf: Uint8Array): Promise<boolean> {
  return buf.length === entry.size && (await checksumOf(buf, checksumFor(entry))) === (entry.xxh3 ?? entry.sha256);
}

async function streamInto(file: string, h: Checksum): Promise<number> {
  const fh = await open(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(HASH_CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, size);
      if (bytesRead === 0) return size;
      h.update(chunk.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Size and checksum of a file, streamed (for files the HNSW builders wrote). */
export async function hashFile(file: string): Promise<FileEntry> {
  const h = newChecksum();
  const size = await streamInto(file, h);
  return { size, xxh3: h.digest() };
}

/** Whether a file on disk matches its entry (size and checksum), streamed. */
export async function fileMatches(file: string, entry: FileEntry): Promise<boolean> {
  const h = checksumFor(entry);
  return (await streamInto(file, h)) === entry.size && checksumMatches(entry, h);
}

/** A file's bytes, checked against the manifest's size and checksum: what is parsed is what was verified. */
export async function readVerified(dir: string, m: StoreManifest, file: string, fd?: number): Promise<Buffer> {
  const entry = m.files[file];
  if (!entry) throw new IndexError(`the index file ${file} is not in the manifest`);
  let buf: Buffer;
  try {
    buf = fd === undefined ? readFileSync(path.join(dir, file)) : readFileSync(fd);
  } catch {
    throw new IndexError(`the index file ${file} is missing`);
  }
  if (buf.length !== entry.size) throw new IndexError(`the index file ${file} is truncated or damaged (${buf.length} bytes, expected ${entry.size})`);
  if (!(await bytesMatch(entry, buf))) throw new IndexError(`the index file ${file} was changed or damaged (its checksum does not match the manifest)`);
  return buf;
}

/** Writes a file and flushes it to disk before returning (the manifest is written last, the link switched after). */
export function writeDurable(file: string, data: Uint8Array | string): void {
  const fd = openSync(file, "w");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(p, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Bytes of a typed array, without a copy. */
export const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** An int32 / float32 view of verified bytes (copied when the Buffer is not 4-byte aligned). */
export function int32View(buf: Uint8Array, byteOffset = 0, count = (buf.byteLength - byteOffset) / 4): Int32Array {
  const at = buf.byteOffset + byteOffset;
  return at % 4 === 0 ? new Int32Array(buf.buffer, at, count) : new Int32Array(new Uint8Array(buf.subarray(byteOffset, byteOffset + count * 4)).buffer);
}

export function float32View(buf: Uint8Array, byteOffset = 0, count = (buf.byteLength - byteOffset) / 4): Float32Array {
  const at = buf.byteOffset + byteOffset;
  return at % 4 === 0 ? new Float32Array(buf.buffer, at, count) : new Float32Array(new Uint8Array(buf.subarray(byteOffset, byteOffset + count * 4)).buffer);
}
