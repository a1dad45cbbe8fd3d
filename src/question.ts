// What counts as a question: cleaned of invisible and control characters, not empty, not huge.

export const MAX_QUESTION_CHARS = 1000;

export class QuestionError extends Error {}

/** The question as the retriever should see it, or a QuestionError with a message for the user. */
export function cleanQuestion(raw: string): string {
  const cleaned = raw
    .normalize("NFKC")
    // Zero-width, bidi-override and other format characters, and control characters (NUL included).
    .replace(/[\p{Cf}\p{Cc}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!/[\p{L}\p{N}]/u.test(cleaned)) throw new QuestionError("Please ask a question in words, e.g. “What did Antonov say about cybersecurity?”");
  if (cleaned.length > MAX_QUESTION_CHARS) {
    throw new QuestionError(`That question is ${cleaned.length} characters long; please keep it under ${MAX_QUESTION_CHARS} and ask one thing at a time.`);
  }
  return cleaned;
}
