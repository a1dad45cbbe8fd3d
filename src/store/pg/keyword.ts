// BM25 keyword search in SQL, scored like the embedded engine (src/search/postings/engine.ts):
// the same analyzer (stems are computed here, in JS, on both the write and the query side), the
// same BM25+ (k1 1.2, b 0.75, δ 0.5) with N, df and avgdl over the live passages, coordination
// (score × distinct question terms matched), and the same typo expansion for question terms found
// nowhere. Only the order in which floating-point contributions are summed differs, so scores agree
// to ~1e-12 relative and ranks only differ between exact ties.
//
// Two statements per question: the statistics (N, avgdl, each term's df) in one, the scoring in
// the other; each is one consistent snapshot. (A write committing between the two can shift the
// idf a little for that one question; it never yields an id of a passage that does not exist.)
//
// Scale: each term is one index-only range scan of the postings primary key (term, label) INCLUDE
// (tf, length), and the matching rows are aggregated per passage. To keep a question with a very
// common term cheap, the rare terms go first (MaxScore in SQL): every passage holding a rare term
// is scored exactly, the common terms probed by key (term, label) for those passages only; if the
// k-th score then beats the best any passage holding only common terms could reach, that is the
// exact answer, else the full aggregation runs. See `KEYWORD_PRUNING`.
import type pg from "pg";
import { analyze } from "../../search/postings/analyze.js";
import { compareCodePoints, TermDictionary, termOrder } from "../../search/postings/dictionary.js";
import { BM25, FUZZY, idf } from "../../search/postings/engine.js";
import type { KeywordScored } from "../types.js";

/**
 * When rare terms go first. Pass 1 probes every (candidate, term) pair by key, so it pays only when
 * the candidates are few and the terms it leaves out hold many more postings than that.
 */
export const KEYWORD_PRUNING = {
  /** The rarest terms whose document frequencies add up to at most this are the rare ones… */
  candidateBudget: 2_000,
  /** …and they go first only if the other terms hold at least this many times more postings. */
  minGain: 8,
};

/**
 * How each question was answered (for the bench and the tests): `direct` the full aggregation, with
 * no common term to leave out; `pruned` rare terms first; `fallback` rare terms first fell short
 * (the k-th score did not beat the common terms' bound) and the full aggregation ran after it.
 */
export const keywordPaths = { direct: 0, pruned: 0, fallback: 0 };

interface Spec {
  term: string;
  group: number;
  /** weight × idf. */
  scale: number;
  df: number;
}

const codePoints = (s: string) => [...s].length;

/** Pigeonhole filter: a term within `d` edits of `term` contains one of its d + 1 pieces unchanged. */
function pieces(term: string, d: number): string[] {
  const cps = [...term];
  const out: string[] = [];
  for (let i = 0; i <= d; i++) out.push(cps.slice(Math.floor((i * cps.length) / (d + 1)), Math.floor(((i + 1) * cps.length) / (d + 1))).join(""));
  return out.filter((p) => p.length > 0);
}

/** Dictionary terms within the engine's edit distance of `term` (never `term` itself), nearest first. */
async function expansions(client: Queryable, term: string): Promise<Array<{ term: string; distance: number; df: number }>> {
  const length = codePoints(term);
  const maxDistance = length >= FUZZY.twoEditsFrom ? 2 : 1;
  const ps = pieces(term, maxDistance);
  const { rows } = await client.query<{ term: string; df: number }>(
    `SELECT term, df FROM terms WHERE df > 0 AND char_length(term) BETWEEN $1 AND $2 AND (${ps.map((_, i) => `strpos(term, $${i + 3}) > 0`).join(" OR ")})`,
    [length - maxDistance, length + maxDistance, ...ps],
  );
  if (rows.length === 0) return [];
  const order = termOrder(rows.map((r) => r.term));
  const sorted = order.map((i) => rows[i]!);
  const dictionary = TermDictionary.fromSorted(sorted.map((r) => r.term));
  const found = dictionary
    .fuzzy(term, maxDistance)
    .filter((m) => m.distance > 0)
    .map((m) => ({ term: sorted[m.id]!.term, distance: m.distance, df: sorted[m.id]!.df }));
  found.sort((a, b) => a.distance - b.distance || b.df - a.df || compareCodePoints(a.term, b.term));
  return found.slice(0, FUZZY.maxExpansions);
}

