// One parsed file → an Article: page furniture and a repeated title removed, a byline line taken out
// as metadata, title found, and every field made safe to print (control and bidi characters shown,
// not obeyed). Format-independent; the format parsers live in ./parsers/.
import path from "node:path";
import type { Article } from "../types.js";
import { type Parsed, readByline, trimEndOf } from "./parsers/common.js";
import { safeLine, safeName, safeText } from "./safe-text.js";

/** Longest line that can be a title (longer is a sentence). */
const MAX_TITLE_CHARS = 200;

/** The article a parsed file makes. `file` is the path relative to the corpus folder. */
export function toArticle(file: string, parsed: Parsed): Article {
  const { meta } = parsed;
  let lines = safeText(parsed.body)
    .split("\n")
    .map((l) => trimEndOf(l));
  lines = stripFurniture(lines);
  // A title repeated as the first body line(s) is page furniture too.
  let title = meta.title ? safeLine(meta.title) : undefined;
  const firstIdx = lines.findIndex((l) => l.trim() !== "");
  if (!title && firstIdx >= 0 && looksLikeTitle(lines[firstIdx]!)) title = lines[firstIdx]!.replace(/^#+\s*/, "").trim();
  // `from`: the first line kept (lines before it are a repeated title or the byline).
  const nextNonBlank = (i: number) => {
    while (i < lines.length && lines[i]!.trim() === "") i++;
    return i;
  };
  let from = 0;
  if (title) {
    for (let i = nextNonBlank(0); i < lines.length && sameText(lines[i]!, title); i = nextNonBlank(i + 1)) from = i + 1;
  }
  // A byline opening the text ("By Priya Raman, September 18, 2024") is metadata, not a sentence.
  let { byline, date } = meta;
  const bylineIdx = nextNonBlank(from);
  const read = bylineIdx + 1 < lines.length && lines[bylineIdx + 1]!.trim() === "" ? readByline(lines[bylineIdx]!) : undefined;
  if (read) {
    from = bylineIdx + 1;
    byline ??= read.byline;
    date ??= read.date;
  }
  const text = (from > 0 ? lines.slice(from) : lines)
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  const id = file
    .slice(0, file.length - path.extname(file).length)
    .split(path.sep)
    .join("/");
  const safe = (v: string | undefined) => (v ? safeLine(v) || undefined : undefined);
  const fields = { date: safe(date), source: safe(meta.source), url: safe(meta.url), byline: safe(byline) };
  return {
    id: safeName(id),
    title: title || safeName(path.basename(id)),
    ...(fields.date ? { date: fields.date } : {}),
    ...(fields.source ? { source: fields.source } : {}),
    ...(fields.url ? { url: fields.url } : {}),
    ...(fields.byline ? { byline: fields.byline } : {}),
    file: safeName(file.split(path.sep).join("/")),
    text,
  };
}

// Navigation text that pages carry around articles.
const FURNITURE = [
  "go to home page",
  "back to top",
  "return to top",
  "skip to content",
  "skip to main content",
  "share this article",
  "print this page",
  "clear",
  "advertisement",
  "read more",
  "home",
];
const FURNITURE_ALT = FURNITURE.map(escapeRegExp).join("|");
/** Longest line that can be furniture only (menus are short): longer lines are never tested. */
const MAX_FURNITURE_LINE = 300;
// One furniture phrase at the start of what is left of a line, with its separator.
const FURNITURE_ITEM = new RegExp(`^\\s*(?:${FURNITURE_ALT})\\s*[|·•]?`, "i");
// Furniture glued onto the end of a sentence ("…, Antonov said.Go to home page").
const FURNITURE_TAIL = new RegExp(`(?<=[.!?"”’)])\\s*(?:${FURNITURE.slice(0, 7).map(escapeRegExp).join("|")})(?:\\s+(?:${FURNITURE_ALT}))*\\s*$`, "i");
const FURNITURE_HEAD = new RegExp(`^\\s*(?:${FURNITURE.slice(0, 7).map(escapeRegExp).join("|")})\\s+(?=\\S)`, "i");

/** Whether a line is nothing but furniture phrases ("Back to top    Go to home page clear"). */
function isFurnitureLine(line: string): boolean {
  if (line.length > MAX_FURNITURE_LINE || line.trim() === "") return false;
  let rest = line;
  let items = 0;
  for (let m = FURNITURE_ITEM.exec(rest); m && m[0].length > 0; m = FURNITURE_ITEM.exec(rest)) {
    rest = rest.slice(m[0].length);
    items++;
  }
  return items > 0 && rest.trim() === "";
}

/** Any furniture phrase: lines without one (nearly all) skip the three patterns. */
const FURNITURE_ANY = new RegExp(FURNITURE_ALT, "i");

function stripFurniture(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.length === 0 || !FURNITURE_ANY.test(l)) out.push(l);
    else if (!isFurnitureLine(l)) out.push(l.replace(FURNITURE_TAIL, "").replace(FURNITURE_HEAD, ""));
  }
  return out;
}

function looksLikeTitle(line: string): boolean {
  const t = line.replace(/^#+\s*/, "").trim();
  return t.length <= MAX_TITLE_CHARS && /[\p{L}\p{N}]/u.test(t) && !/[.!?,;:]["”’]?$/.test(t);
}

const squash = (s: string) =>
  s
    .normalize("NFKC")
    .replace(/^#+\s*/, "")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
const sameText = (a: string, b: string) => a.length <= MAX_TITLE_CHARS * 4 && squash(a) === squash(b);

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
