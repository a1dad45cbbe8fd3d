// Retrieval evaluation: hit@1, hit@3, MRR@5 over answerable questions (overall and per kind), and
// abstention on negative and answerable questions. Scoring rules: the project's DESIGN.md.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { Citebot } from "./citebot.js";
import { PROJECT_ROOT } from "./embed/embedder.js";
import { normalize } from "./eval-set.js";
import { questionInContext } from "./followup.js";
import type { RetrievalMode, RetrieverSettings } from "./search/retriever.js";
import type { Answer } from "./types.js";

const questionSchema = z.object({
  id: z.string(),
  question: z.string(),
  answers: z.array(z.string()),
  source: z.string().nullable().optional(),
  kind: z.string(),
  /** Follow-up sets: the question asked just before this one. */
  previous: z.string().optional(),
});
export type EvalQuestion = z.infer<typeof questionSchema>;

export function readQuestions(file: string): EvalQuestion[] {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim());
  return lines.map((line, i) => {
    const parsed = questionSchema.safeParse(JSON.parse(line));
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  });
}

/**
 * The question sets under test/eval and the corpus each is about. Leave-one-set-out fitting
 * (scripts/fit-abstain.ts) and `npm run eval` without a file use them all.
 */
export const EVAL_SETS: Array<{ name: string; file: string; corpus: string }> = [
  ["dev", "corpus"],
  ["extra", "corpus"],
  ["holdout", "corpus"],
  ["chat", "corpus"],
  ["fixtures", "test/fixtures/extra-corpus"],
  ["kinds", "test/fixtures/kinds-corpus"],
  ["news", "test/fixtures/news-corpus"],
  ["world", "test/fixtures/world-corpus"],
  ["fresh", "test/fixtures/fresh-corpus"],
].map(([name, corpus]) => ({ name: name!, file: path.join(PROJECT_ROOT, "test/eval", `${name}-qa.jsonl`), corpus: path.join(PROJECT_ROOT, corpus!) }));

// One normalization for scoring and for checking sets (src/eval-set.ts).
export { normalize };

/** 1-based rank of the first correct hit, or 0. */
export function firstCorrectRank(answer: Answer, expected: string[]): number {
  const wanted = expected.map(normalize);
  const hit = answer.hits.find((h) => {
    const text = normalize(h.text);
    const context = h.context.length <= 600 ? normalize(h.context) : "";
    return wanted.some((w) => text.includes(w) || context.includes(w));
  });
  return hit ? hit.rank : 0;
}

export interface Figures {
  answerable: number;
  negatives: number;
  hit1: number;
  hit3: number;
  mrr5: number;
  byKind: Record<string, { n: number; hit1: number; hit3: number; mrr5: number }>;
  abstainOnNegatives: number;
  wrongAbstain: number;
  details: Array<{ id: string; kind: string; rank: number; answered: boolean; evidence?: unknown }>;
}

export async function evaluate(bot: Pick<Citebot, "answer">, questions: EvalQuestion[]): Promise<Figures> {
  const details: Figures["details"] = [];
  for (const q of questions) {
    const answer = await bot.answer(q.question, { limit: 5 });
    details.push({
      id: q.id,
      kind: q.kind,
      rank: q.answers.length ? firstCorrectRank(answer, q.answers) : 0,
      answered: answer.answered,
      evidence: answer.evidence,
    });
  }
  return summarize(details);
}