/** The weighted terms `question` stands for, as PostingsIndex.expand makes them (fuzzy "missing"), and the BM25 statistics. */
async function specsOf(client: Queryable, question: string): Promise<{ specs: Spec[]; queryTerms: number; N: number; avgdl: number }> {
  const counts = new Map<string, number>();
  for (const t of analyze(question)) counts.set(t, (counts.get(t) ?? 0) + 1);
  const { rows } = await client.query<{ n: string | null; total: string | null; term: string | null; df: number | null }>(
    `SELECT m.passages AS n, m.total_length AS total, t.term, t.df
     FROM (SELECT 1) one LEFT JOIN meta m ON true LEFT JOIN terms t ON t.term = ANY($1::text[])`,
    [[...counts.keys()]],
  );
  const N = Number(rows[0]?.n ?? 0);
  const avgdl = N > 0 ? Number(rows[0]!.total) / N : 1;
  const dfs = new Map(rows.filter((r) => r.term !== null).map((r) => [r.term!, r.df!]));
  const specs: Spec[] = [];
  let group = 0;
  for (const [term, qtf] of counts) {
    const df = dfs.get(term) ?? 0;
    if (df > 0) specs.push({ term, group, scale: qtf * idf(N, df), df });
    else if (codePoints(term) >= FUZZY.minLength && N > 0) {
      for (const c of await expansions(client, term)) {
        const L = codePoints(c.term);
        specs.push({ term: c.term, group, scale: ((qtf * FUZZY.weight * L) / (L + c.distance)) * idf(N, c.df), df: c.df });
      }
    }
    group++;
  }
  return { specs, queryTerms: counts.size, N, avgdl };
}

/** Per-row BM25+ contribution of a posting (p.tf, p.length) for a term with factor q.scale. */
const contribution = (avgdl: number) => {
  const { k1, b, delta } = BM25;
  return `q.scale * (${delta}::float8 + p.tf * ${k1 + 1}::float8 / (p.tf + ${k1}::float8 * (${1 - b}::float8 + ${b}::float8 * p.length / ${avgdl}::float8)))`;
};

const QUERY_TERMS = "SELECT * FROM unnest($1::text[], $2::float8[], $3::int[]) AS q(term, scale, grp)";

/** A pool or a client. */
export type Queryable = Pick<pg.Pool, "query">;

/** The best `k` passages for `question`, best first (ties: lower label); `articleId` restricts them to one article. */
export async function keywordSearch(
  client: Queryable,
  question: string,
  k: number,
  articleId?: string,
): Promise<{ hits: KeywordScored[]; queryTerms: number }> {
  const { specs, queryTerms, N, avgdl } = await specsOf(client, question);
  const limit = Math.max(0, Math.floor(k));
  if (specs.length === 0 || limit === 0 || N === 0) return { hits: [], queryTerms };
  const bm25 = contribution(avgdl);
  const groupCount = new Set(specs.map((s) => s.group)).size;
  const params = (list: Spec[]) => [list.map((s) => s.term), list.map((s) => s.scale), list.map((s) => s.group)];
  const toHits = (rows: Array<{ label: string; score: number; matched: string }>) =>
    rows.map((r) => ({ id: Number(r.label), score: Number(r.score), matched: Number(r.matched) }));
  const full = async () => {
    const filter = articleId !== undefined ? "JOIN passages ps ON ps.label = p.label AND ps.article_id = $4" : "";
    const { rows } = await client.query(
      `WITH q AS (${QUERY_TERMS})
       SELECT p.label, sum(${bm25}) * count(DISTINCT q.grp) AS score, count(DISTINCT q.grp) AS matched
       FROM q JOIN postings p ON p.term = q.term ${filter}
       GROUP BY p.label ORDER BY score DESC, p.label LIMIT ${limit}`,
      [...params(specs), ...(articleId !== undefined ? [articleId] : [])],
    );
    return toHits(rows);
  };

  // The rarest terms, while their postings fit the candidate budget.
  const byDf = [...specs].sort((a, b) => a.df - b.df);
  let cut = 0;
  let held = 0;
  while (cut < byDf.length && held + byDf[cut]!.df <= KEYWORD_PRUNING.candidateBudget) held += byDf[cut++]!.df;
  const rare = byDf.slice(0, cut);
  const common = byDf.slice(cut);
  const left = common.reduce((a, s) => a + s.df, 0);
  if (articleId !== undefined || rare.length === 0 || common.length === 0 || held < limit || left < KEYWORD_PRUNING.minGain * held) {
    keywordPaths.direct++;
    return { hits: await full(), queryTerms };
  }

  // Pass 1: every passage holding a rare term, scored with all terms, each probed by (term, label).
  const { rows } = await client.query(
    `WITH q AS (${QUERY_TERMS}),
     cand AS (SELECT DISTINCT p.label FROM postings p WHERE p.term = ANY($4::text[]))
     SELECT cand.label, s.score, s.matched FROM cand CROSS JOIN LATERAL (
       SELECT sum(${bm25}) * count(DISTINCT q.grp) AS score, count(DISTINCT q.grp) AS matched
       FROM q JOIN postings p ON p.term = q.term AND p.label = cand.label) s
     ORDER BY s.score DESC, cand.label LIMIT ${limit}`,
    [...params(specs), rare.map((s) => s.term)],
  );
  const hits = toHits(rows);
  // A passage with no rare term: each common term adds at most scale·(δ + k1 + 1), times the groups it can match.
  const commonGroups = new Set(common.map((s) => s.group)).size;
  const bound = common.reduce((a, s) => a + s.scale * (BM25.delta + BM25.k1 + 1), 0) * Math.min(commonGroups, groupCount);
  if (hits.length === limit && hits[limit - 1]!.score > bound * (1 + 1e-9)) {
    keywordPaths.pruned++;
    return { hits, queryTerms };
  }
  keywordPaths.fallback++;
  return { hits: await full(), queryTerms };
}
