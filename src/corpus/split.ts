// Split stage: Article → Passage[] (one sentence each, with character offsets into article.text).
// Intl.Segmenter finds candidate boundaries; we then undo the ones it gets wrong in news text:
// after abbreviations ("U.S. Anatoly Antonov"), initials ("J. Smith"), ellipses, and before a
// lower-case continuation ("“Why?” he asked.").
import type { Article, Passage } from "../types.js";

const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });

/** Abbreviations that (almost) never end a sentence: titles, months, "etc." inside a list, … */
const ABBREVIATIONS = new Set(
  [
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm", "gov", "sen", "rep", "rev", "hon", "pres", "amb",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    "vol", "vols", "fig", "figs", "p", "pp", "ch", "sec", "art", "para", "approx", "dept", "est", "inc", "ltd", "co", "corp", "bros", "vs", "v", "etc", "al", "cf", "ca",
    "e.g", "i.e", "a.m", "p.m",
  ],
);
/** Dotted acronyms end a sentence only when a typical sentence opener follows ("…the U.S. He said"). */
const SENTENCE_OPENERS = new Set(
  ["the", "a", "an", "he", "she", "it", "they", "we", "i", "you", "this", "that", "these", "those", "there", "but", "and", "or", "so", "yet", "however", "meanwhile", "in", "on", "at", "as", "if", "when", "while", "after", "before", "his", "her", "its", "their", "our", "my", "what", "why", "how", "who", "where", "then", "also", "still", "for", "to", "with"],
);

export function splitSentences(text: string): Array<{ text: string; start: number; end: number }> {
  // Segment each paragraph separately: a line break between paragraphs is always a boundary.
  const raw: Array<{ start: number; end: number }> = [];
  const paraRe = /[^\n]+(?:\n(?!\s*\n)[^\n]+)*/g;
  for (const para of text.matchAll(paraRe)) {
    const base = para.index;
    const pieces = [...segmenter.segment(para[0])].map((s) => ({ start: base + s.index, end: base + s.index + s.segment.length }));
    for (let i = 0; i < pieces.length; i++) {
      const cur = pieces[i]!;
      const prev = raw[raw.length - 1];
      const joins =
        prev !== undefined &&
        (i > 0
          ? !isBoundary(text.slice(prev.start, prev.end), text.slice(cur.start, cur.end))
          : continuesAcrossParagraph(text.slice(prev.start, prev.end), text.slice(cur.start, cur.end)));
      if (joins) prev!.end = cur.end;
      else raw.push({ ...cur });
    }
  }
  const out: Array<{ text: string; start: number; end: number }> = [];
  for (const { start, end } of raw) {
    // Trim whitespace off both ends, keeping offsets exact.
    let s = start;
    let e = end;
    while (s < e && /\s/.test(text[s]!)) s++;
    while (e > s && /\s/.test(text[e - 1]!)) e--;
    if (e > s && /[\p{L}\p{N}]/u.test(text.slice(s, e))) out.push({ text: text.slice(s, e), start: s, end: e });
  }
  return out;
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

/** Article → its passages, one sentence each. */
export function splitArticle(article: Article): Passage[] {
  return splitSentences(article.text).map((s, n) => ({
    id: `${article.id}#${n}`,
    articleId: article.id,
    n,
    text: s.text,
    start: s.start,
    end: s.end,
  }));
}
