// Split stage: Article → Passage[] (one sentence each, with character offsets into article.text).
// Linear in the text: paragraphs are found in one pass and segmented in bounded windows.
// Intl.Segmenter finds candidate boundaries; we then undo the ones it gets wrong in news text:
// after abbreviations ("U.S. Anatoly Antonov"), initials ("J. Smith"), ellipses, and before a
// lower-case continuation ("“Why?” he asked.").
import type { Article, Passage } from "../types.js";

const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/** Abbreviations that (almost) never end a sentence: titles, months, "etc." inside a list, … */
const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "jr",
  "st",
  "gen",
  "col",
  "lt",
  "sgt",
  "capt",
  "cmdr",
  "adm",
  "gov",
  "sen",
  "rep",
  "rev",
  "hon",
  "pres",
  "amb",
  "jan",
  "feb",
  "mar",
  "apr",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
  "mon",
  "tue",
  "tues",
  "wed",
  "thu",
  "thur",
  "thurs",
  "fri",
  "sat",
  "sun",
  "vol",
  "vols",
  "fig",
  "figs",
  "p",
  "pp",
  "ch",
  "sec",
  "art",
  "para",
  "approx",
  "dept",
  "est",
  "inc",
  "ltd",
  "co",
  "corp",
  "bros",
  "vs",
  "v",
  "etc",
  "al",
  "cf",
  "ca",
  "e.g",
  "i.e",
  "a.m",
  "p.m",
]);
/** Dotted acronyms end a sentence only when a typical sentence opener follows ("…the U.S. He said"). */
const SENTENCE_OPENERS = new Set([
  "the",
  "a",
  "an",
  "he",
  "she",
  "it",
  "they",
  "we",
  "i",
  "you",
  "this",
  "that",
  "these",
  "those",
  "there",
  "but",
  "and",
  "or",
  "so",
  "yet",
  "however",
  "meanwhile",
  "in",
  "on",
  "at",
  "as",
  "if",
  "when",
  "while",
  "after",
  "before",
  "his",
  "her",
  "its",
  "their",
  "our",
  "my",
  "what",
  "why",
  "how",
  "who",
  "where",
  "then",
  "also",
  "still",
  "for",
  "to",
  "with",
]);

/**
 * Longest stretch of a paragraph handed to Intl.Segmenter at once. Its cost grows with the square
 * of the length it is given (each segment copies its input: 200,000 tiny sentences in one paragraph
 * took 4.4 GB), so long paragraphs are segmented in windows of this many characters.
 */
export const SEGMENT_WINDOW = 512;
/** Smallest window (for paragraphs of tiny sentences). */
const MIN_WINDOW = 128;
/** A window with no usable boundary grows (doubling) up to this many characters before a sentence is cut. */
const MAX_WINDOW = 4 * SEGMENT_WINDOW;
/** Boundaries this close to a window's end are decided again by the next window, which sees what follows them. */
const WINDOW_MARGIN = 128;
/** Longest passage: a longer "sentence" (no full stop for pages) is cut at spaces into pieces of at most this many characters. */
export const MAX_SENTENCE_CHARS = 2000;
/** Most sentences one file may hold: a long report has a few thousand; indexing 10,000 takes ~6 s on one core. */
export const MAX_PASSAGES_PER_ARTICLE = 10_000;
/** How much of a sentence's end and of the next one's start the boundary rules look at (the last word, a quote, an ellipsis). */
const CONTEXT_CHARS = 64;

interface Piece {
  start: number;
  end: number;
  /** Cut inside a sentence longer than a window: the next piece continues it. */
  continues?: boolean;
}

