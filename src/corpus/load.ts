// Load stage: files in a corpus folder → Article[]. Reads .txt, .md, .html, .pdf and .docx (one
// parser per format in ./parsers/). Every per-file step (read, decode, parse, split into sentences)
// runs inside one guard: a file that can't be used (empty, binary, not UTF-8, too large, a
// duplicate, a symlink out of the folder, a YAML alias bomb, a broken PDF, or one whose parsing
// throws) is reported with its reason and skipped; it never fails the corpus.
import { createHash } from "node:crypto";
import type { Dirent, Stats } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { Article } from "../types.js";
import { toArticle } from "./article.js";
import { ArticleError, type Parsed } from "./parsers/common.js";
import { parseHtml } from "./parsers/html.js";
import { parseMarkdown, parseText } from "./parsers/text.js";
import { safeLine, safeName } from "./safe-text.js";
import { MAX_PASSAGES_PER_ARTICLE, splitArticle } from "./split.js";

export const ARTICLE_EXTENSIONS = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"];
/** Larger files are skipped: an article is kilobytes, not a data dump. */
export const MAX_ARTICLE_BYTES = 5 * 1024 * 1024;

export interface SkippedFile {
  /** Path relative to the corpus folder, with control characters shown as pictures. */
  file: string;
  reason: string;
}

export interface LoadedCorpus {
  dir: string;
  articles: Article[];
  skipped: SkippedFile[];
}

export class CorpusError extends Error {}

/** Reads every article file under `dir` (recursively), in a stable order. */
export async function loadCorpus(dir: string): Promise<LoadedCorpus> {
  const root = path.resolve(dir);
  let info: Stats;
  try {
    info = await stat(root);
  } catch {
    throw new CorpusError(
      `The corpus folder ${dir} does not exist. Put article files (.txt, .md, .html, .pdf, .docx) there or name another folder with --corpus or CORPUS_DIR.`,
    );
  }
  if (!info.isDirectory()) throw new CorpusError(`${dir} is not a folder: the corpus must be a folder of article files.`);
  // Symlinks are followed only when they stay inside the (real) corpus folder.
  const realRoot = await realpath(root);

  const skipped: SkippedFile[] = [];
  // Reasons can quote a library's error message: they are made safe to print too.
  const skip = (file: string, reason: string) => skipped.push({ file: safeName(file.split(path.sep).join("/")), reason: safeLine(reason) });
  const files = await listFiles(root, realRoot, skip);

  const articles: Article[] = [];
  const seen = new Map<string, string>();
  const ids = new Set<string>();
  for (const file of files) {
    let article: Article;
    try {
      article = await readArticle(root, file);
      // Split here, inside the guard (the build reuses the result): a file that can't be split is skipped, not fatal.
      const sentences = splitArticle(article).length;
      if (sentences > MAX_PASSAGES_PER_ARTICLE) {
        throw new ArticleError(
          `too many sentences (${sentences.toLocaleString("en")}; the limit is ${MAX_PASSAGES_PER_ARTICLE.toLocaleString("en")} per file)`,
        );
      }
    } catch (err) {
      skip(file, err instanceof ArticleError ? err.message : `could not be read (${(err as Error)?.message?.split("\n")[0] ?? String(err)})`);
      continue;
    }
    if (!article.text.trim()) {
      skip(file, "empty (no article text)");
      continue;
    }
    const hash = createHash("sha256").update(article.text).digest("hex");
    const twin = seen.get(hash);
    if (twin) {
      skip(file, `duplicate of ${twin}`);
      continue;
    }
    seen.set(hash, article.file);
    // Ids are file names without extension: "a.txt" beside "a.md" keeps its extension to stay unique.
    if (ids.has(article.id)) article = { ...article, id: article.file };
    if (ids.has(article.id)) {
      skip(file, `has the same name as another article once its control characters are shown (${article.file})`);
      continue;
    }
    ids.add(article.id);
    articles.push(article);
  }
  return { dir: root, articles, skipped };
}

/**
 * Article files under `root`, relative paths in sorted order. Walks folder by folder (an unreadable
 * subfolder is reported, not fatal); a symlink is followed only to a file inside the corpus folder.
 */
/**
 * A cheap fingerprint of what loadCorpus would read: every article file's path, size, mtime and
 * inode (no file is read). Equal fingerprints mean the same files, unchanged; anything that could
 * change the articles (an edit, a new, removed or renamed file) changes it.
 */
