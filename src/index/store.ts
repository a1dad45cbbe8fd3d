// Index storage: one folder per build under data/<corpus>/builds/, and a `current` symlink that is
// swapped atomically (rename) once a build is complete, so a crash never leaves a half-written
// index and a running reader never sees one.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Article, Passage } from "../types.js";
import type { HnswSummary } from "./hnswcheck.js";

/** Bump when the on-disk layout or anything that shapes stored data changes. */
export const INDEX_FORMAT = "citebot-index";
/** 4: checksums of every file, the HNSW header and a self-checksum in the manifest. */
export const INDEX_VERSION = 4;

export const FILES = {
  manifest: "manifest.json",
  passages: "passages.json",
  vectors: "vectors.f32",
  hnsw: "hnsw.bin",
  keyword: "keyword.json",
} as const;

export interface Manifest {
  format: typeof INDEX_FORMAT;
  version: number;
  model: string;
  dimensions: number;
  corpusHash: string;
  settingsHash: string;
  articles: number;
  passages: number;
  /** Byte size of each data file, to detect truncation cheaply (the watcher's poll). */
  sizes: Record<string, number>;
  /** SHA-256 (hex) of each data file, verified on every load before anything is parsed. */
  checksums: Record<string, string>;
  /** The HNSW file's header as written, compared with the file before hnswlib reads it (absent for an empty index). */
  hnsw?: HnswSummary;
  createdAt: string;
  /** SHA-256 of every other field: an edited manifest is detected like an edited file. */
  integrity: string;
}

export interface StoredPassages {
  articles: Article[];
  /** Passage offsets; the text is article.text.slice(start, end). */
  passages: Array<[articleIndex: number, start: number, end: number]>;
}

export class IndexError extends Error {}

/** Where a corpus folder's index lives: data/<folder name>-<hash of its path>/. */
export function indexDirFor(dataDir: string, corpusDir: string): string {
  const abs = path.resolve(corpusDir);
  const slug = path.basename(abs).replace(/[^\w.-]+/g, "_") || "corpus";
  return path.join(path.resolve(dataDir), `${slug}-${createHash("sha256").update(abs).digest("hex").slice(0, 8)}`);
}

export function hashCorpus(articles: Article[]): string {
  const h = createHash("sha256");
  for (const a of articles) h.update(JSON.stringify([a.id, a.title, a.date, a.source, a.url, a.byline, a.file, a.text])).update("\0");
  return h.digest("hex");
}

export function hashSettings(settings: unknown): string {
  return createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16);
}

export function currentBuildDir(indexDir: string): string | undefined {
  const link = path.join(indexDir, "current");
  try {
    return path.resolve(indexDir, readlinkSync(link));
  } catch {
    // A copy made without symlinks (cp -rL) holds the build itself; readManifest checks it.
    return existsSync(path.join(link, FILES.manifest)) ? link : undefined;
  }
}

/** The manifest's self-checksum: SHA-256 of its fields (all but `integrity`) in their written order. */
export function manifestIntegrity(manifest: Omit<Manifest, "integrity"> & { integrity?: string }): string {
  const { integrity: _ignored, ...rest } = manifest;
  return createHash("sha256").update(JSON.stringify(rest)).digest("hex");
}

/** The data files a build must hold (the HNSW file only when there are passages). */
export function dataFiles(passages: number): string[] {
  return passages > 0 ? [FILES.passages, FILES.vectors, FILES.hnsw, FILES.keyword] : [FILES.passages, FILES.vectors, FILES.keyword];
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * Reads and checks the manifest of a build: its format, version, self-checksum and shape, and that
 * every data file is there at its recorded size. IndexError when anything is off. Cheap (no file is
 * hashed): the watcher runs it on every poll; loading verifies checksums too (readVerified).
 */
export function readManifest(buildDir: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(buildDir, FILES.manifest), "utf8")) as Manifest;
  } catch (err) {
    throw new IndexError(`the index manifest is missing or unreadable (${(err as Error).message})`);
  }
  if (manifest === null || typeof manifest !== "object" || manifest.format !== INDEX_FORMAT)
    throw new IndexError("the index folder holds something that is not a citebot index");
  if (manifest.version !== INDEX_VERSION)
    throw new IndexError(`the index is from another version of citebot (format ${manifest.version}, this one reads ${INDEX_VERSION})`);
  if (typeof manifest.integrity !== "string" || manifestIntegrity(manifest) !== manifest.integrity) {
    throw new IndexError("the index manifest was changed or damaged (its checksum does not match)");
  }
  const files = isCount(manifest.passages) ? dataFiles(manifest.passages) : [];
  const shapeOk =
    typeof manifest.model === "string" &&
    Number.isSafeInteger(manifest.dimensions) &&
    manifest.dimensions > 0 &&
    manifest.dimensions <= 65536 &&
    isCount(manifest.articles) &&
    isCount(manifest.passages) &&
    typeof manifest.sizes === "object" &&
    manifest.sizes !== null &&
    typeof manifest.checksums === "object" &&
    manifest.checksums !== null &&
    Object.keys(manifest.sizes).sort().join() === [...files].sort().join() &&
    Object.keys(manifest.checksums).sort().join() === [...files].sort().join() &&
    files.every((f) => isCount(manifest.sizes[f]) && /^[0-9a-f]{64}$/.test(manifest.checksums[f] ?? "")) &&
    (manifest.passages === 0 || (typeof manifest.hnsw === "object" && manifest.hnsw !== null));
  if (!shapeOk) throw new IndexError("the index manifest is damaged (fields missing or out of range)");
  for (const file of files) {
    let actual: number;
    try {
      actual = statSync(path.join(buildDir, file)).size;
    } catch {
      throw new IndexError(`the index file ${file} is missing`);
    }
    const size = manifest.sizes[file]!;
    if (actual !== size) throw new IndexError(`the index file ${file} is truncated or damaged (${actual} bytes, expected ${size})`);
  }
  return manifest;
}

