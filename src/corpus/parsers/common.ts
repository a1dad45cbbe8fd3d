// What every format parser returns, and the helpers they share.

/** Metadata a file states about its article. */
export interface Meta {
  title?: string;
  date?: string;
  source?: string;
  url?: string;
  /** The author line ("Priya Raman"), never part of the text. */
  byline?: string;
}

/** A parsed file: metadata and the body text (paragraphs separated by blank lines). */
export interface Parsed {
  meta: Meta;
  body: string;
}

/** A file that is not a usable article; `message` is the reason shown to the admin. */
export class ArticleError extends Error {}

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const MONTH = "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?";
const MDY = new RegExp(`\\b${MONTH}\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, "i");
const DMY = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+${MONTH},?\\s+(\\d{4})\\b`, "i");
const ISO = /\b(\d{4})-(\d{2})-(\d{2})\b/;

/** The first calendar date written in `text` ("September 18, 2024", "18 Sept. 2024", "2024-09-18"), as YYYY-MM-DD. */
export function findDate(text: string): { date: string; index: number; length: number } | undefined {
  const sample = text.slice(0, 400);
  const iso = ISO.exec(sample);
  const mdy = MDY.exec(sample);
  const dmy = DMY.exec(sample);
  const found = [
    iso && { y: iso[1]!, m: Number(iso[2]), d: Number(iso[3]), index: iso.index, length: iso[0].length },
    mdy && { y: mdy[3]!, m: monthOf(mdy[1]!), d: Number(mdy[2]), index: mdy.index, length: mdy[0].length },
    dmy && { y: dmy[3]!, m: monthOf(dmy[2]!), d: Number(dmy[1]), index: dmy.index, length: dmy[0].length },
  ]
    .filter((x): x is NonNullable<typeof x> => !!x && x.m >= 1 && x.m <= 12 && x.d >= 1 && x.d <= 31)
    .sort((a, b) => a.index - b.index)[0];
  if (!found) return undefined;
  return { date: `${found.y}-${String(found.m).padStart(2, "0")}-${String(found.d).padStart(2, "0")}`, index: found.index, length: found.length };
}

function monthOf(name: string): number {
  const n = name.toLowerCase().slice(0, 3);
  return MONTHS.findIndex((m) => m.startsWith(n)) + 1;
}

/** An ISO date or timestamp's YYYY-MM-DD part; undefined for anything else. */
export function isoDay(value: string | undefined | null): string | undefined {
  const m = value ? /^\s*(\d{4}-\d{2}-\d{2})/.exec(value) : null;
  return m ? m[1] : undefined;
}

/** Longest byline line taken as one (longer text is a sentence, not a byline). */
const MAX_BYLINE_CHARS = 120;

/**
 * A byline as people write it ("By Priya Raman, September 18, 2024", "By Priya Raman | Sept. 18,
 * 2024"): the author's name and the date it carries, or undefined when `line` is not a byline.
 */
export function readByline(line: string): { byline?: string; date?: string } | undefined {
  const t = line.trim();
  if (t.length > MAX_BYLINE_CHARS || !/^by\s+\p{Lu}/iu.test(t)) return undefined;
  // A byline names people, it does not say things: no sentence punctuation after the names.
  const date = findDate(t);
  const names = (date ? t.slice(0, date.index) + t.slice(date.index + date.length) : t)
    .replace(/^by\s+/i, "")
    .replace(/\b(?:updated|published|posted)\b:?/gi, "")
    .replace(/[\s,|·•—–-]+$/u, "")
    .replace(/^[\s,|·•—–-]+/u, "")
    .trim();
  if (!names || names.split(/\s+/).length > 12 || /[.!?]["”’]?$/.test(names.replace(/\b\p{Lu}\.$/u, ""))) return undefined;
  return { byline: names, ...(date ? { date: date.date } : {}) };
}

/**
 * `line` without the trailing characters in `chars` (default: spaces, tabs, no-break spaces), in
 * linear time: a `[ \t]+$` regex retries at every position of a long inner run (quadratic).
 */
export function trimEndOf(line: string, chars = " \t\u00a0"): string {
  let e = line.length;
  while (e > 0 && chars.includes(line[e - 1]!)) e--;
  return e === line.length ? line : line.slice(0, e);
}
