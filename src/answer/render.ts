// Render stage for the terminal: readable text with numbered citations, and the JSON contract.
import type { Answer, ArticleRef, Hit } from "../types.js";

/** "Title — Publisher, 2021-07-08" */
export function citation(article: ArticleRef): string {
  const by = [article.source, article.date].filter(Boolean).join(", ");
  return by ? `${article.title} — ${by}` : article.title;
}

/** Where in the article: "sentence 4 of 15" or "sentences 4–5 of 15". */
export function position(hit: Hit): string {
  const { first, last, total } = hit.position;
  return first === last ? `sentence ${first + 1} of ${total}` : `sentences ${first + 1}–${last + 1} of ${total}`;
}

/** How a terminal shows the parts of an answer (ANSI styles); the default adds nothing (pipes, files, NO_COLOR). */
export interface TextStyle {
  /** The matched sentence(s) inside their excerpt. */
  match(text: string): string;
  /** The citation line under an excerpt. */
  cite(text: string): string;
}

export const PLAIN: TextStyle = { match: (t) => t, cite: (t) => t };

/** The excerpt with its matched sentence(s) styled (hit.highlights are ranges in hit.context). */
export function highlighted(hit: Hit, style: TextStyle): string {
  let out = "";
  let at = 0;
  for (const { start, end } of [...hit.highlights].sort((a, b) => a.start - b.start)) {
    if (start < at || end <= start) continue;
    out += hit.context.slice(at, start) + style.match(hit.context.slice(start, end));
    at = end;
  }
  return out + hit.context.slice(at);
}

export function renderText(answer: Answer, style: TextStyle = PLAIN): string {
  const lines: string[] = [];
  if (!answer.answered) {
    lines.push("The articles don't cover this.");
    if (answer.hits.length) lines.push("", "Related passages (not an answer):");
  }
  for (const hit of answer.hits) {
    lines.push("", `[${hit.rank}] ${highlighted(hit, style)}`);
    lines.push(style.cite(`    — ${citation(hit.article)} (${position(hit)})${hit.article.url ? ` ${hit.article.url}` : ""}`));
  }
  if (answer.answered && answer.hits.length === 0) lines.push("No passages found.");
  return lines.join("\n").replace(/^\n/, "");
}

/** The JSON contract (README, "JSON output"). */
export function toJson(answer: Answer): object {
  return {
    question: answer.question,
    answered: answer.answered,
    hits: answer.hits.map((h) => ({
      rank: h.rank,
      text: h.text,
      context: h.context,
      score: h.score,
      article: { id: h.article.id, title: h.article.title, file: h.article.file, url: h.article.url ?? null, date: h.article.date ?? null },
    })),
  };
}
