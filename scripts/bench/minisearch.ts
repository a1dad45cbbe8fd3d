// minisearch as the keyword engine was before the store's postings engine (src/search/postings):
// the baseline the keyword benches compare with. Same analysis (words, stop words, Porter2 stems),
// fuzzy matching for terms of 5+ characters, OR semantics. Not used by citebot itself.
import MiniSearch, { type SearchResult } from "minisearch";
import { isStopWord, type KeywordHit, stemOf, terms, words } from "../../src/search/keyword.js";

export class KeywordIndex {
  private constructor(private readonly search: MiniSearch<{ id: number; text: string }>) {}

  private static options() {
    return {
      fields: ["text"],
      idField: "id",
      tokenize: (text: string) => words(text),
      processTerm: (term: string) => (isStopWord(term) ? null : stemOf(term)),
      searchOptions: { fuzzy: (term: string) => (term.length >= 5 ? 0.2 : false), prefix: false, combineWith: "OR" as const },
    };
  }

  static build(texts: string[]): KeywordIndex {
    const ms = new MiniSearch<{ id: number; text: string }>(KeywordIndex.options());
    ms.addAll(texts.map((text, id) => ({ id, text })));
    return new KeywordIndex(ms);
  }

  static fromJSON(json: string): KeywordIndex {
    return new KeywordIndex(MiniSearch.loadJSON(json, KeywordIndex.options()));
  }

  toJSON(): string {
    return JSON.stringify(this.search);
  }

  query(question: string, limit: number): { hits: KeywordHit[]; queryTerms: number } {
    const queryTerms = new Set(terms(question)).size;
    if (queryTerms === 0) return { hits: [], queryTerms };
    const results: SearchResult[] = this.search.search(question);
    const hits = results.slice(0, limit).map((r) => ({ index: r.id as number, score: r.score, matched: new Set(r.queryTerms).size }));
    return { hits, queryTerms };
  }
}
