// Index storage: one folder per build under data/<corpus>/builds/, and a `current` symlink that is
// swapped atomically (rename) once a build is complete, so a crash never leaves a half-written
// index and a running reader never sees one.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Article, Passage } from "../types.js";

/** Bump when the on-disk layout or anything that shapes stored data changes. */
export const INDEX_FORMAT = "citebot-index";
export const INDEX_VERSION = 3;

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
  /** Byte size of each data file, to detect truncation. */
  sizes: Record<string, number>;
  createdAt: string;
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
  for (const a of articles) h.update(JSON.stringify([a.id, a.title, a.date, a.source, a.url, a.file, a.text])).update("\0");
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

/** Reads and checks the manifest of the current build: undefined when there is none, IndexError when it is unusable. */
export function readManifest(buildDir: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(buildDir, FILES.manifest), "utf8")) as Manifest;
  } catch (err) {
    throw new IndexError(`the index manifest is missing or unreadable (${(err as Error).message})`);
  }
  if (manifest?.format !== INDEX_FORMAT) throw new IndexError("the index folder holds something that is not a citebot index");
  if (manifest.version !== INDEX_VERSION) throw new IndexError(`the index is from another version of citebot (format ${manifest.version}, this one reads ${INDEX_VERSION})`);
  for (const [file, size] of Object.entries(manifest.sizes ?? {})) {
    let actual: number;
    try {
      actual = statSync(path.join(buildDir, file)).size;
    } catch {
      throw new IndexError(`the index file ${file} is missing`);
    }
    if (actual !== size) throw new IndexError(`the index file ${file} is truncated or damaged (${actual} bytes, expected ${size})`);
  }
  return manifest;
}

export function readPassages(buildDir: string): { articles: Article[]; passages: Passage[] } {
  const stored = JSON.parse(readFileSync(path.join(buildDir, FILES.passages), "utf8")) as StoredPassages;
  const counters = new Map<string, number>();
  const passages = stored.passages.map(([ai, start, end]) => {
    const article = stored.articles[ai]!;
    const n = counters.get(article.id) ?? 0;
    counters.set(article.id, n + 1);
    return { id: `${article.id}#${n}`, articleId: article.id, n, text: article.text.slice(start, end), start, end };
  });
  return { articles: stored.articles, passages };
}

export function readVectors(buildDir: string, count: number, dimensions: number): Float32Array {
  const buf = readFileSync(path.join(buildDir, FILES.vectors));
  if (buf.byteLength !== count * dimensions * 4) throw new IndexError("the stored vectors do not match the passages");
  // Copy into an aligned buffer (Buffer may be a slice of a shared pool).
  const out = new Float32Array(count * dimensions);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** A build folder being written; `commit()` makes it the current index atomically. */
export class BuildWriter {
  readonly dir: string;
  private readonly sizes: Record<string, number> = {};

  constructor(private readonly indexDir: string) {
    mkdirSync(path.join(indexDir, "builds"), { recursive: true });
    this.dir = path.join(indexDir, "builds", `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(this.dir);
  }

  write(file: string, data: string | Uint8Array): void {
    writeFileSync(path.join(this.dir, file), data);
    this.recordSize(file);
  }

  /** For files written by other code (hnswlib writes its own). */
  recordSize(file: string): void {
    this.sizes[file] = statSync(path.join(this.dir, file)).size;
  }

  commit(manifest: Omit<Manifest, "sizes" | "createdAt" | "format" | "version">): Manifest {
    const full: Manifest = { format: INDEX_FORMAT, version: INDEX_VERSION, ...manifest, sizes: { ...this.sizes }, createdAt: new Date().toISOString() };
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