/** Figures from per-question results (one set, or several pooled). */
function summarize(details: Figures["details"]): Figures {
  const answerable = details.filter((d) => d.kind !== "negative");
  const negatives = details.filter((d) => d.kind === "negative");
  const score = (ds: typeof details) => ({
    n: ds.length,
    hit1: mean(ds.map((d) => (d.rank === 1 ? 1 : 0))),
    hit3: mean(ds.map((d) => (d.rank >= 1 && d.rank <= 3 ? 1 : 0))),
    mrr5: mean(ds.map((d) => (d.rank >= 1 && d.rank <= 5 ? 1 / d.rank : 0))),
  });
  const byKind: Figures["byKind"] = {};
  for (const kind of [...new Set(answerable.map((d) => d.kind))].sort()) byKind[kind] = score(answerable.filter((d) => d.kind === kind));
  const all = score(answerable);
  return {
    answerable: answerable.length,
    negatives: negatives.length,
    hit1: all.hit1,
    hit3: all.hit3,
    mrr5: all.mrr5,
    byKind,
    abstainOnNegatives: mean(negatives.map((d) => (d.answered ? 0 : 1))),
    wrongAbstain: mean(answerable.map((d) => (d.answered ? 0 : 1))),
    details,
  };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const f3 = (x: number) => x.toFixed(3);

export function table(rows: Array<[string, Figures]>): string {
  const kinds = [...new Set(rows.flatMap(([, f]) => Object.keys(f.byKind)))];
  const head = ["configuration", "hit@1", "hit@3", "MRR@5", ...kinds.map((k) => `${k} hit@3`), "abstain neg", "abstain ans"];
  const body = rows.map(([name, f]) => [
    name,
    f3(f.hit1),
    f3(f.hit3),
    f3(f.mrr5),
    ...kinds.map((k) => (f.byKind[k] ? f3(f.byKind[k]!.hit3) : "-")),
    f3(f.abstainOnNegatives),
    f3(f.wrongAbstain),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/**
 * How each follow-up is posed to the retriever: alone (as if there were no conversation), with the
 * earlier question pasted before it (the naive way), and as the bot reads it (src/followup.ts).
 */
export const FOLLOW_UP_READINGS: Record<string, (q: EvalQuestion) => string> = {
  "follow-up alone": (q) => q.question,
  "previous + follow-up": (q) => (q.previous ? `${q.previous} ${q.question}` : q.question),
  "in context (shipped)": (q) => questionInContext(q.previous, q.question).question,
};

/** `eval --followups`: the same follow-up questions under each reading, side by side, and by follow-up style. */
async function runFollowUpEval(file: string, questions: EvalQuestion[], base: Citebot, opts: { json?: boolean; details?: boolean }): Promise<boolean> {
  const missing = questions.filter((q) => !q.previous);
  if (missing.length) {
    console.error(`${file}: --followups needs a "previous" question on every line (missing on ${missing.map((q) => q.id).join(", ")}).`);
    return false;
  }
  const rows: Array<[string, Figures]> = [];
  for (const [name, read] of Object.entries(FOLLOW_UP_READINGS))
    rows.push([
      name,
      await evaluate(
        base,
        questions.map((q) => ({ ...q, question: read(q) })),
      ),
    ]);
  // The style is the id's middle part (fu-topic-01 → topic): elliptical, back-reference, short, self-contained, topic switch.
  const styleOf = (id: string) => /^[^-]+-([^-]+)-/.exec(id)?.[1] ?? "other";
  const styles = [...new Set(questions.map((q) => styleOf(q.id)))];
  const byStyle = rows.map(
    ([name, f]) =>
      [
        name,
        Object.fromEntries(
          styles.map((st) => {
            const ds = f.details.filter((d) => styleOf(d.id) === st);
            return [st, { n: ds.length, hit1: mean(ds.map((d) => (d.rank === 1 ? 1 : 0))), hit3: mean(ds.map((d) => (d.rank >= 1 && d.rank <= 3 ? 1 : 0))) }];
          }),
        ),
      ] as const,
  );
  if (opts.json) {
    console.log(
      JSON.stringify(
        { readings: Object.fromEntries(rows.map(([n, f]) => [n, opts.details ? f : { ...f, details: undefined }])), byStyle: Object.fromEntries(byStyle) },
        null,
        2,
      ),
    );
    return true;
  }
  console.log(`${questions.length} follow-up questions from ${file}, each read three ways\n`);
  console.log(table(rows));
  const head = ["reading", ...styles.map((st) => `${st} (n=${questions.filter((q) => styleOf(q.id) === st).length}) hit@1/hit@3`)];
  const body = byStyle.map(([name, s]) => [name, ...styles.map((st) => `${f3(s[st]!.hit1)} / ${f3(s[st]!.hit3)}`)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\nBy follow-up style:\n${[line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n")}`);
  if (opts.details) {
    for (const q of questions) {
      const ranks = rows.map(([name, f]) => `${name}: ${f.details.find((d) => d.id === q.id)!.rank}`).join(", ");
      console.log(
        `\n${q.id}  previous: ${q.previous}\n  follow-up: ${q.question}\n  read as:   ${questionInContext(q.previous, q.question).question}\n  rank (0 = miss) ${ranks}`,
      );
    }
  }
  return true;
}

/** Figures over several sets' questions together (each question counts once). */
export function pooled(fs: Figures[]): Figures {
  return summarize(fs.flatMap((f) => f.details));
}

export interface EvalOptions {
  json?: boolean;
  /** Compare keyword-only, dense-only and hybrid; a model name adds that model's hybrid (e.g. glove-sif-100d). */
  compare?: boolean | string;
  details?: boolean;
  corpus?: string;
  mode?: string;
  /** The model to evaluate (default: EMBED_MODEL or the shipped default). */
  model?: string;
  /** The file holds follow-ups (a "previous" field): score each read alone, pasted after the previous one, and in context. */
  followups?: boolean;
}

/**
 * Scores one question file (on --corpus or the configured corpus), or without a file every set
 * under test/eval on its own corpus, with a table per set and one over all of them.
 */
export async function runEval(file: string | undefined, opts: EvalOptions): Promise<boolean> {
  if (opts.followups) {
    if (!file) {
      console.error("--followups needs a file of follow-up questions, e.g. test/eval/followups-qa.jsonl.");
      return false;
    }
    return runFollowUpEval(file, readQuestions(file), await Citebot.open({ corpusDir: opts.corpus, model: opts.model }), opts);
  }
  const sets = file ? [{ name: path.basename(file), file, corpus: opts.corpus }] : EVAL_SETS;
  const configs: Array<[string, Partial<RetrieverSettings>]> = opts.compare
    ? [
        ["hybrid", { mode: "hybrid" }],
        ["keyword-only", { mode: "keyword" }],
        ["dense-only", { mode: "dense" }],
      ]
    : [[opts.mode ?? "hybrid", { mode: (opts.mode ?? "hybrid") as RetrievalMode }]];
  const other = typeof opts.compare === "string" ? opts.compare : undefined;
  const bots = new Map<string, Citebot>();
  const open = async (corpus: string | undefined, model?: string) => {
    const key = `${corpus}\0${model ?? ""}`;
    let bot = bots.get(key);
    if (!bot) {
      // Another model's index goes to a temporary folder, so the corpus's own index stays as it is.
      const dataDir = model ? mkdtempSync(path.join(tmpdir(), "citebot-eval-")) : undefined;
      bot = await Citebot.open({ corpusDir: corpus, dataDir, model: model ?? opts.model });
      bots.set(key, bot);
    }
    return bot;
  };
  const results: Array<{ set: string; questions: number; rows: Array<[string, Figures]> }> = [];
  for (const set of sets) {
    const questions = readQuestions(set.file);
    const base = await open(set.corpus);
    const rows: Array<[string, Figures]> = [];
    const label = (name: string) => (opts.compare ? `${name} (${base.embedder.modelId})` : name);
    for (const [name, settings] of configs) rows.push([label(name), await evaluate(base.withSettings(settings), questions)]);
    if (other) rows.push([`hybrid (${other})`, await evaluate(await open(set.corpus, other), questions)]);
    results.push({ set: set.name, questions: questions.length, rows });
  }
  if (sets.length > 1) {
    const names = results[0]!.rows.map(([n]) => n);
    const total = results.reduce((s, r) => s + r.questions, 0);
    results.push({ set: "all sets", questions: total, rows: names.map((n, i) => [n, pooled(results.map((r) => r.rows[i]![1]))]) });
  }
  if (opts.json) {
    const out = Object.fromEntries(
      results.map((r) => [r.set, Object.fromEntries(r.rows.map(([n, f]) => [n, opts.details ? f : { ...f, details: undefined }]))]),
    );
    console.log(JSON.stringify(file ? out[sets[0]!.name] : out, null, 2));
    return true;
  }
  for (const r of results) {
    const f = r.rows[0]![1];
    console.log(`${r.set}: ${r.questions} questions (${f.answerable} answerable, ${f.negatives} negative)\n`);
    console.log(table(r.rows));
    console.log("");
    if (opts.details && r.set !== "all sets") {
      for (const [name, fig] of r.rows) {
        console.log(`${name}:`);
        for (const d of fig.details) console.log(`  ${d.id} ${d.kind.padEnd(10)} rank=${d.rank} answered=${d.answered} ${JSON.stringify(d.evidence)}`);
      }
    }
  }
  return true;
}
