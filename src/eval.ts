// Retrieval evaluation: hit@1, hit@3, MRR@5 over answerable questions (overall and per kind), and
// abstention on negative and answerable questions. Scoring rules: the project's DESIGN.md.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { Citebot } from "./citebot.js";
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
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim());
  return lines.map((line, i) => {
    const parsed = questionSchema.safeParse(JSON.parse(line));
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  });
}

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

export async function evaluate(bot: Citebot, questions: EvalQuestion[]): Promise<Figures> {
  const details: Figures["details"] = [];
  for (const q of questions) {
    const answer = await bot.answer(q.question, { limit: 5 });
    details.push({ id: q.id, kind: q.kind, rank: q.answers.length ? firstCorrectRank(answer, q.answers) : 0, answered: answer.answered, evidence: answer.evidence });
  }
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

export const CONFIGURATIONS: Record<string, Partial<RetrieverSettings>> = {
  "keyword-only": { mode: "keyword" },
  "dense-only": { mode: "dense" },
  "hybrid (shipped)": { mode: "hybrid" },
};

export function table(rows: Array<[string, Figures]>): string {
  const kinds = [...new Set(rows.flatMap(([, f]) => Object.keys(f.byKind)))];
  const head = ["configuration", "hit@1", "hit@3", "MRR@5", ...kinds.map((k) => `${k} hit@3`), "abstain neg", "abstain ans"];
  const body = rows.map(([name, f]) => [name, f3(f.hit1), f3(f.hit3), f3(f.mrr5), ...kinds.map((k) => (f.byKind[k] ? f3(f.byKind[k]!.hit3) : "-")), f3(f.abstainOnNegatives), f3(f.wrongAbstain)]);
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
  for (const [name, read] of Object.entries(FOLLOW_UP_READINGS)) rows.push([name, await evaluate(base, questions.map((q) => ({ ...q, question: read(q) })))]);
  // The style is the id's middle part (fu-topic-01 → topic): elliptical, back-reference, short, self-contained, topic switch.
  const styleOf = (id: string) => /^[^-]+-([^-]+)-/.exec(id)?.[1] ?? "other";
  const styles = [...new Set(questions.map((q) => styleOf(q.id)))];
  const byStyle = rows.map(([name, f]) => [
    name,
    Object.fromEntries(styles.map((st) => {
      const ds = f.details.filter((d) => styleOf(d.id) === st);
      return [st, { n: ds.length, hit1: mean(ds.map((d) => (d.rank === 1 ? 1 : 0))), hit3: mean(ds.map((d) => (d.rank >= 1 && d.rank <= 3 ? 1 : 0))) }];
    })),
  ] as const);
  if (opts.json) {
    console.log(JSON.stringify({ readings: Object.fromEntries(rows.map(([n, f]) => [n, opts.details ? f : { ...f, details: undefined }])), byStyle: Object.fromEntries(byStyle) }, null, 2));
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
      console.log(`\n${q.id}  previous: ${q.previous}\n  follow-up: ${q.question}\n  read as:   ${questionInContext(q.previous, q.question).question}\n  rank (0 = miss) ${ranks}`);
    }
  }
  return true;
}

export async function runEval(
  file: string,
  opts: { json?: boolean; compare?: boolean; details?: boolean; corpus?: string; mode?: string; followups?: boolean },
): Promise<boolean> {
  const questions = readQuestions(file);
  if (opts.followups) return runFollowUpEval(file, questions, await Citebot.open({ corpusDir: opts.corpus }), opts);
  const base = await Citebot.open({ corpusDir: opts.corpus });
  const configs: Array<[string, Partial<RetrieverSettings>]> = opts.compare
    ? Object.entries(CONFIGURATIONS)
    : [[opts.mode ?? "hybrid", { mode: (opts.mode ?? "hybrid") as RetrievalMode }]];
  const rows: Array<[string, Figures]> = [];
  for (const [name, settings] of configs) rows.push([name, await evaluate(base.withSettings(settings), questions)]);
  if (opts.json) {
    console.log(JSON.stringify(Object.fromEntries(rows.map(([n, f]) => [n, opts.details ? f : { ...f, details: undefined }])), null, 2));
  } else {
    console.log(`${questions.length} questions (${rows[0]![1].answerable} answerable, ${rows[0]![1].negatives} negative) from ${file}\n`);
    console.log(table(rows));
    if (opts.details) {
      for (const [name, f] of rows) {
        console.log(`\n${name}:`);
        for (const d of f.details) console.log(`  ${d.id} ${d.kind.padEnd(10)} rank=${d.rank} answered=${d.answered} ${JSON.stringify(d.evidence)}`);
      }
    }
  }
  return true;
}