export function splitSentences(text: string): Array<{ text: string; start: number; end: number }> {
  // Segment each paragraph separately: a line break between paragraphs is always a boundary.
  const raw: Piece[] = [];
  for (const [ps, pe] of paragraphs(text)) {
    let first = true;
    for (const cur of segments(text, ps, pe)) {
      const prev = raw[raw.length - 1];
      const joins =
        prev !== undefined &&
        (prev.continues || (first ? continuesAcrossParagraph(tailOf(text, prev), headOf(text, cur)) : !isBoundary(tailOf(text, prev), headOf(text, cur))));
      if (joins) {
        prev!.end = cur.end;
        prev!.continues = cur.continues;
      } else raw.push({ ...cur });
      first = false;
    }
  }
  const out: Array<{ text: string; start: number; end: number }> = [];
  for (const { start, end } of raw) {
    for (let s = start; s < end; ) {
      // Pieces of at most MAX_SENTENCE_CHARS, cut at a space when there is one in the second half.
      let e = end;
      if (e - s > MAX_SENTENCE_CHARS) {
        e = s + MAX_SENTENCE_CHARS;
        let sp = e;
        while (sp > s + MAX_SENTENCE_CHARS / 2 && !/\s/.test(text[sp - 1]!)) sp--;
        if (sp > s + MAX_SENTENCE_CHARS / 2) e = sp;
        else if (isLowSurrogate(text.charCodeAt(e))) e--;
      }
      pushTrimmed(text, s, e, out);
      s = e;
    }
  }
  return out;
}

/** Trims whitespace off both ends of [s, e), keeping offsets exact, and keeps the piece if it has a letter or digit. */
function pushTrimmed(text: string, s: number, e: number, out: Array<{ text: string; start: number; end: number }>): void {
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (e > s && /[\p{L}\p{N}]/u.test(text.slice(s, e))) out.push({ text: text.slice(s, e), start: s, end: e });
}

const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * Paragraphs of `text` as [start, end): runs of lines where every line after the first holds more
 * than whitespace (a blank or whitespace-only line ends a paragraph). One linear pass.
 */
function* paragraphs(text: string): Generator<[number, number]> {
  const spaces = /[^\S\n]*/y;
  let start = -1;
  let end = -1;
  for (let pos = 0; pos <= text.length; ) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    if (nl > pos) {
      spaces.lastIndex = pos;
      spaces.exec(text);
      const blank = spaces.lastIndex >= nl;
      if (start >= 0 && !blank) end = nl;
      else {
        if (start >= 0) yield [start, end];
        start = pos;
        end = nl;
      }
    } else if (start >= 0) {
      yield [start, end];
      start = -1;
    }
    pos = nl + 1;
  }
  if (start >= 0) yield [start, end];
}

/**
 * Intl.Segmenter's sentence pieces of text[ps, pe), in windows of SEGMENT_WINDOW characters. A
 * window keeps the boundaries found at least WINDOW_MARGIN characters before its end and the next
 * window starts at the last of them, so each boundary is decided with what follows it in view. A
 * window with no such boundary is tried again twice as long (up to MAX_WINDOW); a sentence longer
 * than that is cut at a space and marked to be joined again.
 */
function* segments(text: string, ps: number, pe: number): Generator<Piece> {
  let pos = ps;
  // Tiny sentences make many segments, each costing a copy of the window: their windows shrink
  // (to ~8 segments, at least MIN_WINDOW); ordinary prose keeps SEGMENT_WINDOW.
  let base = SEGMENT_WINDOW;
  let size = base;
  while (pos < pe) {
    const end = Math.min(pe, pos + size);
    const margin = Math.min(WINDOW_MARGIN, base / 4);
    const starts: number[] = [];
    // Only the offsets are kept: each segment object holds a copy of the window.
    for (const s of segmenter.segment(text.slice(pos, end))) starts.push(pos + s.index);
    if (end === pe) {
      for (let i = 0; i < starts.length; i++) yield { start: starts[i]!, end: starts[i + 1] ?? pe };
      return;
    }
    let cut = starts.length - 1;
    while (cut > 0 && starts[cut]! > end - margin) cut--;
    if (cut > 0) {
      for (let i = 0; i < cut; i++) yield { start: starts[i]!, end: starts[i + 1]! };
      base = Math.max(MIN_WINDOW, Math.min(SEGMENT_WINDOW, 8 * Math.round((starts[cut]! - pos) / cut)));
      size = base;
      pos = starts[cut]!;
      continue;
    }
    if (size < MAX_WINDOW) {
      size = Math.min(MAX_WINDOW, size * 2);
      base = Math.max(base, Math.min(size, SEGMENT_WINDOW));
      continue;
    }
    // No boundary in the longest window: one sentence runs past it. Cut it at a space; the next piece continues it.
    let at = end - margin;
    while (at > pos + size / 2 && !/\s/.test(text[at - 1]!)) at--;
    if (at <= pos + size / 2) at = end - margin;
    if (isLowSurrogate(text.charCodeAt(at))) at--;
    yield { start: pos, end: at, continues: true };
    pos = at;
  }
}