const HASH_SLICE = 1 << 20;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** SHA-256 of a buffer, a megabyte at a time with the event loop free in between. */
export async function sha256Of(buf: Uint8Array): Promise<string> {
  const h = createHash("sha256");
  for (let at = 0; at < buf.length; at += HASH_SLICE) {
    if (at > 0) await yieldToLoop();
    h.update(buf.subarray(at, at + HASH_SLICE));
  }
  return h.digest("hex");
}

/**
 * A data file's bytes, read without blocking and checked against the manifest's size and checksum.
 * The caller parses these very bytes, so what is parsed is what was verified.
 */
export async function readVerified(buildDir: string, manifest: Manifest, file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(path.join(buildDir, file));
  } catch {
    throw new IndexError(`the index file ${file} is missing`);
  }
  if (buf.length !== manifest.sizes[file])
    throw new IndexError(`the index file ${file} is truncated or damaged (${buf.length} bytes, expected ${manifest.sizes[file]})`);
  if ((await sha256Of(buf)) !== manifest.checksums[file])
    throw new IndexError(`the index file ${file} was changed or damaged (its checksum does not match the manifest)`);
  return buf;
}

/** Size and modification time of each data file: the watcher re-verifies checksums only when these change. */
export function fileStamps(buildDir: string, manifest: Manifest): string {
  return dataFiles(manifest.passages)
    .map((f) => {
      try {
        const st = statSync(path.join(buildDir, f));
        return `${f}:${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        return `${f}:missing`;
      }
    })
    .join("|");
}

/** Verifies every data file's checksum (the watcher, after a file's stamp changed). */
export async function verifyChecksums(buildDir: string, manifest: Manifest): Promise<void> {
  for (const file of dataFiles(manifest.passages)) await readVerified(buildDir, manifest, file);
}

const isStr = (s: unknown): s is string => typeof s === "string";
const isOptStr = (s: unknown) => s === undefined || s === null || typeof s === "string";

/** passages.json, parsed and checked: every offset inside its article, counts as in the manifest. */
export function parsePassages(buf: Buffer, manifest: Manifest): { articles: Article[]; passages: Passage[] } {
  let stored: StoredPassages;
  try {
    stored = JSON.parse(buf.toString("utf8")) as StoredPassages;
  } catch (err) {
    throw new IndexError(`the index is damaged (${FILES.passages}: ${(err as Error).message.split("\n")[0]})`);
  }
  const bad = (why: string) => new IndexError(`the index is damaged (${FILES.passages}: ${why})`);
  if (!stored || !Array.isArray(stored.articles) || !Array.isArray(stored.passages)) throw bad("not a passage list");
  if (stored.articles.length !== manifest.articles) throw bad(`${stored.articles.length} articles, the manifest says ${manifest.articles}`);
  if (stored.passages.length !== manifest.passages) throw new IndexError("the stored passages do not match the manifest");
  const ids = new Set<string>();
  for (const a of stored.articles) {
    if (!a || !isStr(a.id) || !isStr(a.title) || !isStr(a.text) || !isStr(a.file) || !isOptStr(a.date) || !isOptStr(a.source) || !isOptStr(a.url))
      throw bad("an article is malformed");
    if (ids.has(a.id)) throw bad(`article id ${a.id} appears twice`);
    ids.add(a.id);
  }
  const counters = new Map<string, number>();
  const passages = stored.passages.map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 3) throw bad(`passage ${i} is malformed`);
    const [ai, start, end] = entry;
    const article = Number.isSafeInteger(ai) ? stored.articles[ai] : undefined;
    if (!article) throw bad(`passage ${i} names article ${ai}, which does not exist`);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > article.text.length)
      throw bad(`passage ${i} lies outside its article`);
    const n = counters.get(article.id) ?? 0;
    counters.set(article.id, n + 1);
    return { id: `${article.id}#${n}`, articleId: article.id, n, text: article.text.slice(start, end), start, end };
  });
  return { articles: stored.articles, passages };
}

/** vectors.f32 as unit vectors: the right length, every value a finite number, no norm above 1. */
export function parseVectors(buf: Buffer, count: number, dimensions: number): Float32Array {
  if (buf.byteLength !== count * dimensions * 4) throw new IndexError("the stored vectors do not match the passages");
  // Copy into an aligned buffer (Buffer may be a slice of a shared pool).
  const out = new Float32Array(count * dimensions);
  new Uint8Array(out.buffer).set(buf);
  for (let i = 0; i < count; i++) {
    let sq = 0;
    for (let d = i * dimensions; d < (i + 1) * dimensions; d++) {
      const x = out[d]!;
      if (!Number.isFinite(x)) throw new IndexError(`the index is damaged (${FILES.vectors}: vector ${i} holds a value that is not a number)`);
      sq += x * x;
    }
    // Stored vectors are normalized (or zero, for a sentence with no known word).
    if (sq > 1.001) throw new IndexError(`the index is damaged (${FILES.vectors}: vector ${i} is not a unit vector)`);
  }
  return out;
}

/** keyword.json (a MiniSearch index): every document id one of the passages, the count as in the manifest. */
export function checkKeywordJson(json: string, passages: number): void {
  const bad = (why: string) => new IndexError(`the index is damaged (${FILES.keyword}: ${why})`);
  let data: { documentCount?: unknown; documentIds?: unknown; index?: unknown };
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw bad((err as Error).message.split("\n")[0]!);
  }
  if (!data || typeof data !== "object" || typeof data.documentIds !== "object" || data.documentIds === null || !Array.isArray(data.index))
    throw bad("not a keyword index");
  if (data.documentCount !== passages) throw bad(`${String(data.documentCount)} documents, the manifest says ${passages}`);
  const seen = new Set<number>();
  for (const id of Object.values(data.documentIds as Record<string, unknown>)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= passages || seen.has(id as number))
      throw bad(`document id ${String(id)} is not one of the passages`);
    seen.add(id as number);
  }
}

