// Text → index terms for the postings engine: exactly `terms()` of ../keyword.ts (same words, stop
// words and Porter2 stems; stemOf caches them) and absurdly long
// terms dropped so a pasted blob cannot bloat the dictionary.
import { isStopWord, stemOf, words } from "../keyword.js";

/** Terms longer than this (in UTF-16 units, after stemming) are neither indexed nor searched. */
export const MAX_TERM_LENGTH = 64;

/** Index/search terms of `text`, in order, duplicates kept. */
export function analyze(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (isStopWord(w) || w.length > MAX_TERM_LENGTH * 4) continue;
    const t = stemOf(w);
    if (t.length <= MAX_TERM_LENGTH) out.push(t);
  }
  return out;
}