/** The last CONTEXT_CHARS characters of a piece, trailing whitespace skipped. */
function tailOf(text: string, p: Piece): string {
  let e = p.end;
  while (e > p.start && /\s/.test(text[e - 1]!)) e--;
  return text.slice(Math.max(p.start, e - CONTEXT_CHARS), e);
}

/** The first CONTEXT_CHARS characters of a piece, leading whitespace skipped. */
function headOf(text: string, p: Piece): string {
  let s = p.start;
  while (s < p.end && /\s/.test(text[s]!)) s++;
  return text.slice(s, Math.min(p.end, s + CONTEXT_CHARS));
}

/** A paragraph break inside a sentence: "…recalled that during the summit,\n\n“the topic of…". */
function continuesAcrossParagraph(before: string, after: string): boolean {
  return /[,;:\p{L}]$/u.test(before.trimEnd()) && /^["“‘']?\p{Ll}/u.test(after.trimStart());
}

/** Whether a sentence really ends between `before` and `after`. */
function isBoundary(before: string, after: string): boolean {
  const b = before.trimEnd();
  const a = after.trimStart();
  if (!a) return true;
  // “Why?” he asked. / … a compromise.... I hope — a lower-case start continues the sentence.
  if (/^[\p{Ll}]/u.test(a)) return false;
  // A sentence cannot start with closing punctuation or a bare comma.
  if (/^[,;:)\]’”]/.test(a)) return false;
  // Ellipses inside quoted speech ("a compromise.... I hope") do not end the sentence.
  if (/(\.\s?\.\s?\.|…)\.?["”’]?$/.test(b)) return false;
  const lastWord = /(?:^|[\s(“"'‘])([\p{L}.]+)\.["”’]?$/u.exec(b)?.[1];
  if (!lastWord) return true;
  const lower = lastWord.toLowerCase();
  // Initials: "J. Smith", "John F. Kennedy".
  if (/^\p{Lu}$/u.test(lastWord)) return false;
  if (ABBREVIATIONS.has(lower)) return false;
  // "No. 5", "Nos. 3 and 4" — but "He said no." ends a sentence.
  if ((lower === "no" || lower === "nos") && /^\d/.test(a)) return false;
  // Dotted acronyms (U.S., U.N., D.C.): a boundary only before a typical sentence opener.
  if (/^(?:\p{L}\.)+\p{L}$/u.test(lastWord)) {
    const next = /^["“‘']?([\p{L}']+)/u.exec(a)?.[1]?.toLowerCase();
    return next !== undefined && SENTENCE_OPENERS.has(next);
  }
  return true;
}

// The load stage splits each article inside its per-file guard; the build then reuses the result.
const splitCache = new WeakMap<Article, { id: string; text: string; passages: Passage[] }>();

/** Article → its passages, one sentence each. */
export function splitArticle(article: Article): Passage[] {
  const cached = splitCache.get(article);
  if (cached && cached.id === article.id && cached.text === article.text) return cached.passages;
  const passages = splitSentences(article.text).map((s, n) => ({
    id: `${article.id}#${n}`,
    articleId: article.id,
    n,
    text: s.text,
    start: s.start,
    end: s.end,
  }));
  splitCache.set(article, { id: article.id, text: article.text, passages });
  return passages;
}