/** A build folder being written; `commit()` makes it the current index atomically. */
export class BuildWriter {
  readonly dir: string;
  private readonly sizes: Record<string, number> = {};
  private readonly checksums: Record<string, string> = {};

  constructor(private readonly indexDir: string) {
    mkdirSync(path.join(indexDir, "builds"), { recursive: true });
    this.dir = path.join(indexDir, "builds", `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(this.dir);
  }

  write(file: string, data: string | Uint8Array): void {
    writeFileSync(path.join(this.dir, file), data);
    this.recordFile(file);
  }

  /** Records a written file's size and checksum, as read back from disk (hnswlib writes its own file). */
  recordFile(file: string): void {
    const bytes = readFileSync(path.join(this.dir, file));
    this.sizes[file] = bytes.length;
    this.checksums[file] = createHash("sha256").update(bytes).digest("hex");
  }

  commit(manifest: Omit<Manifest, "sizes" | "checksums" | "createdAt" | "format" | "version" | "integrity">): Manifest {
    const body: Omit<Manifest, "integrity"> = {
      format: INDEX_FORMAT,
      version: INDEX_VERSION,
      ...manifest,
      sizes: { ...this.sizes },
      checksums: { ...this.checksums },
      createdAt: new Date().toISOString(),
    };
    const full: Manifest = { ...body, integrity: manifestIntegrity(body) };
    writeFileSync(path.join(this.dir, FILES.manifest), JSON.stringify(full, null, 2));
    const previous = currentBuildDir(this.indexDir);
    const current = path.join(this.indexDir, "current");
    // A real folder where the link belongs (a copied index) cannot be renamed over: remove it.
    if (existsSync(current) && !lstatSync(current).isSymbolicLink()) rmSync(current, { recursive: true, force: true });
    const tmpLink = path.join(this.indexDir, `current.tmp-${process.pid}`);
    rmSync(tmpLink, { force: true });
    symlinkSync(path.relative(this.indexDir, this.dir), tmpLink);
    renameSync(tmpLink, current);
    pruneBuilds(this.indexDir, [this.dir, previous]);
    return full;
  }

  abort(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Removes old builds, keeping the new one and the one it replaced (a reader may still be loading
 * it). An unfinished build (no manifest) of another live process is left alone: it is being written.
 */
function pruneBuilds(indexDir: string, keep: Array<string | undefined>): void {
  const buildsDir = path.join(indexDir, "builds");
  for (const name of readdirSync(buildsDir)) {
    const dir = path.join(buildsDir, name);
    if (keep.includes(dir)) continue;
    const owner = Number(name.split("-")[1]);
    if (!existsSync(path.join(dir, FILES.manifest)) && owner !== process.pid && isAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function indexExists(indexDir: string): boolean {
  const dir = currentBuildDir(indexDir);
  return dir !== undefined && existsSync(dir);
}
