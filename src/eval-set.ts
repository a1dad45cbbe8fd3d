// Checks an evaluation file (one question per line, format in the project's DESIGN.md, "Contracts", and the README)
// against the corpus it is about: every line well formed, ids and questions unique, negatives
// without answers, and every answer an exact substring of its source article after the scoring
// normalization — so a typo in a set shows up as an error here, not as a silent miss in a score.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { loadCorpus } from "./corpus/load.js";
import { splitSentences } from "./corpus/split.js";

export const KINDS = ["lexical", "paraphrase", "multi", "entity", "negative"] as const;

/** NFKC, curly quotes to straight, whitespace collapsed, case folded (the hit rule's normalization). */
export const normalize = (s: string) =>
  s
    .normalize("NFKC")
    .replace(/[\u2018\u2019\u201b\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201f\u2033]/g, '"')
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();

/** "both" (or "any") means the answers may come from any article of the corpus. */
const ANY_SOURCE = new Set(["both", "any"]);

const lineSchema = z.strictObject({
  id: z.string().trim().min(1, "id is empty"),
  question: z.string().trim().min(1, "question is empty").max(2000, "question is over 2,000 characters"),
  answers: z.array(z.string().refine((a) => normalize(a).length > 0, "an answer is empty")),
  source: z.string().min(1).nullable(),
  kind: z.enum(KINDS),
  /** Follow-up sets (followups-qa.jsonl): the question asked just before, which `question` follows. */
  previous: z.string().trim().min(1, "previous is empty").max(2000, "previous is over 2,000 characters").optional(),
});
export type EvalLine = z.infer<typeof lineSchema>;

export interface EvalSetReport {
  file: string;
  questions: EvalLine[];
  /** Problems that make the set wrong: each is "line N (id): message". */
  errors: string[];
  /** Answers that cross a sentence boundary: findable only in a hit's context, worth a look. */
  warnings: string[];
  byKind: Record<string, number>;
}

export async function checkEvalSet(file: string, corpusDir: string): Promise<EvalSetReport> {
  const corpus = await loadCorpus(corpusDir);
  const articles = new Map(corpus.articles.map((a) => [a.file, { text: normalize(a.text), sentences: splitSentences(a.text).map((s) => normalize(s.text)) }]));
  const errors: string[] = [];
  const warnings: string[] = [];
  const questions: EvalLine[] = [];
  const ids = new Map<string, number>();
  const asked = new Map<string, number>();

  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    const n = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      errors.push(`line ${n}: not valid JSON (${(err as Error).message})`);
      return;
    }
    const parsed = lineSchema.safeParse(json);
    if (!parsed.success) {
      const where = typeof (json as { id?: unknown })?.id === "string" ? ` (${(json as { id: string }).id})` : "";
      for (const issue of parsed.error.issues) errors.push(`line ${n}${where}: ${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
      return;
    }
    const q = parsed.data;
    questions.push(q);
    const at = `line ${n} (${q.id})`;
    const fail = (msg: string) => errors.push(`${at}: ${msg}`);

    if (ids.has(q.id)) fail(`id repeats line ${ids.get(q.id)}`);
    else ids.set(q.id, n);
    const key = normalize(q.question);
    if (asked.has(key)) fail(`same question as line ${asked.get(key)}`);
    else asked.set(key, n);

    if (q.kind === "negative") {
      if (q.answers.length) fail("a negative question must have no answers");
    } else if (!q.answers.length) {
      fail(`a ${q.kind} question needs at least one answer`);
    } else if (q.kind === "multi" && q.answers.length < 2) {
      fail("a multi question needs answers from at least two sentences");
    }

    if (q.source !== null && !ANY_SOURCE.has(q.source) && !articles.has(q.source)) {
      fail(`source "${q.source}" is not an article of ${corpusDir} (articles: ${[...articles.keys()].join(", ")})`);
      return;
    }
    if (q.kind !== "negative" && q.source === null) fail('an answerable question needs a source (an article file, or "both")');
    const candidates = q.source !== null && articles.has(q.source) ? [q.source] : [...articles.keys()];
    for (const answer of q.answers) {
      const a = normalize(answer);
      const inArticles = candidates.filter((c) => articles.get(c)!.text.includes(a));
      if (!inArticles.length) {
        fail(`answer not found in ${candidates.length === 1 ? candidates[0] : "any article"}: "${answer}"`);
        continue;
      }
      if (!inArticles.some((c) => articles.get(c)!.sentences.some((s) => s.includes(a)))) {
        warnings.push(`${at}: answer crosses a sentence boundary: "${answer}"`);
      }
    }
  });

  if (!questions.length && !errors.length) errors.push("the file holds no questions");
  const byKind: Record<string, number> = {};
  for (const q of questions) byKind[q.kind] = (byKind[q.kind] ?? 0) + 1;
  return { file, questions, errors, warnings, byKind };
}
