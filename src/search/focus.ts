// Question focus: does the cited window say something about EACH thing the question asks, and
// in particular about the question's rarest words? A near-topic question ("how many fans were at
// Quayside Park?" on a match report that gives no attendance) matches its passage on the topic
// words (the ground, the clubs) and misses the one word that says what is asked (fans): a whole-
// sentence cosine, or a mean over the question's tokens, hides that miss; a per-word view with
// the words weighted by their rarity shows it.
//
// Pure functions over the question's token matrix (its rows grouped into content words, see
// markContentTokens), a window's token matrix and the window's words.
import { stemOf, words } from "./keyword.js";
import { bestCosines, type TokenMatrix } from "./late.js";

/** How each content word of the question is matched by one window, and the two figures made from it. */
export interface FocusScores {
  /** Rarity-weighted mean over the question's content words of how well each is matched (1: the word itself). */
  focus: number;
  /** The worst-matched word's miss, weighted by its rarity relative to the question's rarest word (0: nothing missing). */
  gap: number;
}

/**
 * Per content word of the question (its `words` groups), the mean over the word's pieces of each
 * piece's best cosine with any token of the window (ColBERT MaxSim kept per word, not averaged
 * over the question). Empty when the question's rows are not grouped into words.
 */
export function wordSimilarities(q: TokenMatrix, doc: TokenMatrix, dim: number, best?: Float64Array): number[] {
  if (!q.words || doc.rows === 0) return [];
  const cosines = best ?? bestCosines(q, doc, dim);
  const sum: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < q.rows; i++) {
    const g = q.words[i]!;
    if (g < 0) continue;
    sum[g] = (sum[g] ?? 0) + cosines[i]!;
    count[g] = (count[g] ?? 0) + 1;
  }
  return sum.map((s, g) => s / count[g]!);
}

/**
 * Focus of one window: `similarities` per content word (wordSimilarities), `present` whether the
 * word itself (or its stem) is in the window, `weights` each word's rarity (IDF over the corpus's
 * sentences; a word the corpus never uses weighs the most). A word present counts 1, else its
 * similarity (clamped to [0, 1]).
 */
export function focusOf(similarities: number[], present: boolean[], weights: number[]): FocusScores {
  let total = 0;
  let covered = 0;
  let heaviest = 0;
  let worst = 0;
  similarities.forEach((s, i) => {
    const w = Math.max(0, weights[i] ?? 0);
    const m = present[i] ? 1 : Math.min(1, Math.max(0, s));
    total += w;
    covered += w * m;
    heaviest = Math.max(heaviest, w);
    worst = Math.max(worst, w * (1 - m));
  });
  if (total === 0) return { focus: 0, gap: 0 };
  return { focus: covered / total, gap: heaviest > 0 ? worst / heaviest : 0 };
}

/**
 * Focus of a window for a question whose token matrix has its content words marked
 * (markContentTokens): `weightOf` gives a word's rarity (the retriever's IDF). No words marked: 0, 0.
 */
export function windowFocus(
  q: TokenMatrix,
  doc: TokenMatrix,
  windowText: string,
  dim: number,
  weightOf: (word: string) => number,
  best?: Float64Array,
): FocusScores {
  const texts = q.wordTexts;
  if (!texts?.length) return { focus: 0, gap: 0 };
  const stems = new Set(words(windowText).map(stemOf));
  const similarities = wordSimilarities(q, doc, dim, best);
  return focusOf(
    similarities,
    texts.map((w) => stems.has(stemOf(w))),
    texts.map((w) => weightOf(w)),
  );
}

/**
 * A word's weight by its rarity in English (SIF, Arora et al. 2017: a / (a + p(w))), with p(w)
 * from its frequency rank under Zipf's law. "many", "get", "city" weigh little, "fans", "dividend"
 * much; a word English does not know (a name, a coined word) weighs 1. `rank` undefined: unknown.
 */
export function rarityWeight(rank: number | undefined, vocabularySize: number, a: number): number {
  if (rank === undefined) return 1;
  const p = 1 / (rank * Math.log(vocabularySize));
  return a / (a + p);
}
