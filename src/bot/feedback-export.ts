// `citebot feedback --export file.jsonl`: the voted answers as evaluation questions (the format of
// test/eval/*.jsonl, { id, question, answers, source, kind }), so `citebot eval file.jsonl` checks
// that what users approved keeps being found.
//
// What a vote can and can't say:
// - 👍 on an answer the articles cover: the top excerpt was right. answers = [its matched sentence(s)],
//   source = its article file; kind "lexical" when most of the question's words are in that sentence,
//   else "paraphrase" (the sets' meaning of the two kinds).
// - 👍 on "the articles don't cover this": the abstention was right → kind "negative", answers [].
// - 👎: something was wrong, but not what the right answer is (a better excerpt? no answer at all?).
//   Such a line can't be scored honestly, so 👎 lines go to a second file, FILE.review.jsonl, as
//   drafts in the same format (kind "negative", answers []) with the excerpts that were shown
//   (`shown`) and a `review` note. A person fills `answers` (and the kind) or confirms the negative,
//   deletes the two extra fields, and moves the line into a set.
// One line per question (the latest vote wins when a question was voted more than once).
import { writeFileSync } from "node:fs";
import { normalize } from "../eval-set.js";
import type { VotedAnswer } from "./feedback.js";

export interface EvalLine {
  id: string;
  question: string;
  answers: string[];
  source: string | null;
  kind: "lexical" | "paraphrase" | "negative";
}

export interface ReviewLine extends EvalLine {
  review: string;
  answered: boolean;
  shown: Array<{ rank: number; file: string; text: string }>;
}

export interface ExportResult {
  scored: EvalLine[];
  review: ReviewLine[];
}

const STOP = new Set(
  "the a an and or of to in on at for by with from is are was were be been what who whom which when where why how did does do about that this these those it its as into than then there their they he she his her we you i not no".split(
    " ",
  ),
);

function words(s: string): string[] {
  return (normalize(s).match(/\p{L}[\p{L}\p{N}'-]*/gu) ?? []).filter((w) => w.length > 2 && !STOP.has(w));
}

/** "lexical" when at least half of the question's content words appear in the answer, else "paraphrase". */
export function kindOf(question: string, answer: string): "lexical" | "paraphrase" {
  const q = [...new Set(words(question))];
  if (!q.length) return "paraphrase";
  const a = new Set(words(answer));
  return q.filter((w) => a.has(w)).length / q.length >= 0.5 ? "lexical" : "paraphrase";
}

export function toEvalLines(voted: VotedAnswer[]): ExportResult {
  // The latest vote per question.
  const latest = new Map<string, VotedAnswer>();
  for (const v of voted) {
    const k = normalize(v.question);
    const prev = latest.get(k);
    if (!prev || v.votedAt >= prev.votedAt) latest.set(k, v);
  }
  const scored: EvalLine[] = [];
  const review: ReviewLine[] = [];
  for (const v of latest.values()) {
    const id = `feedback-${v.key.slice(0, 10)}`;
    const top = [...v.excerpts].sort((a, b) => a.rank - b.rank)[0];
    if (v.vote === "up" && v.answered && top) {
      scored.push({ id, question: v.question, answers: [top.text], source: top.file, kind: kindOf(v.question, top.text) });
    } else if (v.vote === "up" && !v.answered) {
      scored.push({ id, question: v.question, answers: [], source: null, kind: "negative" });
    } else if (v.vote === "down") {
      review.push({
        id,
        question: v.question,
        answers: [],
        source: null,
        kind: "negative",
        review: v.answered
          ? "👎 on an answer: fill answers with the right sentence (and source, kind), or keep it negative if the articles don't answer it"
          : "👎 on 'the articles don't cover this': fill answers if they do (the shown passages may help), else keep it negative",
        answered: v.answered,
        shown: v.excerpts.map((e) => ({ rank: e.rank, file: e.file, text: e.text })),
      });
    }
  }
  return { scored, review };
}

/** Writes FILE (scorable lines) and, when there are 👎, FILE.review.jsonl; returns what was written. */
export function writeExport(file: string, voted: VotedAnswer[]): ExportResult & { reviewFile?: string } {
  const result = toEvalLines(voted);
  const jsonl = (lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join("");
  writeFileSync(file, jsonl(result.scored));
  if (!result.review.length) return result;
  const reviewFile = `${file.replace(/\.jsonl$/i, "")}.review.jsonl`;
  writeFileSync(reviewFile, jsonl(result.review));
  return { ...result, reviewFile };
}
