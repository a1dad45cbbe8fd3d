// Text → index terms for the postings engine: exactly `terms()` of ../keyword.ts (same words, stop
// words and Porter2 stems), with stems cached (stemming dominates a build) and absurdly long
// terms dropped so a pasted blob cannot bloat the dictionary.
import { isStopWord, stemOf, words } from "../keyword.js";

/** Terms longer than this (in UTF-16 units, after stemming) are neither indexed nor searched. */
export const MAX_TERM_LENGTH = 64;

const STEM_CACHE_LIMIT = 500_000;
let stems = new Map<string, string>();

function cachedStem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    if (stems.size >= STEM_CACHE_LIMIT) stems = new Map();
    s = stemOf(word);
    stems.set(word, s);
  }
  return s;
}

/** Index/search terms of `text`, in order, duplicates kept. */
export function analyze(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (isStopWord(w) || w.length > MAX_TERM_LENGTH * 4) continue;
    const t = cachedStem(w);
    if (t.length <= MAX_TERM_LENGTH) out.push(t);
  }
  return out;
}
