// Keyword analysis shared by the postings engine (src/search/postings), the retriever and the
// question code: words, stop words and Porter2 stems; and the shape of a keyword hit.
import stem from "wink-porter2-stemmer";

const STOP_WORDS = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being below between both but by can could did do does doing down during each few for from further had has have having he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over own same she should so some such than that the their theirs them themselves then there these they this those through to too under until up very was we were what when where which while who whom why will with would you your yours yourself yourselves " +
    "s t don didn doesn isn wasn weren won wouldn couldn shouldn ll re ve d m whats what's hows anything something thing things stuff say said says tell told know think"
  ).split(/\s+/),
);

/**
 * Longest word that is stemmed. The Porter2 stemmer's cost grows with the square of the word's
 * length (a 64 KB "word" froze the process for 26 s); no real word comes close, so longer tokens
 * (hashes, base64, runs of letters) are kept as they are.
 */
export const MAX_STEMMED_WORD = 64;

export const isStopWord = (w: string) => STOP_WORDS.has(w) || (w.length < 2 && !/\d/.test(w));
/** Stems by word: a word is stemmed once per process (stemming dominates a build, and a question's re-scoring stems the same passages' words again). */
const STEM_CACHE_LIMIT = 500_000;
let stems = new Map<string, string>();

export const stemOf = (w: string) => {
  let s = stems.get(w);
  if (s === undefined) {
    const bare = w.replace(/'/g, "");
    // Kept as it is, and not cached (a pasted blob would hold its bytes in the cache).
    if (bare.length > MAX_STEMMED_WORD) return bare;
    s = stem(bare);
    if (stems.size >= STEM_CACHE_LIMIT) stems = new Map();
    stems.set(w, s);
  }
  return s;
};

/** Lower-cased words of a text, with curly apostrophes and possessives folded. */
export function words(text: string): string[] {
  return (
    text
      .normalize("NFKC")
      .toLowerCase()
      .replace(/[\u2018\u2019\u02bc`]/g, "'")
      .replace(/'s\b/g, "")
      .match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? []
  );
}

/** Index/search terms: content words, stemmed. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (STOP_WORDS.has(w) || (w.length < 2 && !/\d/.test(w))) continue;
    out.push(stemOf(w));
  }
  return out;
}

export interface KeywordHit {
  /** Passage index. */
  index: number;
  score: number;
  /** How many distinct query terms the passage matched. */
  matched: number;
}
