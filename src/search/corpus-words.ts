// The words a corpus uses, as the retriever needs them without reading every article: the typo
// vocabulary (every word the articles use) and the names (words an article writes capitalised
// mid-sentence, which only match exactly). Each word keeps how many articles use it and how many
// write it as a name, so an incremental write subtracts a removed article's words exactly; the
// embedded store writes this at index time (a 1M-sentence corpus took 1.6 s to scan at every open).
import { words } from "./keyword.js";

const CAPITALISED = /\p{Lu}\p{L}*/gu;
const SPACE = /\s/u;
const BEFORE_NAME = /[\p{L},;:]/u;

/**
 * Words a text writes capitalised mid-sentence (lower-cased, repeats included): a capitalised word
 * after whitespace that follows a letter, comma, semicolon or colon on the same line (a heading
 * without a full stop does not make the next line's first word a name). The same as matching
 * /(?<=[\p{L},;:]\s+)(\p{Lu}\p{L}*)/gu line by line, without the look-behind's cost.
 */
export function* namesIn(text: string): Generator<string> {
  for (const m of text.matchAll(CAPITALISED)) {
    let j = m.index - 1;
    if (j < 0 || text[j] === "\n" || !SPACE.test(text[j]!)) continue;
    while (j >= 0 && text[j] !== "\n" && SPACE.test(text[j]!)) j--;
    if (j < 0 || text[j] === "\n") continue;
    // The character before the spaces, a whole code point (a letter may be outside the BMP).
    const low = text.charCodeAt(j);
    const before = low >= 0xdc00 && low <= 0xdfff && j > 0 ? text.slice(j - 1, j + 1) : text[j]!;
    if (BEFORE_NAME.test(before)) yield m[0].toLowerCase();
  }
}

/** One article's distinct words, and those it writes as names. */
export function articleWords(text: string): { words: Set<string>; names: Set<string> } {
  return { words: new Set(words(text)), names: new Set(namesIn(text)) };
}

const MAGIC = "citebot-corpus-words 1\n";

type Counts = [articles: number, asName: number, wordStamp: number, nameStamp: number];

export class CorpusWords {
  /**
   * Word → [articles using it, articles writing it as a name, the last change that counted it as a
   * word, and as a name] (the stamps make each article count a word once).
   */
  private readonly counts: Map<string, Counts>;
  private changes = 0;
  private byLetterCache?: Map<string, string[]>;
  private namesCache?: Set<string>;

  private constructor(counts: Map<string, Counts>) {
    this.counts = counts;
  }

  static empty(): CorpusWords {
    return new CorpusWords(new Map());
  }

  static fromTexts(texts: Iterable<string>): CorpusWords {
    const c = CorpusWords.empty();
    for (const t of texts) c.add(t);
    return c;
  }

  /** A copy to change (a reader may hold this one). */
  fork(): CorpusWords {
    return new CorpusWords(new Map([...this.counts].map(([w, n]) => [w, [n[0], n[1], 0, 0]])));
  }

  /** Counts one more article. */
  add(text: string): void {
    this.change(text, 1);
  }

  /** Counts one article less (its text as it was added); a word no article uses any more is gone. */
  remove(text: string): void {
    this.change(text, -1);
  }

  // Each distinct word of the text once (a stamp per change instead of a Set per article: a full
  // build counts 40k articles' words at 1M rows, beside the HNSW build).
  private change(text: string, by: 1 | -1): void {
    const stamp = ++this.changes;
    const touched: string[] = [];
    const bump = (w: string, slot: 0 | 1) => {
      let n = this.counts.get(w);
      if (!n) this.counts.set(w, (n = [0, 0, 0, 0]));
      if (n[slot + 2] === stamp) return;
      n[slot + 2] = stamp;
      n[slot] += by;
      if (by < 0) touched.push(w);
    };
    for (const w of words(text)) bump(w, 0);
    for (const w of namesIn(text)) bump(w, 1);
    for (const w of touched) {
      const n = this.counts.get(w);
      if (n && n[0] <= 0 && n[1] <= 0) this.counts.delete(w);
    }
    this.byLetterCache = undefined;
    this.namesCache = undefined;
  }

  /** Whether any article uses the word. */
  has(word: string): boolean {
    return (this.counts.get(word)?.[0] ?? 0) > 0;
  }

  /** Whether any article writes the word capitalised mid-sentence. */
  isName(word: string): boolean {
    return (this.counts.get(word)?.[1] ?? 0) > 0;
  }

  get size(): number {
    return this.counts.size;
  }

  /** Every name, lower-cased. */
  names(): Set<string> {
    if (!this.namesCache) {
      this.namesCache = new Set();
      for (const [w, n] of this.counts) if (n[1] > 0) this.namesCache.add(w);
    }
    return this.namesCache;
  }

  /** Words of four letters or more that articles use, by first letter (typo candidates). */
  byLetter(): Map<string, string[]> {
    if (!this.byLetterCache) {
      const out = new Map<string, string[]>();
      for (const [w, n] of this.counts) {
        if (w.length < 4 || n[0] <= 0) continue;
        let list = out.get(w[0]!);
        if (!list) out.set(w[0]!, (list = []));
        list.push(w);
      }
      this.byLetterCache = out;
    }
    return this.byLetterCache;
  }

  /** One line per word, sorted: `word \t articles \t as a name`. */
  toBytes(): Uint8Array {
    const lines = [...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([w, n]) => `${w}\t${n[0]}\t${n[1]}`);
    return Buffer.from(MAGIC + lines.join("\n"), "utf8");
  }

  /** Parses `toBytes`; a malformed file is an error naming what is wrong. */
  static fromBytes(bytes: Uint8Array): CorpusWords {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    if (!text.startsWith(MAGIC)) throw new Error("not a corpus word list");
    const counts = new Map<string, Counts>();
    const body = text.slice(MAGIC.length);
    if (body.length === 0) return new CorpusWords(counts);
    let at = 0;
    let line = 0;
    while (at <= body.length) {
      let end = body.indexOf("\n", at);
      if (end < 0) end = body.length;
      line++;
      const t1 = body.indexOf("\t", at);
      const t2 = t1 < 0 ? -1 : body.indexOf("\t", t1 + 1);
      if (t1 <= at || t2 < 0 || t2 >= end) throw new Error(`corpus word list line ${line} is malformed`);
      const w = body.slice(at, t1);
      const a = Number(body.slice(t1 + 1, t2));
      const b = Number(body.slice(t2 + 1, end));
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a + b === 0 || counts.has(w))
        throw new Error(`corpus word list line ${line} is malformed`);
      counts.set(w, [a, b, 0, 0]);
      at = end + 1;
    }
    return new CorpusWords(counts);
  }
}
