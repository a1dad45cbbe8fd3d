// Contracts between the pipeline stages (see the project's DESIGN.md).

/** One article of the corpus, as loaded from a file. */
export interface Article {
  /** Stable id: the file name without extension. */
  id: string;
  title: string;
  /** ISO date (YYYY-MM-DD) when the article states one. */
  date?: string;
  /** Publisher or agency, when the article states it. */
  source?: string;
  url?: string;
  /** The author line ("Priya Raman"), when the article states one; never part of `text`. */
  byline?: string;
  /** Path relative to the corpus folder (control characters shown as pictures). */
  file: string;
  /** Body text (furniture and the repeated title removed). */
  text: string;
}

/** One sentence of an article, with its character offsets in `Article.text`. */
export interface Passage {
  /** "<articleId>#<n>" */
  id: string;
  articleId: string;
  /** 0-based position of the sentence in its article. */
  n: number;
  text: string;
  start: number;
  end: number;
}

/** What a citation shows of an article. */
export interface ArticleRef {
  id: string;
  title: string;
  file: string;
  url?: string;
  date?: string;
  source?: string;
}

/** One cited excerpt. */
export interface Hit {
  /** 1-based rank in the answer. */
  rank: number;
  /** The matched sentence(s), exactly as in the article (whitespace collapsed). */
  text: string;
  /** The excerpt shown: `text` plus neighbouring sentences, at most 600 characters. */
  context: string;
  /** Character ranges of the matched sentence(s) inside `context`, for highlighting. */
  highlights: Array<{ start: number; end: number }>;
  /** Relevance score in [0, 1] (higher is better). */
  score: number;
  article: ArticleRef;
  /** Passage ids the matched text spans (the excerpt's own sentences). */
  passageIds: string[];
  /** Sentence positions (0-based) of the excerpt in its article, and the article's sentence count. */
  position: { first: number; last: number; total: number };
}

export interface Answer {
  question: string;
  /** False when the corpus has no passage relevant enough: `hits` are then only "related". */
  answered: boolean;
  hits: Hit[];
  /** True when more results exist past these (for paging). */
  more: boolean;
}

export interface AnswerOptions {
  /** How many excerpts (default 3). */
  limit?: number;
  /** Skip this many excerpts (paging: "More"). */
  offset?: number;
}