export async function corpusFingerprint(dir: string): Promise<string> {
  const root = path.resolve(dir);
  const realRoot = await realpath(root);
  const problems: string[] = [];
  const files = await listFiles(root, realRoot, (file, reason) => problems.push(`${file}\0${reason}`));
  const h = createHash("sha256");
  for (const file of files.sort()) {
    const st = await stat(path.join(root, file));
    h.update(`${file}\0${st.size}\0${st.mtimeMs}\0${st.ino}\n`);
  }
  for (const p of problems.sort()) h.update(`!${p}\n`);
  return h.digest("hex");
}

async function listFiles(root: string, realRoot: string, skip: (file: string, reason: string) => void): Promise<string[]> {
  const files: string[] = [];
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);
  const folders = [""];
  while (folders.length > 0) {
    const rel = folders.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (rel === "") throw new CorpusError(`The corpus folder ${root} can't be read (${code}).`);
      skip(rel, `folder not readable (${code})`);
      continue;
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const file = path.join(rel, e.name);
      const isArticle = ARTICLE_EXTENSIONS.includes(path.extname(e.name).toLowerCase());
      if (e.isDirectory()) folders.push(file);
      else if (e.isFile()) {
        if (isArticle) files.push(file);
      } else if (e.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(path.join(root, file));
        } catch {
          if (isArticle) skip(file, "a broken symlink (its target does not exist)");
          continue;
        }
        const kind = await stat(target).then(
          (s) => (s.isDirectory() ? "folder" : s.isFile() ? "file" : "other"),
          () => "other",
        );
        if (!inside(target)) {
          if (isArticle || kind === "folder") skip(file, `a symlink to a ${kind === "folder" ? "folder" : "file"} outside the corpus folder (not followed)`);
        } else if (kind === "file" && isArticle) files.push(file);
        // A symlinked folder inside the corpus is not walked again: its files are listed already.
      }
    }
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One file → its article (throws ArticleError with the reason it can't be one). */
async function readArticle(root: string, file: string): Promise<Article> {
  const abs = path.join(root, file);
  let bytes: Buffer;
  try {
    const size = (await stat(abs)).size;
    if (size > MAX_ARTICLE_BYTES) throw new ArticleError(`too large (${(size / 1e6).toFixed(1)} MB; the limit is ${MAX_ARTICLE_BYTES / 1e6} MB)`);
    bytes = await readFile(abs);
  } catch (err) {
    if (err instanceof ArticleError) throw err;
    throw new ArticleError(`unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (bytes.length > MAX_ARTICLE_BYTES) throw new ArticleError(`too large (over ${MAX_ARTICLE_BYTES / 1e6} MB)`);
  const ext = path.extname(file).toLowerCase();
  if (bytes.length === 0) throw new ArticleError("empty file");
  // The PDF and Word parsers load only when a corpus holds such files (mammoth alone takes ~0.15 s to import).
  if (ext === ".pdf") return toArticle(file, await (await import("./parsers/pdf.js")).parsePdf(bytes));
  if (ext === ".docx") return toArticle(file, await (await import("./parsers/docx.js")).parseDocx(bytes));
  const raw = decodeText(bytes);
  if (typeof raw !== "string") throw new ArticleError(raw.reason);
  return parseArticle(file, raw);
}

/** UTF-8 text, or why the bytes are not an article. */
export function decodeText(bytes: Uint8Array): string | { reason: string } {
  if (bytes.length === 0) return { reason: "empty file" };
  if (bytes.includes(0)) return { reason: "binary (contains NUL bytes)" };
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { reason: "not UTF-8 text (re-save it as UTF-8)" };
  }
}

/** Parses one text file's content (.txt, .md, .html: metadata header, markup) into an Article. */
export function parseArticle(file: string, raw: string): Article {
  const ext = path.extname(file).toLowerCase();
  const text = raw.replace(/\r\n?/g, "\n");
  let parsed: Parsed;
  if (ext === ".html" || ext === ".htm") {
    // A YAML header before the markup wins over the page's own metadata.
    const { meta, body } = parseText(text);
    const html = parseHtml(body);
    parsed = { meta: { ...html.meta, ...definedOnly(meta) }, body: html.body };
  } else if (ext === ".md") parsed = parseMarkdown(text);
  else parsed = parseText(text);
  return toArticle(file, parsed);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
