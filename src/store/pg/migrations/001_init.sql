-- citebot's index in PostgreSQL (src/store/pg/). Plain PostgreSQL ≥ 11 syntax (INCLUDE, jsonb) and
-- pgvector's `vector` type; the embedding column gets its dimension (and the HNSW index) when a
-- whole index is written, because the model decides it.

-- The current version of the index: one row, absent until the first write.
CREATE TABLE meta (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version text NOT NULL,
  model text NOT NULL,
  dimensions integer NOT NULL,
  settings_hash text NOT NULL,
  created_at timestamptz NOT NULL,
  -- The next passage label: labels are never reused, not even across a replace, so an id kept
  -- from an older version is detected instead of naming some other passage.
  next_label bigint NOT NULL,
  next_article bigint NOT NULL,
  -- BM25 statistics over the live passages: N and the sum of their lengths (for avgdl).
  passages bigint NOT NULL,
  total_length bigint NOT NULL,
  articles bigint NOT NULL
);

CREATE TABLE articles (
  id text PRIMARY KEY,
  -- Order articles() returns them in: the order they were written.
  ord bigint NOT NULL,
  hash text NOT NULL,
  -- title, file and the optional date, source, url, byline.
  metadata jsonb NOT NULL,
  body text NOT NULL
);

CREATE TABLE passages (
  label bigint PRIMARY KEY,
  -- No foreign key: writes delete an article's passages themselves, and a bulk load skips a
  -- trigger call per row.
  article_id text NOT NULL,
  n integer NOT NULL,
  start_offset integer NOT NULL,
  end_offset integer NOT NULL,
  body text NOT NULL,
  -- Number of analysed terms (BM25's |d|).
  length integer NOT NULL,
  embedding vector NOT NULL
);
CREATE INDEX passages_article ON passages (article_id, n);

-- The keyword side: an inverted index of our own analyzer's stems (src/search/postings/analyze.ts),
-- so BM25 in SQL scores exactly the terms the embedded engine does. `length` is copied from the
-- passage so that scoring a term is one index-only range scan, with no join.
CREATE TABLE postings (
  term text NOT NULL,
  label bigint NOT NULL,
  tf integer NOT NULL,
  length integer NOT NULL,
  PRIMARY KEY (term, label) INCLUDE (tf, length)
);
CREATE INDEX postings_label ON postings (label);

-- Document frequency of every live term (kept up to date by every write).
CREATE TABLE terms (
  term text PRIMARY KEY,
  df integer NOT NULL CHECK (df >= 0)
);
