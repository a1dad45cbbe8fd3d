// Load stage: files in a corpus folder → Article[]. Reads .txt, .md and .html; anything it cannot
// use (empty, binary, not UTF-8, too large, a duplicate) is reported and skipped, never fatal.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "htmlparser2";
import { type AnyNode, type Element, isTag, isText } from "domhandler";
import { getAttributeValue, textContent, findOne } from "domutils";
import { parse as parseYaml } from "yaml";
import type { Article } from "../types.js";

export const ARTICLE_EXTENSIONS = [".txt", ".md", ".html", ".htm"];
/** Larger files are skipped: an article is kilobytes, not a data dump. */
export const MAX_ARTICLE_BYTES = 5 * 1024 * 1024;

export interface SkippedFile {
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
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new CorpusError(`The corpus folder ${dir} does not exist. Put article files (.txt, .md, .html) there or name another folder with --corpus or CORPUS_DIR.`);
  }
  if (!info.isDirectory()) throw new CorpusError(`${dir} is not a folder: the corpus must be a folder of article files.`);

  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && ARTICLE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()) && !e.name.startsWith("."))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();

  const articles: Article[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const abs = path.join(root, file);
    let bytes: Buffer;
    try {
      const size = (await stat(abs)).size;
      if (size > MAX_ARTICLE_BYTES) {
        skipped.push({ file, reason: `too large (${(size / 1e6).toFixed(1)} MB; the limit is ${MAX_ARTICLE_BYTES / 1e6} MB)` });
        continue;
      }
      bytes = await readFile(abs);
    } catch (err) {
      skipped.push({ file, reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      continue;
    }
    const raw = decodeText(bytes);
    if (typeof raw !== "string") {
      skipped.push({ file, reason: raw.reason });
      continue;
    }
    const article = parseArticle(file, raw);
    if (!article.text.trim()) {
      skipped.push({ file, reason: "empty (no article text)" });
      continue;
    }
    const hash = createHash("sha256").update(article.text).digest("hex");
    const twin = seen.get(hash);
    if (twin) {
      skipped.push({ file, reason: `duplicate of ${twin}` });
      continue;
    }
    seen.set(hash, file);
    articles.push(article);
  }
  return { dir: root, articles, skipped };
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

interface Meta {
  title?: string;
  date?: string;
  source?: string;
  url?: string;
}

/** Parses one file's text (metadata header, HTML or plain text) into an Article. */
export function parseArticle(file: string, raw: string): Article {
  const ext = path.extname(file).toLowerCase();
  const id = file.slice(0, file.length - path.extname(file).length).split(path.sep).join("/");
  let { meta, body } = splitFrontMatter(raw.replace(/\r\n?/g, "\n"));
  if (ext === ".html" || ext === ".htm") {
    const html = fromHtml(body);
    meta = { ...html.meta, ...meta };
    body = html.text;
  } else if (ext === ".md") {
    // The first heading is the title when the header gives none.
    const heading = /^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(body);
    if (!meta.title && heading && !body.slice(0, heading.index).trim()) meta = { ...meta, title: heading[1]! };
    body = fromMarkdown(body);
  }
  let lines = body.split("\n").map((l) => l.replace(/[ \t\u00a0]+$/u, ""));
  lines = stripFurniture(lines);
  // A title repeated as the first body line(s) is page furniture too.
  let title = meta.title?.trim();
  const firstIdx = lines.findIndex((l) => l.trim() !== "");
  if (!title && firstIdx >= 0 && looksLikeTitle(lines[firstIdx]!)) title = lines[firstIdx]!.replace(/^#+\s*/, "").trim();
  if (title) {
    while (true) {
      const i = lines.findIndex((l) => l.trim() !== "");
      if (i < 0 || !sameText(lines[i]!, title)) break;
      lines.splice(0, i + 1);
    }
  }
  const text = lines.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  return {
    id,
    title: title || path.basename(id),
    ...(meta.date ? { date: meta.date } : {}),
    ...(meta.source ? { source: meta.source } : {}),
    ...(meta.url ? { url: meta.url } : {}),
    file: file.split(path.sep).join("/"),
    text,
  };
}

/** An optional `---` YAML header with title, date, source (or publisher), url. */
function splitFrontMatter(raw: string): { meta: Meta; body: string } {
  const m = /^\uFEFF?---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(raw);
  if (!m) return { meta: {}, body: raw.replace(/^\uFEFF/, "") };
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = parseYaml(m[1]!);
    if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
  } catch {
    // Not valid YAML, typically an unquoted colon ("title: pytest 2.7: bug fixes"): read it as
    // plain "key: value" lines, splitting each at its first colon.
    for (const line of m[1]!.split("\n")) {
      const kv = /^\s*([A-Za-z_][\w-]*)\s*:\s?(.*)$/.exec(line);
      if (kv) data[kv[1]!.toLowerCase()] = kv[2]!.trim().replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  const str = (v: unknown) => (v instanceof Date ? v.toISOString().slice(0, 10) : v == null ? undefined : String(v).trim() || undefined);
  return {
    meta: {
      title: str(data.title),
      date: str(data.date),
      source: str(data.source ?? data.publisher),
      url: str(data.url),
    },
    body: raw.slice(m[0].length),
  };
}

const BLOCK_TAGS = new Set(["p", "div", "section", "article", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "br", "tr", "table", "figcaption", "main", "dd", "dt"]);
const SKIP_TAGS = new Set(["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button", "svg", "iframe", "template", "head"]);

function fromHtml(html: string): { meta: Meta; text: string } {
  const doc = parseDocument(html, { decodeEntities: true });
  const metaContent = (pred: (el: Element) => boolean) => {
    const el = findOne((e) => e.name === "meta" && pred(e), doc.children, true);
    return el ? getAttributeValue(el, "content")?.trim() || undefined : undefined;
  };
  const attr = (name: string) => (el: Element) => getAttributeValue(el, "property") === name || getAttributeValue(el, "name") === name;
  const titleEl = findOne((e) => e.name === "title", doc.children, true);
  const h1 = findOne((e) => e.name === "h1", doc.children, true);
  const canonical = findOne((e) => e.name === "link" && getAttributeValue(e, "rel") === "canonical", doc.children, true);
  const date = metaContent(attr("article:published_time")) ?? metaContent(attr("date"));
  const meta: Meta = {
    title: metaContent(attr("og:title")) ?? (h1 ? textContent(h1).trim() : undefined) ?? (titleEl ? textContent(titleEl).trim() : undefined),
    source: metaContent(attr("og:site_name")) ?? metaContent(attr("author")),
    date: date && /^\d{4}-\d{2}-\d{2}/.test(date) ? date.slice(0, 10) : undefined,
    url: metaContent(attr("og:url")) ?? (canonical ? getAttributeValue(canonical, "href") : undefined),
  };
  const root = findOne((e) => e.name === "article", doc.children, true) ?? findOne((e) => e.name === "body", doc.children, true) ?? doc;
  const out: string[] = [];
  const walk = (nodes: AnyNode[]) => {
    for (const n of nodes) {
      if (isText(n)) out.push(n.data.replace(/\s+/g, " "));
      else if (isTag(n)) {
        if (SKIP_TAGS.has(n.name)) continue;
        const block = BLOCK_TAGS.has(n.name);
        if (block) out.push("\n\n");
        walk(n.children);
        if (block) out.push("\n\n");
      }
    }
  };
  walk("children" in root ? root.children : []);
  const text = out
    .join("")
    .split("\n")
    .map((l) => l.trim())
    .join("\n");
  return { meta, text };
}

function fromMarkdown(md: string): string {
  return md
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, "")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/^[ \t]{0,3}[-*+][ \t]+/gm, "")
    .replace(/^[ \t]{0,3}>[ \t]?/gm, "")
    // Headings are section titles, not sentences of the article.
    .replace(/^[ \t]{0,3}#{1,6}[ \t].*$/gm, "")
    .replace(/(\*\*|__)(.+?)\1/g, "$2")
    .replace(/(?<![\p{L}\p{N}*_])([*_])(?=\S)(.+?)(?<=\S)\1(?![\p{L}\p{N}*_])/gu, "$2")
    .replace(/`([^`]+)`/g, "$1");
}

// Navigation text that pages carry around articles.
const FURNITURE = ["go to home page", "back to top", "return to top", "skip to content", "skip to main content", "share this article", "print this page", "clear", "advertisement", "read more", "home"];
const FURNITURE_LINE = new RegExp(`^(?:\\s*(?:${FURNITURE.map(escapeRegExp).join("|")})\\s*[|·•]?)+\\s*$`, "i");
// Furniture glued onto the end of a sentence ("…, Antonov said.Go to home page").
const FURNITURE_TAIL = new RegExp(`(?<=[.!?"”’)])\\s*(?:${FURNITURE.slice(0, 7).map(escapeRegExp).join("|")})(?:\\s+(?:${FURNITURE.map(escapeRegExp).join("|")}))*\\s*$`, "i");
const FURNITURE_HEAD = new RegExp(`^\\s*(?:${FURNITURE.slice(0, 7).map(escapeRegExp).join("|")})\\s+(?=\\S)`, "i");

function stripFurniture(lines: string[]): string[] {
  return lines
    .filter((l) => !FURNITURE_LINE.test(l) || l.trim() === "")
    .map((l) => l.replace(FURNITURE_TAIL, "").replace(FURNITURE_HEAD, ""));
}

function looksLikeTitle(line: string): boolean {
  const t = line.replace(/^#+\s*/, "").trim();
  return /[\p{L}\p{N}]/u.test(t) && t.length <= 200 && !/[.!?,;:]["”’]?$/.test(t);
}

const squash = (s: string) => s.normalize("NFKC").replace(/^#+\s*/, "").replace(/\s+/g, " ").trim().toLowerCase();
const sameText = (a: string, b: string) => squash(a) === squash(b);

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
